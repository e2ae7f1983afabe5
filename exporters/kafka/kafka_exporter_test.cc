#include "exporters/kafka/kafka_exporter.h"

#include <librdkafka/rdkafka_mock.h>

#include <map>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::exporters::kafka {
namespace {

using core::Batch;
using core::LogsRequest;

constexpr int16_t kProduceApiKey = 0;  // the Kafka protocol's Produce request

// librdkafka's in-process mock cluster: brokers that speak the protocol,
// with faults on demand (brokers down, leader changes, injected errors).
class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc_ = rd_kafka_mock_cluster_new(rk_, brokers);
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc_);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  rd_kafka_mock_cluster_t* get() { return mc_; }
  const std::string& bootstraps() const { return bootstraps_; }

  struct Record {
    int32_t partition;
    std::string key;
    std::string value;
  };
  // Every message of `topic` from the start, read until each partition's end.
  std::vector<Record> ReadAll(const std::string& topic, int partitions) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "reader", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    std::vector<Record> out;
    std::set<int32_t> done;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (static_cast<int>(done.size()) < partitions &&
           std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        done.insert(m->partition);
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        done.erase(m->partition);
        out.push_back(Record{m->partition,
                             std::string(static_cast<const char*>(m->key), m->key_len),
                             std::string(static_cast<const char*>(m->payload), m->len)});
      }
      rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return out;
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* mc_;
  std::string bootstraps_;
};

LogsRequest MakeLogs(int resources, int per_resource, size_t body_bytes = 50) {
  LogsRequest req;
  int n = 0;
  for (int r = 0; r < resources; ++r) {
    auto* rl = req.add_resource_logs();
    auto* kv = rl->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("svc" + std::to_string(r));
    auto* sl = rl->add_scope_logs();
    for (int i = 0; i < per_resource; ++i) {
      std::string body = "record " + std::to_string(n++) + " ";
      body.resize(std::max(body.size(), body_bytes), '.');
      sl->add_log_records()->mutable_body()->set_string_value(body);
    }
  }
  return req;
}

// The log records of every message, by body.
std::multiset<std::string> Bodies(const std::vector<MockCluster::Record>& records) {
  std::multiset<std::string> out;
  for (const auto& r : records) {
    LogsRequest req;
    EXPECT_TRUE(req.ParseFromString(r.value));
    for (const auto& rl : req.resource_logs()) {
      for (const auto& sl : rl.scope_logs()) {
        for (const auto& rec : sl.log_records()) out.insert(rec.body().string_value());
      }
    }
  }
  return out;
}

KafkaExporterConfig ConfigFor(const MockCluster& cluster) {
  KafkaExporterConfig config;
  config.client.brokers = {cluster.bootstraps()};
  config.client.properties["log_level"] = "0";
  config.producer.linger = std::chrono::milliseconds(1);
  return config;
}

TEST(KafkaExporter, AcknowledgesOnceEveryMessageIsDelivered) {
  MockCluster cluster(3);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 4, 3);
  KafkaExporter exporter("kafka/ack", ConfigFor(cluster));
  ASSERT_TRUE(exporter.Start().ok());
  const double before = core::testing::MetricValue("tributary_kafka_messages_produced_total",
                                                   {{"exporter", "kafka/ack"}});
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Batch(MakeLogs(5, 40)), report).ok());
  EXPECT_EQ(report.rejected_records, 0u);
  // Delivered means acknowledged by the cluster: everything is readable now.
  EXPECT_EQ(core::testing::MetricValue("tributary_kafka_messages_produced_total",
                                       {{"exporter", "kafka/ack"}}) -
                before,
            5);
  const auto records = cluster.ReadAll("otlp_logs", 4);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(Bodies(records).size(), 200u);
  EXPECT_EQ(
      core::testing::MetricValue("tributary_kafka_inflight_messages", {{"exporter", "kafka/ack"}}),
      0);
  exporter.Shutdown(core::Clock::now() + std::chrono::seconds(5));
}

