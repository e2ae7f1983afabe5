#ifndef TRIBUTARY_COMMON_OTLP_GRPC_CLIENT_H_
#define TRIBUTARY_COMMON_OTLP_GRPC_CLIENT_H_

#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>

#include "common/tls/client_config.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tributary/core/component.h"

namespace tributary::common::otlp {

// What an OTLP/gRPC client needs from its exporter's configuration.
struct GrpcClientSettings {
  std::string endpoint;  // host:port, or http:// (plaintext) / https:// before it
  std::string compression = "gzip";
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> headers;
  tls::TlsClientConfig tls;
  // gRPC channel settings (0 or empty: gRPC's default).
  std::chrono::milliseconds keepalive_time{30000};
  std::chrono::milliseconds keepalive_timeout{0};
  bool keepalive_permit_without_calls = false;
  bool wait_for_ready = false;
  std::string user_agent;
  std::string balancer_name;
  std::string authority;
};

// An OTLP/gRPC client for one endpoint. gRPC stubs are thread-safe, so
// Export may run on several threads at once. A batch that holds its wire
// form (read back from a write-ahead buffer) is sent as those bytes, without
// parsing it and serializing it again; the peer's partial success comes back
// in the report.
class GrpcClient {
 public:
  // A call in progress, started by Send.
  class Call;
  struct Result {
    absl::Status status;
    core::ExportReport report;
  };

  explicit GrpcClient(GrpcClientSettings settings);
  // Checks the certificate files and makes the channel (which connects
  // lazily).
  absl::Status Start();
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept;
  // Starts sending a batch that holds its wire form (Batch::wire()), which
  // must outlive the call; Wait() on the call gives what Export would have.
  // Several calls run at once without a thread each.
  std::shared_ptr<Call> Send(const core::Batch& batch);

 private:
  void PrepareContext(grpc::ClientContext* ctx) const;

  const GrpcClientSettings config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<opentelemetry::proto::collector::trace::v1::TraceService::Stub> traces_;
  std::unique_ptr<opentelemetry::proto::collector::metrics::v1::MetricsService::Stub> metrics_;
  std::unique_ptr<opentelemetry::proto::collector::logs::v1::LogsService::Stub> logs_;
  std::unique_ptr<grpc::GenericStub> bytes_;
};

class GrpcClient::Call {
 public:
  Result Wait() { return done_.get_future().get(); }

 private:
  friend class GrpcClient;
  grpc::ClientContext ctx_;
  grpc::Slice slice_;
  grpc::ByteBuffer send_, reply_;
  std::promise<Result> done_;
};

// gRPC status to the pipeline's retry decision: the codes OTLP names
// retryable map to retryable absl codes; the rest are permanent.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tributary::common::otlp

#endif  // TRIBUTARY_COMMON_OTLP_GRPC_CLIENT_H_
