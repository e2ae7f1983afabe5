#include "receivers/kafka/kafka_receiver.h"

#include <librdkafka/rdkafka_mock.h>

#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::kafka {
namespace {

using core::LogsRequest;

class MockCluster {
 public:
  explicit MockCluster(int partitions) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc_ = rd_kafka_mock_cluster_new(rk_, 1);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc_);
    rd_kafka_mock_topic_create(mc_, "otlp_logs", partitions, 1);
    rd_kafka_conf_t* pconf = rd_kafka_conf_new();
    rd_kafka_conf_set(pconf, "bootstrap.servers", bootstraps_.c_str(), err, sizeof err);
    rd_kafka_conf_set(pconf, "log_level", "0", err, sizeof err);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
  }
  ~MockCluster() {
    rd_kafka_destroy(producer_);
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* get() { return mc_; }

  void CreateTopic(const std::string& name, int partitions) {
    rd_kafka_mock_topic_create(mc_, name.c_str(), partitions, 1);
  }
  void Produce(const std::string& value, int32_t partition = RD_KAFKA_PARTITION_UA,
               const std::string& topic = "otlp_logs") {
    rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  }
  void Flush() { rd_kafka_flush(producer_, 10000); }

  // The offsets `group` committed, summed over the topic's partitions.
  int64_t Committed(const std::string& group, int partitions) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, "otlp_logs", p);
    int64_t sum = 0;
    if (rd_kafka_committed(c, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < list->cnt; ++i) sum += std::max<int64_t>(0, list->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(c);
    return sum;
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_t* producer_;
  rd_kafka_mock_cluster_t* mc_;
  std::string bootstraps_;
};

std::string LogsMessage(int first, int n) {
  LogsRequest req;
  auto* sl = req.add_resource_logs()->add_scope_logs();
  for (int i = 0; i < n; ++i) {
    sl->add_log_records()->mutable_body()->set_string_value("r" + std::to_string(first + i));
  }
  return req.SerializeAsString();
}

std::multiset<std::string> Bodies(const std::vector<core::Batch>& batches) {
  std::multiset<std::string> out;
  for (const core::Batch& b : batches) {
    for (const auto& rl : b.logs().resource_logs()) {
      for (const auto& sl : rl.scope_logs()) {
        for (const auto& r : sl.log_records()) out.insert(r.body().string_value());
      }
    }
  }
  return out;
}

// A pipeline end that keeps the envelopes without settling them until told.
class HoldingConsumer : public core::Consumer {
 public:
  absl::Status Consume(core::Envelope envelope) noexcept override {
    std::lock_guard lock(mu_);
    records_ += envelope.batch->record_count();
    held_.push_back(std::move(envelope));
    return absl::OkStatus();
  }
  size_t records() {
    std::lock_guard lock(mu_);
    return records_;
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<core::Envelope> held_;
  size_t records_ = 0;
};

// Fails the first `failures` envelopes with a retryable error, then records.
class FlakyConsumer : public core::testing::RecordingConsumer {
 public:
  explicit FlakyConsumer(int failures) : failures_(failures) {}
  absl::Status Consume(core::Envelope envelope) noexcept override {
    if (failures_ > 0) {
      --failures_;
      envelope.Fail(absl::UnavailableError("buffer full"));
      return absl::OkStatus();
    }
    return RecordingConsumer::Consume(std::move(envelope));
  }

 private:
  std::atomic<int> failures_;
};

KafkaReceiverConfig ConfigFor(const MockCluster& cluster, const std::string& group) {
  KafkaReceiverConfig config;
  config.client.brokers = {cluster.bootstraps()};
  config.client.properties["log_level"] = "0";
  config.group_id = group;
  config.commit_interval = std::chrono::milliseconds(100);
  return config;
}

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST(KafkaReceiver, ConsumesEveryRecordAndCommitsWhatWasAcknowledged) {
  MockCluster cluster(3);
  for (int i = 0; i < 60; ++i) cluster.Produce(LogsMessage(i * 10, 10), i % 3);
  cluster.Flush();
  core::testing::RecordingConsumer sink;
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiver receiver("kafka/consume", ConfigFor(cluster, "g1"), consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(sink.WaitForRecords(600, std::chrono::seconds(20)));
  const auto bodies = Bodies(sink.batches());
  EXPECT_EQ(bodies.size(), 600u);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), 600u);
  // Consecutive messages travel together.
  EXPECT_LT(sink.batches().size(), 60u);
  EXPECT_TRUE(WaitFor([&] { return cluster.Committed("g1", 3) == 60; }, std::chrono::seconds(10)));
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(cluster.Committed("g1", 3), 60);
}

TEST(KafkaReceiver, UnacknowledgedOffsetsAreNotCommitted) {
  MockCluster cluster(1);
  for (int i = 0; i < 20; ++i) cluster.Produce(LogsMessage(i, 1));
  cluster.Flush();
  HoldingConsumer sink;
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiver receiver("kafka/hold", ConfigFor(cluster, "g2"), consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return sink.records() == 20; }, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // several commit intervals
  EXPECT_EQ(cluster.Committed("g2", 1), 0);
  sink.Release();  // acknowledged now
  EXPECT_TRUE(WaitFor([&] { return cluster.Committed("g2", 1) == 20; }, std::chrono::seconds(10)));
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
}

// While max_inflight_bytes are unacknowledged, consumption pauses; each
// acknowledgement lets it go on, until everything has arrived.
TEST(KafkaReceiver, PausesWhileMaxInflightBytesAreUnacknowledged) {
  MockCluster cluster(1);
  const std::string padding(200, '.');
  for (int i = 0; i < 200; ++i) {
    LogsRequest req;
    req.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
        "r" + std::to_string(i) + padding);
    cluster.Produce(req.SerializeAsString());
  }
  cluster.Flush();
  HoldingConsumer sink;
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiverConfig config = ConfigFor(cluster, "g-pause");
  config.max_inflight_bytes = core::ByteSize{4096};
  config.max_batch_records = 4;
  KafkaReceiver receiver("kafka/pause", config, consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return sink.records() > 0; }, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  // About 4 KiB of 220-byte messages are held, not the 44 KiB there are.
  const size_t held = sink.records();
  EXPECT_LT(held, 40u);
  EXPECT_TRUE(WaitFor(
      [&] {
        sink.Release();
        return sink.records() == 200;
      },
      std::chrono::seconds(30)));
  sink.Release();
  EXPECT_TRUE(
      WaitFor([&] { return cluster.Committed("g-pause", 1) == 200; }, std::chrono::seconds(10)));
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
}