TEST(KafkaExporter, SpansOfOneTraceLandInOnePartition) {
  MockCluster cluster(1);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_spans", 8, 1);
  KafkaExporter exporter("kafka/traces", ConfigFor(cluster));
  ASSERT_TRUE(exporter.Start().ok());
  core::TracesRequest req = core::testing::MakeSpans(200);
  auto* spans = req.mutable_resource_spans(0)->mutable_scope_spans(0);
  for (int i = 0; i < 200; ++i) {
    spans->mutable_spans(i)->set_trace_id(spans->spans(i % 25).trace_id());
  }
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Batch(req), report).ok());
  std::map<std::string, std::set<int32_t>> partitions;
  std::set<int32_t> used;
  size_t spans_read = 0;
  for (const auto& r : cluster.ReadAll("otlp_spans", 8)) {
    core::TracesRequest got;
    ASSERT_TRUE(got.ParseFromString(r.value));
    for (const auto& span : got.resource_spans(0).scope_spans(0).spans()) {
      partitions[span.trace_id()].insert(r.partition);
      ++spans_read;
    }
    used.insert(r.partition);
  }
  EXPECT_EQ(spans_read, 200u);
  ASSERT_EQ(partitions.size(), 25u);
  for (const auto& [trace, parts] : partitions) EXPECT_EQ(parts.size(), 1u);
  // 25 keys spread over the partitions rather than piling on one.
  EXPECT_GE(used.size(), 4u);
}

TEST(KafkaExporter, RetryableProduceErrorsAreRetriedWithoutDuplicates) {
  MockCluster cluster(3);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 2, 3);
  KafkaExporter exporter("kafka/retryable", ConfigFor(cluster));
  ASSERT_TRUE(exporter.Start().ok());
  rd_kafka_mock_push_request_errors(
      cluster.get(), kProduceApiKey, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Batch(MakeLogs(4, 25)), report).ok());
  const auto bodies = Bodies(cluster.ReadAll("otlp_logs", 2));
  EXPECT_EQ(bodies.size(), 100u);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), 100u);
}

TEST(KafkaExporter, PermanentErrorsComeBackAsRejectedRecords) {
  MockCluster cluster(1);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 1, 1);
  KafkaExporter exporter("kafka/permanent", ConfigFor(cluster));
  ASSERT_TRUE(exporter.Start().ok());
  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApiKey, 1,
                                    RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Batch(MakeLogs(1, 10)), report).ok());
  EXPECT_EQ(report.rejected_records, 10u);
  ASSERT_TRUE(report.rejected.has_value());
  EXPECT_EQ(report.rejected->record_count(), 10u);
  EXPECT_NE(report.rejected_reason.find("uthoriz"), std::string::npos) << report.rejected_reason;
  EXPECT_GE(core::testing::MetricValue(
                "tributary_kafka_delivery_errors_total",
                {{"exporter", "kafka/permanent"}, {"code", "TOPIC_AUTHORIZATION_FAILED"}}),
            1);
}

// A fatal error (an idempotence guarantee the producer can no longer keep)
// ends that producer: what was produced on it comes back for a retry, and a
// new producer takes over and delivers it, without duplicates.
TEST(KafkaExporter, AFatalIdempotenceErrorReplacesTheProducer) {
  MockCluster cluster(1);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 1, 1);
  KafkaExporter exporter("kafka/fatal", ConfigFor(cluster));
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport first;
  ASSERT_TRUE(exporter.Export(Batch(MakeLogs(1, 5)), first).ok());
  const std::string failed_name = rd_kafka_name(exporter.handle());
  ASSERT_EQ(rd_kafka_test_fatal_error(exporter.handle(),
                                      RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test"),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  LogsRequest more = MakeLogs(1, 5);
  for (auto& r : *more.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records()) {
    r.mutable_body()->set_string_value("after " + r.body().string_value());
  }
  core::ExportReport refused;
  EXPECT_FALSE(exporter.Export(Batch(more), refused).ok());
  ASSERT_TRUE(refused.retry.has_value());
  EXPECT_EQ(refused.retry->record_count(), 5u);
  EXPECT_EQ(refused.rejected_records, 0u);
  core::ExportReport retried;
  ASSERT_TRUE(exporter.Export(*refused.retry, retried).ok());
  EXPECT_NE(std::string(rd_kafka_name(exporter.handle())), failed_name);
  const auto bodies = Bodies(cluster.ReadAll("otlp_logs", 1));
  EXPECT_EQ(bodies.size(), 10u);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), 10u);
}

