#ifndef TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_

#include <memory>

#include "exporters/otlp/otlp_exporter_config.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tributary/core/component.h"

namespace tributary::exporters::otlp {

// OTLP/gRPC client. gRPC stubs are thread-safe, so Export may run on several
// queue workers at once.
class OtlpExporter : public core::Exporter {
 public:
  explicit OtlpExporter(OtlpExporterConfig config);
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;
  int MaxConcurrency() const override { return 64; }

 private:
  const OtlpExporterConfig config_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<opentelemetry::proto::collector::trace::v1::TraceService::Stub> traces_;
  std::unique_ptr<opentelemetry::proto::collector::metrics::v1::MetricsService::Stub> metrics_;
  std::unique_ptr<opentelemetry::proto::collector::logs::v1::LogsService::Stub> logs_;
};

// gRPC status to the pipeline's retry decision: the codes OTLP names
// retryable map to retryable absl codes; the rest are permanent.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace tributary::exporters::otlp

#endif  // TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_
