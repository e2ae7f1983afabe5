#ifndef TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_H_
#define TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_H_

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "common/http/server.h"
#include "receivers/otlp/deadline_queue.h"
#include "receivers/otlp/otlp_receiver_config.h"
#include "tributary/core/component.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace grpc {
class Server;
}

namespace tributary::receivers::otlp {

// What became of one export request.
struct Outcome {
  absl::Status status;
  size_t rejected = 0;  // records refused for their content (partial success)
  std::string rejected_message;
};

// OTLP over gRPC and HTTP for traces, metrics and logs. Requests are decoded,
// handed to the pipeline and answered once it acknowledges them, so success
// means the data is delivered downstream (or buffered, once a buffer stands
// in between). An OTLP/HTTP request waiting for its acknowledgement holds no
// thread; a gRPC call holds one of gRPC's.
class OtlpReceiver : public core::Receiver {
 public:
  OtlpReceiver(std::string id, OtlpReceiverConfig config, core::ReceiverConsumers consumers);
  ~OtlpReceiver() override;

  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }

  void CountFailedRequest(const std::string& transport, const std::string& reason);
  // False (and counted) when the receiver requires a token and this one is wrong.
  bool Authorized(std::string_view authorization, const std::string& transport);
  const std::string& id() const { return id_; }

 private:
  class GrpcService;
  struct GrpcCall;
  // A batch checked and bounded, ready for the pipeline (records > 0), or
  // answered already (outcome).
  struct Prepared {
    Outcome outcome;
    core::Consumer* consumer = nullptr;
    size_t records = 0;
  };
  // An OTLP/protobuf request: when the wire check (PassesUnchanged) shows
  // that nothing in it is invalid or over a limit, a batch of its bytes,
  // moved out of `received` and never parsed; else the request parsed.
  absl::StatusOr<core::Batch> DecodeProto(core::Signal signal, std::string* received) const;
  // A batch decoded from objects is checked and bounded; `received`, the
  // request's protobuf bytes, is kept with it when nothing was removed or
  // cut, so that stages that take bytes (the write-ahead buffer, the OTLP
  // exporter) use them as they came. A batch that holds its bytes already
  // passed the wire check.
  Prepared Prepare(core::Batch& batch, const std::string& transport,
                   std::string* received = nullptr);
  // The pipeline of a batch ready to go (with `p` as Prepare left it).
  Prepared Route(const core::Batch& batch, const std::string& transport, Prepared p);
  // Counts the records of a request the pipeline accepted or refused.
  void Settle(core::Signal signal, const std::string& transport, size_t records,
              const absl::Status& status);
  absl::Status StartGrpc();
  absl::Status StartHttp();
  // OTLP/HTTP: what can be refused from the headers alone (path, method,
  // token, content type and encoding, announced size, requests in progress),
  // then the whole request: decompressed, decoded, handed on, answered on
  // acknowledgement or at ack_timeout.
  std::optional<common::http::ServerResponse> AdmitHttp(const common::http::ServerRequest& req);
  // 429 with Retry-After, counted: the process's memory budget is spent.
  common::http::ServerResponse MemoryBudgetRefusal(bool json);
  void HandleHttp(common::http::ServerRequest&& req, common::http::Responder responder);

  const std::string id_;
  const OtlpReceiverConfig config_;
  const core::ReceiverConsumers consumers_;
  std::unique_ptr<common::tls::BearerAuthenticator> auth_;
  std::unique_ptr<GrpcService> grpc_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<common::http::Server> http_server_;
  std::atomic<int64_t> http_in_flight_{0};
  std::atomic<int64_t> grpc_in_flight_{0};
  // The deadlines of gRPC calls waiting for their acknowledgement.
  DeadlineQueue deadlines_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  bool stopped_ = false;
  core::LogLimiter log_limiter_;
  // Accepted-records counters resolved once: [signal][0 = grpc, 1 = http].
  std::array<std::array<prometheus::Counter*, 2>, 3> accepted_;
};

}  // namespace tributary::receivers::otlp

#endif  // TRIBUTARY_RECEIVERS_OTLP_OTLP_RECEIVER_H_