TEST(KafkaExporter, OversizedRecordIsRejectedAndTheRestDelivered) {
  MockCluster cluster(1);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 1, 1);
  KafkaExporterConfig config = ConfigFor(cluster);
  config.producer.max_message_bytes.bytes = 4096;
  KafkaExporter exporter("kafka/oversized", config);
  ASSERT_TRUE(exporter.Start().ok());
  LogsRequest req = MakeLogs(1, 200, 100);
  req.mutable_resource_logs(0)
      ->mutable_scope_logs(0)
      ->mutable_log_records(7)
      ->mutable_body()
      ->set_string_value(std::string(10000, 'z'));
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Batch(req), report).ok());
  EXPECT_EQ(report.rejected_records, 1u);
  const auto records = cluster.ReadAll("otlp_logs", 1);
  EXPECT_GT(records.size(), 5u);  // split to fit 4 KiB
  for (const auto& r : records) EXPECT_LE(r.value.size(), 4096u);
  EXPECT_EQ(Bodies(records).size(), 199u);
}

TEST(KafkaExporter, BrokerDownAndLeaderChangesLoseNothing) {
  MockCluster cluster(3);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 4, 3);
  KafkaExporter exporter("kafka/leaders", ConfigFor(cluster));
  ASSERT_TRUE(exporter.Start().ok());
  std::atomic<bool> done{false};
  std::thread chaos([&] {
    int round = 0;
    while (!done) {
      // One broker of three down; its partitions led by the others.
      const int down = 1 + round % 3;
      for (int p = 0; p < 4; ++p) {
        rd_kafka_mock_partition_set_leader(cluster.get(), "otlp_logs", p, 1 + (down + p % 2) % 3);
      }
      rd_kafka_mock_broker_set_down(cluster.get(), down);
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      rd_kafka_mock_broker_set_up(cluster.get(), down);
      ++round;
    }
  });
  size_t sent = 0;
  for (int i = 0; i < 30; ++i) {
    core::ExportReport report;
    LogsRequest req = MakeLogs(3, 10);
    for (auto& rl : *req.mutable_resource_logs()) {
      for (auto& rec : *rl.mutable_scope_logs(0)->mutable_log_records()) {
        rec.mutable_body()->set_string_value("b" + std::to_string(i) + "-" +
                                             rec.body().string_value());
      }
    }
    const Batch batch(req);
    absl::Status s = core::testing::ExportWithRetries(exporter, batch, report, 20);
    ASSERT_TRUE(s.ok()) << s;
    sent += 30;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  done = true;
  chaos.join();
  for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(cluster.get(), b);
  const auto bodies = Bodies(cluster.ReadAll("otlp_logs", 4));
  EXPECT_EQ(bodies.size(), sent);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), sent);
}

