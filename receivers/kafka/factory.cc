#include "receivers/kafka/kafka_receiver.h"
#include "tributary/core/registry.h"

namespace tributary::receivers::kafka {

absl::Status KafkaReceiverConfig::Validate() const {
  if (absl::Status s = client.Validate(); !s.ok()) return s;
  for (const common::kafka::TopicConfig* t : {&traces, &metrics, &logs}) {
    if (absl::Status s = t->Validate(); !s.ok()) return s;
  }
  if (group_id.empty()) return absl::InvalidArgumentError("group_id must not be empty");
  if (initial_offset != "earliest" && initial_offset != "latest") {
    return absl::InvalidArgumentError("initial_offset must be earliest or latest");
  }
  if (commit_interval.count() < 10) {
    return absl::InvalidArgumentError("commit_interval must be at least 10ms");
  }
  if (max_batch_records < 1) return absl::InvalidArgumentError("max_batch_records must be >= 1");
  if (heartbeat_interval >= session_timeout) {
    return absl::InvalidArgumentError("heartbeat_interval must be shorter than session_timeout");
  }
  return absl::OkStatus();
}

}  // namespace tributary::receivers::kafka

namespace tributary {

void RegisterReceiverKafka(core::Registry& registry) {
  using receivers::kafka::KafkaReceiverConfig;
  registry.Add(
      core::MakeFactory<core::Receiver, KafkaReceiverConfig, const core::ReceiverConsumers&>(
          "kafka", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
          "Consumes OTLP messages from Kafka topics as a consumer group; commits offsets only once "
          "the pipeline acknowledged their records.",
          [](const core::CreateContext& ctx, const KafkaReceiverConfig& config,
             const core::ReceiverConsumers& consumers)
              -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
            return std::make_unique<receivers::kafka::KafkaReceiver>(ctx.id.ToString(), config,
                                                                     consumers);
          }));
}

}  // namespace tributary
