#include "exporters/nop/nop_exporter.h"

#include "tributary/core/registry.h"

namespace tributary {

void RegisterExporterNop(core::Registry& registry) {
  using exporters::nop::NopExporterConfig;
  registry.Add(core::MakeFactory<core::Exporter, NopExporterConfig>(
      "nop", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
      "Accepts and discards everything (counted as sent); for benchmarks and tests.",
      [](const core::CreateContext&,
         const NopExporterConfig&) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::nop::NopExporter>();
      }));
}

}  // namespace tributary
