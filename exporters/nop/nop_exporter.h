#ifndef TRIBUTARY_EXPORTERS_NOP_NOP_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_NOP_NOP_EXPORTER_H_

#include "tributary/core/component.h"
#include "tributary/core/exporter_config.h"

namespace tributary::exporters::nop {

struct NopExporterConfig {
  core::QueueConfig sending_queue;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
  }
};

// Accepts every batch and keeps nothing, like Vector's blackhole sink: for
// measuring a pipeline without a destination, and for data to be counted
// (tributary_exporter_sent_records_total) but not kept.
class NopExporter : public core::Exporter {
 public:
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(core::Deadline) noexcept override {}
  absl::Status Export(const core::Batch&, core::ExportReport&) noexcept override {
    return absl::OkStatus();
  }
};

}  // namespace tributary::exporters::nop

#endif  // TRIBUTARY_EXPORTERS_NOP_NOP_EXPORTER_H_