TEST(KafkaExporter, UndeliveredMessagesAloneAreProducedAgain) {
  MockCluster cluster(2);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 4, 1);
  // Partitions 0 and 1 are led by broker 1, which goes down: the messages
  // keyed there fail while those for partitions 2 and 3 are delivered.
  for (int p = 0; p < 4; ++p)
    rd_kafka_mock_partition_set_leader(cluster.get(), "otlp_logs", p, 1 + p / 2);
  KafkaExporterConfig config = ConfigFor(cluster);
  config.timeout = std::chrono::seconds(3);
  KafkaExporter exporter("kafka/partial", config);
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport warmup;
  LogsRequest first = MakeLogs(1, 1);
  first.mutable_resource_logs(0)
      ->mutable_scope_logs(0)
      ->mutable_log_records(0)
      ->mutable_body()
      ->set_string_value("first");
  // Once this is delivered the client knows the leaders (on a loaded machine
  // the first attempt may outlast the timeout while it connects).
  const Batch first_batch(first);
  absl::Status warm = core::testing::ExportWithRetries(exporter, first_batch, warmup, 20);
  ASSERT_TRUE(warm.ok()) << warm;
  rd_kafka_mock_broker_set_down(cluster.get(), 1);
  const Batch batch(MakeLogs(16, 5));
  core::ExportReport report;
  const auto start = core::Clock::now();
  absl::Status s = exporter.Export(batch, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::Not(::testing::HasSubstr("16 of 16"))) << s;
  EXPECT_LT(core::Clock::now() - start, std::chrono::seconds(25));
  rd_kafka_mock_broker_set_up(cluster.get(), 1);
  // The runner's retries of what was not delivered, until the client has
  // reconnected.
  ASSERT_TRUE(report.retry.has_value());
  EXPECT_LT(report.retry->record_count(), batch.record_count());
  const Batch rest = *report.retry;
  s = core::testing::ExportWithRetries(exporter, rest, report, 19, 1);
  ASSERT_TRUE(s.ok()) << s;
  auto bodies = Bodies(cluster.ReadAll("otlp_logs", 4));
  ASSERT_EQ(bodies.erase("first"), 1u);
  EXPECT_EQ(bodies.size(), 80u);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), 80u);
}

TEST(KafkaExporter, FullLocalQueueIsBackpressureNotAHang) {
  MockCluster cluster(1);
  rd_kafka_mock_topic_create(cluster.get(), "otlp_logs", 1, 1);
  KafkaExporterConfig config = ConfigFor(cluster);
  config.timeout = std::chrono::seconds(2);
  config.queue_max_bytes.bytes = 1 << 20;
  config.producer.max_message_bytes.bytes = 64 << 10;
  KafkaExporter exporter("kafka/full", config);
  ASSERT_TRUE(exporter.Start().ok());
  rd_kafka_mock_broker_set_down(cluster.get(), 1);
  const Batch batch(MakeLogs(1, 3000, 1000));  // 3 MB: more than the queue holds
  core::ExportReport report;
  const auto start = core::Clock::now();
  const absl::Status s = exporter.Export(batch, report);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(core::IsRetryable(s)) << s;
  EXPECT_LT(core::Clock::now() - start, std::chrono::seconds(15));
  // Once the cluster is back, the retry delivers every record exactly once.
  rd_kafka_mock_broker_set_up(cluster.get(), 1);
  const Batch rest = report.retry ? *report.retry : batch;
  absl::Status retry = core::testing::ExportWithRetries(exporter, rest, report, 9, 1);
  ASSERT_TRUE(retry.ok()) << retry;
  const auto bodies = Bodies(cluster.ReadAll("otlp_logs", 1));
  EXPECT_EQ(bodies.size(), 3000u);
  EXPECT_EQ(std::set<std::string>(bodies.begin(), bodies.end()).size(), 3000u);
}

TEST(KafkaExporter, InvalidPropertyIsAClearErrorWithoutTheSecret) {
  KafkaExporterConfig config;
  config.client.properties["sasl.password"] = "hunter2";
  config.client.properties["no.such.property"] = "1";
  KafkaExporter exporter("kafka/bad", config);
  const absl::Status s = exporter.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no.such.property"), std::string::npos) << s;
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos);
}

TEST(KafkaExporter, ConfigValidation) {
  KafkaExporterConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.producer.compression = "brotli";
  EXPECT_FALSE(config.Validate().ok());
  config.producer.compression = "zstd";
  config.producer.required_acks = "1";
  EXPECT_FALSE(config.Validate().ok());  // idempotence needs acks=all
  config.idempotent = false;
  EXPECT_TRUE(config.Validate().ok());
  config.logs.encoding = "avro";
  EXPECT_FALSE(config.Validate().ok());
}

}  // namespace
}  // namespace tributary::exporters::kafka