// A commit the broker refuses is not taken as done: the next one sends the
// offsets again.
TEST(KafkaReceiver, ARefusedCommitIsSentAgain) {
  MockCluster cluster(1);
  for (int i = 0; i < 20; ++i) cluster.Produce(LogsMessage(i, 1));
  cluster.Flush();
  rd_kafka_mock_push_request_errors(cluster.get(), 8 /* OffsetCommit */, 2,
                                    RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE,
                                    RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE);
  core::testing::RecordingConsumer sink;
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiver receiver("kafka/recommit", ConfigFor(cluster, "g-recommit"), consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(sink.WaitForRecords(20, std::chrono::seconds(20)));
  EXPECT_TRUE(
      WaitFor([&] { return cluster.Committed("g-recommit", 1) == 20; }, std::chrono::seconds(10)));
  EXPECT_GE(core::testing::MetricValue("tributary_kafka_commit_errors_total",
                                       {{"receiver", "kafka/recommit"}}),
            1);
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
}

TEST(KafkaReceiver, RetryableFailureReadsThePartitionAgain) {
  MockCluster cluster(2);
  for (int i = 0; i < 40; ++i) cluster.Produce(LogsMessage(i * 5, 5), i % 2);
  cluster.Flush();
  FlakyConsumer sink(2);
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiver receiver("kafka/rewind", ConfigFor(cluster, "g3"), consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto b = Bodies(sink.batches());
        return std::set<std::string>(b.begin(), b.end()).size() == 200;
      },
      std::chrono::seconds(20)));
  EXPECT_TRUE(WaitFor([&] { return cluster.Committed("g3", 2) == 40; }, std::chrono::seconds(10)));
  EXPECT_GE(
      core::testing::MetricValue("tributary_kafka_rewinds_total", {{"receiver", "kafka/rewind"}}),
      1);
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
}

