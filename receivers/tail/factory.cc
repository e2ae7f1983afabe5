#include "receivers/tail/tail_receiver.h"
#include "tributary/core/registry.h"

namespace tributary {

void RegisterReceiverTail(core::Registry& registry) {
  using receivers::tail::TailReceiverConfig;
  registry.Add(
      core::MakeFactory<core::Receiver, TailReceiverConfig, const core::ReceiverConsumers&>(
          "tail", {core::Signal::kLogs},
          "Log files as they grow (container logs in cri or docker format, json, raw), with "
          "rotation handling and acknowledged checkpoints.",
          [](const core::CreateContext& ctx, const TailReceiverConfig& config,
             const core::ReceiverConsumers& consumers)
              -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
            if (consumers.logs == nullptr) {
              return absl::InvalidArgumentError("the tail receiver serves logs pipelines only");
            }
            return std::make_unique<receivers::tail::TailReceiver>(ctx.id.ToString(), config,
                                                                   consumers.logs);
          }));
}

}  // namespace tributary
