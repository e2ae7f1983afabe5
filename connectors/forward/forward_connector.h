#ifndef TRIBUTARY_CONNECTORS_FORWARD_FORWARD_CONNECTOR_H_
#define TRIBUTARY_CONNECTORS_FORWARD_FORWARD_CONNECTOR_H_

#include "tributary/core/component.h"
#include "tributary/core/registry.h"

namespace tributary::connectors::forward {

struct ForwardConnectorConfig {
  template <class V>
  void VisitFields(V&&) {}
};

// Hands every envelope, with its acknowledgements, to the pipelines of the
// same signal that receive from it: one pipeline's output becomes the input
// of others (a shared front part fanned out to differently processed
// branches, or branches joined), as the OpenTelemetry Collector's forward
// connector does. The upstream data settles when the downstream pipelines
// have taken it (written it to their buffers, or exported it).
class ForwardConnector : public core::Connector {
 public:
  explicit ForwardConnector(core::Consumer* next) : next_(next) {}
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(core::Deadline) noexcept override {}
  absl::Status Consume(core::Envelope envelope) noexcept override {
    return next_->Consume(std::move(envelope));
  }
  bool ReadsWireForm() const override { return true; }

 private:
  core::Consumer* next_;
};

}  // namespace tributary::connectors::forward

#endif  // TRIBUTARY_CONNECTORS_FORWARD_FORWARD_CONNECTOR_H_
