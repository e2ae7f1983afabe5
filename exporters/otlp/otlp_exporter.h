#ifndef TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_

#include "common/otlp/grpc_client.h"
#include "exporters/otlp/otlp_exporter_config.h"
#include "tributary/core/component.h"

namespace tributary::exporters::otlp {

using common::otlp::FromGrpcStatus;

// OTLP/gRPC to one endpoint (common::otlp::GrpcClient): bytes read back from
// a write-ahead buffer go out unparsed, and several batches at once.
class OtlpExporter : public core::Exporter {
 public:
  explicit OtlpExporter(const OtlpExporterConfig& config) : client_(config.client()) {}
  absl::Status Start() override { return client_.Start(); }
  void Shutdown(core::Deadline) noexcept override {}
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override {
    return client_.Export(batch, report);
  }
  int MaxConcurrency() const override { return 64; }
  bool ReadsWireForm() const override { return true; }

 private:
  common::otlp::GrpcClient client_;
};

}  // namespace tributary::exporters::otlp

#endif  // TRIBUTARY_EXPORTERS_OTLP_OTLP_EXPORTER_H_
