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

struct KafkaReceiverConfig {
  common::kafka::ClientConfig client;
  common::kafka::TopicConfig traces;
  common::kafka::TopicConfig metrics;
  common::kafka::TopicConfig logs;
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
    v.Optional("max_batch_records", max_batch_records,
               "records of consecutive messages handed on together at most");
    v.Optional("max_inflight_bytes", max_inflight_bytes,
               "message bytes handed on and not yet acknowledged; above it, consumption pauses");
  }
  absl::Status Validate() const;
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
