#ifndef TRIBUTARY_RECEIVERS_KAFKA_KAFKA_RECEIVER_H_
#define TRIBUTARY_RECEIVERS_KAFKA_KAFKA_RECEIVER_H_

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/kafka/kafka_client.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace tributary::receivers::kafka {

// The topics of one signal, keyed as the OpenTelemetry Collector's Kafka
// receiver.
struct ConsumerTopicConfig {
  std::vector<std::string> topics;
  std::string topic;  // the older, single spelling
  std::string encoding = "otlp_proto";
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("topics", topics, "topics to consume (default otlp_spans, otlp_metrics, otlp_logs)");
    v.Deprecated("topic", topic, "topics");
    v.Optional("encoding", encoding, "otlp_proto or otlp_json");
    v.Unsupported("exclude_topics", "topics are named, not matched by patterns");
  }
  absl::Status Validate() const;
  // The topics to consume: `topics`, else `topic`, else `fallback`.
  std::vector<std::string> Names(const std::string& fallback) const;
};

// The Collector's `autocommit` block. Offsets here are committed on an
// interval, and only those of acknowledged messages.
struct AutocommitConfig {
  bool enable = true;
  std::chrono::milliseconds interval = std::chrono::seconds(1);
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("enable", enable,
               "must stay true: offsets are committed every `interval`, up to the first message "
               "not yet acknowledged");
    v.Optional("interval", interval, "how often acknowledged offsets are committed");
  }
};

// The Collector's `message_marking` block. A message here is marked once
// the pipeline acknowledged it; one it refused for good is marked too (it is
// counted, and never blocks its partition), one it refused for now is read
// again.
struct MessageMarkingConfig {
  bool after = true;
  bool on_error = false;
  bool on_permanent_error = true;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("after", after, "must stay true: messages are marked after the pipeline took them");
    v.Optional("on_error", on_error,
               "must stay false: a retryable refusal reads the message again");
    v.Optional("on_permanent_error", on_permanent_error,
               "must stay true: a message refused for good is counted and passed");
  }
};

struct KafkaReceiverConfig {
  common::kafka::ClientConfig client;
  ConsumerTopicConfig traces;
  ConsumerTopicConfig metrics;
  ConsumerTopicConfig logs;
  std::optional<AutocommitConfig> autocommit;
  MessageMarkingConfig message_marking;
  core::ByteSize min_fetch_size{1};
  core::ByteSize max_fetch_size{16ull << 20};
  std::chrono::milliseconds max_fetch_wait{500};
  core::ByteSize max_partition_fetch_size{1ull << 20};
  std::vector<std::string> group_rebalance_strategies;
  std::string group_instance_id;
  std::string group_id = "tributary-collector";
  std::string initial_offset = "earliest";
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds heartbeat_interval = std::chrono::seconds(3);
  std::chrono::milliseconds commit_interval = std::chrono::seconds(1);
  int64_t max_batch_records = 8192;
  core::ByteSize max_inflight_bytes{64ull << 20};
  template <class V>
  void VisitFields(V&& v) {
    client.VisitFields(v);
    v.Optional("traces", traces, "topic and encoding of spans");
    v.Optional("metrics", metrics, "topic and encoding of metrics");
    v.Optional("logs", logs, "topic and encoding of logs");
    v.Optional("group_id", group_id,
               "consumer group: the collectors sharing it share the topics' partitions");
    v.Optional("initial_offset", initial_offset,
               "where a group without committed offsets starts: earliest or latest");
    v.Optional("session_timeout", session_timeout,
               "a member silent this long leaves the group and its partitions move");
    v.Optional("heartbeat_interval", heartbeat_interval, "heartbeats to the group coordinator");
    v.Optional("commit_interval", commit_interval,
               "how often acknowledged offsets are committed; what was consumed since the last "
               "commit is the window a crash can deliver twice");
    v.Optional("autocommit", autocommit,
               "the OpenTelemetry Collector's spelling: `interval` sets commit_interval");
    v.Optional("message_marking", message_marking,
               "the OpenTelemetry Collector's keys; only the behaviour described is accepted");
    v.Optional("min_fetch_size", min_fetch_size, "least bytes a fetch waits for (fetch.min.bytes)");
    v.Optional("max_fetch_size", max_fetch_size, "most bytes of one fetch (fetch.max.bytes)");
    v.Optional("max_fetch_wait", max_fetch_wait,
               "longest a fetch waits for min_fetch_size (fetch.wait.max.ms)");
    v.Optional("max_partition_fetch_size", max_partition_fetch_size,
               "most bytes fetched of one partition (max.partition.fetch.bytes)");
    v.Optional("group_rebalance_strategies", group_rebalance_strategies,
               "partition assignment, in order of preference: range, roundrobin "
               "(partition.assignment.strategy); empty is librdkafka's range,roundrobin");
    v.Optional("group_instance_id", group_instance_id,
               "static group membership (group.instance.id): a restart within session_timeout "
               "keeps the partitions");
    v.Unsupported("partition_processing", "partitions are consumed by one thread in order");
    v.Unsupported("header_extraction", "message headers are not turned into attributes");
    v.Unsupported("error_backoff",
                  "a refused batch rewinds its partition and is read again after a short pause");
    v.Unsupported("telemetry", "the receiver's metrics are always on (tributary_kafka_*)");
    v.Unsupported("profiles", "Tributary carries no profiles");
    v.Optional("max_batch_records", max_batch_records,
               "records of consecutive messages handed on together at most");
    v.Optional("max_inflight_bytes", max_inflight_bytes,
               "message bytes handed on and not yet acknowledged; above it, consumption pauses");
  }
  absl::Status Validate() const;
  // commit_interval, or autocommit.interval when that block is given.
  std::chrono::milliseconds CommitInterval() const {
    return autocommit ? autocommit->interval : commit_interval;
  }
};

// Consumes OTLP messages as a member of a consumer group. Offsets are
// committed only up to the first message whose records the pipeline has not
// acknowledged; a retryable failure rewinds its partition to that message.
class KafkaReceiver : public core::Receiver {
 public:
  KafkaReceiver(std::string id, KafkaReceiverConfig config, core::ReceiverConsumers consumers);
  ~KafkaReceiver() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;

 private:
  struct PartitionState;
  struct Pending;
  struct Shared;

  void Run();
  void Handle(rd_kafka_message_t* m);
  void Flush(core::Signal signal);
  void FlushAll();
  void Rewind();
  void Commit(bool sync, const std::vector<std::shared_ptr<PartitionState>>* only = nullptr);
  // A commit of `offsets` failed: they are not taken as committed.
  void Uncommitted(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets);
  void UpdateLag();
  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque);
  std::shared_ptr<PartitionState> FindPartition(const char* topic, int32_t partition);

  const std::string id_;
  const KafkaReceiverConfig config_;
  const core::ReceiverConsumers consumers_;
  struct TopicInfo {
    core::Signal signal;
    common::kafka::Encoding encoding;
  };
  std::map<std::string, TopicInfo> topics_;
  std::shared_ptr<Shared> shared_;
  rd_kafka_t* rk_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool paused_ = false;

  // Owned by the consumer thread.
  std::map<std::pair<std::string, int32_t>, std::shared_ptr<PartitionState>> assigned_;
  std::array<std::unique_ptr<Pending>, 3> pending_;  // by Signal
  core::Clock::time_point next_commit_;
  core::Clock::time_point next_lag_;
  core::LogLimiter log_limiter_;
};

}  // namespace tributary::receivers::kafka

#endif  // TRIBUTARY_RECEIVERS_KAFKA_KAFKA_RECEIVER_H_
