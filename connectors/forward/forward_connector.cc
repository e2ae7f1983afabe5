#include "connectors/forward/forward_connector.h"

namespace tributary {

void RegisterConnectorForward(core::Registry& registry) {
  using connectors::forward::ForwardConnectorConfig;
  using core::Signal;
  auto factory = core::MakeFactory<core::Connector, ForwardConnectorConfig, Signal,
                                   const core::ReceiverConsumers&>(
      "forward", {Signal::kTraces, Signal::kMetrics, Signal::kLogs},
      "Passes a pipeline's data, with its acknowledgements, to the pipelines of the same signal "
      "that list it under receivers.",
      [](const core::CreateContext&, const ForwardConnectorConfig&, Signal input,
         const core::ReceiverConsumers& outputs)
          -> absl::StatusOr<std::unique_ptr<core::Connector>> {
        return std::make_unique<connectors::forward::ForwardConnector>(outputs.For(input));
      });
  factory.outputs = {{Signal::kTraces, {Signal::kTraces}},
                     {Signal::kMetrics, {Signal::kMetrics}},
                     {Signal::kLogs, {Signal::kLogs}}};
  registry.Add(std::move(factory));
}

}  // namespace tributary
