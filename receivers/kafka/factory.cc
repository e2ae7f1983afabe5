#include <set>

#include "absl/strings/str_cat.h"
#include "receivers/kafka/kafka_receiver.h"
#include "tributary/core/registry.h"

namespace tributary::receivers::kafka {

absl::Status ConsumerTopicConfig::Validate() const {
  if (!common::kafka::ParseEncoding(encoding)) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoding \"", encoding, "\": use otlp_proto or otlp_json"));
  }
  if (!topics.empty() && !topic.empty()) {
    return absl::InvalidArgumentError("topics and topic exclude each other");
  }
  for (const std::string& t : topics) {
    if (t.empty()) return absl::InvalidArgumentError("a topic name must not be empty");
    if (t[0] == '^') {
      return absl::InvalidArgumentError(
          absl::StrCat("topic patterns ('", t, "') are not supported: name the topics"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ConsumerTopicConfig::Names(const std::string& fallback) const {
  if (!topics.empty()) return topics;
  return {topic.empty() ? fallback : topic};
}

absl::Status KafkaReceiverConfig::Validate() const {
  if (absl::Status s = client.Validate(); !s.ok()) return s;
  std::set<std::string> seen;
  for (const auto& [t, signal] :
       {std::pair{&traces, core::Signal::kTraces}, std::pair{&metrics, core::Signal::kMetrics},
        std::pair{&logs, core::Signal::kLogs}}) {
    if (absl::Status s = t->Validate(); !s.ok()) return s;
    for (const std::string& name : t->Names(common::kafka::DefaultTopic(signal))) {
      if (!seen.insert(name).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("topic ", name, " is given to two signals; a topic carries one"));
      }
    }
  }
  if (autocommit && !autocommit->enable) {
    return absl::InvalidArgumentError(
        "autocommit.enable: false is not supported: acknowledged offsets are always committed");
  }
  if (!message_marking.after || message_marking.on_error || !message_marking.on_permanent_error) {
    return absl::InvalidArgumentError(
        "message_marking: only after: true, on_error: false, on_permanent_error: true are "
        "supported (a message is marked once acknowledged or refused for good)");
  }
  if (group_id.empty()) return absl::InvalidArgumentError("group_id must not be empty");
  if (initial_offset != "earliest" && initial_offset != "latest") {
    return absl::InvalidArgumentError("initial_offset must be earliest or latest");
  }
  if (CommitInterval().count() < 10) {
    return absl::InvalidArgumentError("commit_interval must be at least 10ms");
  }
  for (const std::string& strategy : group_rebalance_strategies) {
    if (strategy != "range" && strategy != "roundrobin") {
      return absl::InvalidArgumentError(absl::StrCat(
          "group_rebalance_strategies: ", strategy,
          " is not supported: range or roundrobin (librdkafka's sticky assignor is cooperative, "
          "and partitions here are handed over eagerly)"));
    }
  }
  if (min_fetch_size.bytes < 1 || max_fetch_size.bytes < min_fetch_size.bytes) {
    return absl::InvalidArgumentError("fetch sizes must be 1 <= min_fetch_size <= max_fetch_size");
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