TEST(KafkaReceiver, InvalidMessagesAreSkippedAndCounted) {
  MockCluster cluster(1);
  cluster.Produce(LogsMessage(0, 3));
  cluster.Produce("\xff\xff\xff not a protobuf");
  cluster.Produce(LogsMessage(3, 3));
  cluster.Flush();
  core::testing::RecordingConsumer sink;
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiver receiver("kafka/invalid", ConfigFor(cluster, "g4"), consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(sink.WaitForRecords(6, std::chrono::seconds(20)));
  EXPECT_EQ(core::testing::MetricValue("tributary_kafka_invalid_messages_total",
                                       {{"receiver", "kafka/invalid"}}),
            1);
  EXPECT_TRUE(WaitFor([&] { return cluster.Committed("g4", 1) == 3; }, std::chrono::seconds(10)));
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
}

TEST(KafkaReceiver, JsonEncoding) {
  MockCluster cluster(1);
  LogsRequest req;
  req.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
      "from json");
  cluster.Produce(core::EncodeOtlpJson(core::Batch(req)));
  cluster.Flush();
  core::testing::RecordingConsumer sink;
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiverConfig config = ConfigFor(cluster, "g5");
  config.logs.encoding = "otlp_json";
  KafkaReceiver receiver("kafka/json", config, consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(sink.WaitForRecords(1, std::chrono::seconds(20)));
  EXPECT_EQ(*Bodies(sink.batches()).begin(), "from json");
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
}

TEST(KafkaReceiver, ConfigValidation) {
  KafkaReceiverConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.initial_offset = "middle";
  EXPECT_FALSE(config.Validate().ok());
  config.initial_offset = "latest";
  config.heartbeat_interval = config.session_timeout;
  EXPECT_FALSE(config.Validate().ok());
}

// The OpenTelemetry Collector's Kafka receiver keys read here with its
// meaning; the behaviours it offers and this receiver does not are refused.
TEST(KafkaReceiver, CollectorKeysCarryOver) {
  auto read = [](const std::string& yaml) {
    KafkaReceiverConfig config;
    core::ConfigErrors errors;
    core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "receivers.kafka", &errors, config);
    return std::make_pair(config, errors.ToString());
  };
  auto [config, errors] = read(
      "brokers: [k:9092]\ntraces: {topics: [spans_a, spans_b], encoding: otlp_proto}\n"
      "logs: {topic: app_logs, encoding: otlp_json}\n"
      "autocommit: {enable: true, interval: 250ms}\n"
      "message_marking: {after: true, on_error: false, on_permanent_error: true}\n");
  EXPECT_EQ(errors, "");
  EXPECT_EQ(config.traces.Names("otlp_spans"), (std::vector<std::string>{"spans_a", "spans_b"}));
  EXPECT_EQ(config.logs.Names("otlp_logs"), (std::vector<std::string>{"app_logs"}));
  EXPECT_EQ(config.metrics.Names("otlp_metrics"), (std::vector<std::string>{"otlp_metrics"}));
  EXPECT_EQ(config.CommitInterval(), std::chrono::milliseconds(250));

  EXPECT_NE(read("traces: {topics: ['^spans.*']}\n").second.find("topic patterns"),
            std::string::npos);
  EXPECT_NE(read("traces: {topics: [a], exclude_topics: [b]}\n")
                .second.find("receivers.kafka.traces.exclude_topics: not supported"),
            std::string::npos);
  EXPECT_NE(read("autocommit: {enable: false}\n").second.find("autocommit.enable: false"),
            std::string::npos);
  EXPECT_NE(read("message_marking: {after: false}\n").second.find("message_marking"),
            std::string::npos);
  EXPECT_NE(read("traces: {topics: [x]}\nlogs: {topics: [x]}\n").second.find("two signals"),
            std::string::npos);
}

// Several topics of one signal are consumed into its pipeline.
TEST(KafkaReceiver, ConsumesEveryTopicOfASignal) {
  MockCluster cluster(1);
  cluster.CreateTopic("logs_a", 1);
  cluster.CreateTopic("logs_b", 2);
  cluster.Produce(LogsMessage(0, 3), RD_KAFKA_PARTITION_UA, "logs_a");
  cluster.Produce(LogsMessage(3, 4), RD_KAFKA_PARTITION_UA, "logs_b");
  cluster.Produce(LogsMessage(7, 5), RD_KAFKA_PARTITION_UA, "otlp_logs");  // not listed
  cluster.Flush();
  core::testing::RecordingConsumer sink;
  core::ReceiverConsumers consumers;
  consumers.logs = &sink;
  KafkaReceiverConfig config = ConfigFor(cluster, "g-topics");
  config.logs.topics = {"logs_a", "logs_b"};
  KafkaReceiver receiver("kafka/topics", config, consumers);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(sink.WaitForRecords(7, std::chrono::seconds(20)));
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(Bodies(sink.batches()),
            (std::multiset<std::string>{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}));
}

}  // namespace
}  // namespace tributary::receivers::kafka
