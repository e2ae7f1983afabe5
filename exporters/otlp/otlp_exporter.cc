#include "exporters/otlp/otlp_exporter.h"

#include "tributary/core/registry.h"

namespace tributary {
void RegisterExporterOtlp(core::Registry& registry) {
  using exporters::otlp::OtlpExporterConfig;
  registry.Add(core::MakeFactory<core::Exporter, OtlpExporterConfig>(
      "otlp", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
      "OTLP/gRPC client, for agent to collector and to any OTLP endpoint.",
      [](const core::CreateContext&,
         const OtlpExporterConfig& config) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::otlp::OtlpExporter>(config);
      }));
  registry.AddExporterAlias("otlp_grpc", "otlp");
}
}  // namespace tributary
