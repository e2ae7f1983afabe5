#ifndef TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_H_
#define TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_H_

#include <array>
#include <memory>
#include <string>
#include <thread>

#include "receivers/otlp/otlp_receiver_config.h"
#include "tributary/core/component.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace grpc {
class Server;
}
namespace httplib {
class ContentReader;
struct Request;
struct Response;
class Server;
}  // namespace httplib

namespace tributary::receivers::otlp {

// What became of one export request.
struct Outcome {
  absl::Status status;
  size_t rejected = 0;  // records refused for their content (partial success)
  std::string rejected_message;
};

// OTLP over gRPC and HTTP for traces, metrics and logs. Handler threads
// (gRPC's and the HTTP pool's) decode, hand the batch to the pipeline and wait
// for its acknowledgement before answering, so success means the data is
// delivered downstream (or buffered, once a buffer stands in between).
class OtlpReceiver : public core::Receiver {
 public:
  OtlpReceiver(std::string id, OtlpReceiverConfig config, core::ReceiverConsumers consumers);
  ~OtlpReceiver() override;

  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }

  // Validates, forwards and waits; shared by both transports.
  Outcome Submit(core::Batch batch, const std::string& transport, core::Deadline deadline) noexcept;
  void CountFailedRequest(const std::string& transport, const std::string& reason);
  // False (and counted) when the receiver requires a token and this one is wrong.
  bool Authorized(std::string_view authorization, const std::string& transport);
  const std::string& id() const { return id_; }

 private:
  class GrpcService;
  absl::Status StartGrpc();
  absl::Status StartHttp();
  // One OTLP/HTTP export request: checks, reads (at most max_wire bytes on
  // the wire, max_body decompressed), decodes, submits and answers it.
  void HandleHttp(core::Signal signal, size_t max_body, size_t max_wire,
                  const httplib::Request& req, httplib::Response& res,
                  const httplib::ContentReader& reader);

  const std::string id_;
  const OtlpReceiverConfig config_;
  const core::ReceiverConsumers consumers_;
  std::unique_ptr<common::tls::BearerAuthenticator> auth_;
  std::shared_ptr<common::tls::ServerCertificates> http_certificates_;
  std::unique_ptr<GrpcService> grpc_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<httplib::Server> http_server_;
  std::thread http_thread_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  bool stopped_ = false;
  core::LogLimiter log_limiter_;
  // Accepted-records counters resolved once: [signal][0 = grpc, 1 = http].
  std::array<std::array<prometheus::Counter*, 2>, 3> accepted_;
};

}  // namespace tributary::receivers::otlp

#endif  // TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_H_
