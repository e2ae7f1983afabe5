#ifndef TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_

#include <grpcpp/generic/generic_stub.h>

#include <memory>

#include "exporters/otlp/otlp_exporter_config.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tributary/core/component.h"

namespace tributary::exporters::otlp {

// OTLP/gRPC client. gRPC stubs are thread-safe, so Export may run on several
// queue workers at once. A batch read back from a write-ahead buffer is sent
// as the bytes it was stored as, without parsing it and serializing it again.
class OtlpExporter : public core::Exporter {
 public:
  explicit OtlpExporter(OtlpExporterConfig config);
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;
  int MaxConcurrency() const override { return 64; }
  bool ReadsWireForm() const override { return true; }

 private:
  // Sends a serialized request to the signal's Export method; the response's
  // bytes go to `response`.
  grpc::Status CallWithBytes(grpc::ClientContext& ctx, core::Signal signal,
                             const std::string& request, std::string* response);

  const OtlpExporterConfig config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<opentelemetry::proto::collector::trace::v1::TraceService::Stub> traces_;
  std::unique_ptr<opentelemetry::proto::collector::metrics::v1::MetricsService::Stub> metrics_;
  std::unique_ptr<opentelemetry::proto::collector::logs::v1::LogsService::Stub> logs_;
  std::unique_ptr<grpc::GenericStub> bytes_;
};

// gRPC status to the pipeline's retry decision: the codes OTLP names
// retryable map to retryable absl codes; the rest are permanent.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tributary::exporters::otlp

#endif  // TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_
