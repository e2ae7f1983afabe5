#include "processors/aggregate/aggregate_processor.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/config.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::processors::aggregate {
namespace {

namespace pm = opentelemetry::proto::metrics::v1;
using core::testing::MetricValue;
using ::testing::HasSubstr;

constexpr uint64_t kT0 = 1700000000000000000ull;
constexpr uint64_t kSec = 1000000000ull;

// One sender's request: resource {service.name: shop, k8s.pod.name: pod}.
class Request {
 public:
  explicit Request(const std::string& pod) {
    rm_ = request_.add_resource_metrics();
    Attr(rm_->mutable_resource()->add_attributes(), "service.name", "shop");
    Attr(rm_->mutable_resource()->add_attributes(), "k8s.pod.name", pod);
    sm_ = rm_->add_scope_metrics();
    sm_->mutable_scope()->set_name("app");
  }
  static void Attr(opentelemetry::proto::common::v1::KeyValue* kv, const std::string& k,
                   const std::string& v) {
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  }
  Request& Sum(const std::string& name, bool monotonic, bool delta, int64_t value, uint64_t start,
               uint64_t time) {
    auto* m = sm_->add_metrics();
    m->set_name(name);
    m->mutable_sum()->set_is_monotonic(monotonic);
    m->mutable_sum()->set_aggregation_temporality(delta ? pm::AGGREGATION_TEMPORALITY_DELTA
                                                        : pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
    auto* p = m->mutable_sum()->add_data_points();
    p->set_as_int(value);
    p->set_start_time_unix_nano(start);
    p->set_time_unix_nano(time);
    Attr(p->add_attributes(), "route", "/a");
    return *this;
  }
  Request& Gauge(const std::string& name, double value, uint64_t time) {
    auto* p = Metric(name)->mutable_gauge()->add_data_points();
    p->set_as_double(value);
    p->set_time_unix_nano(time);
    return *this;
  }
  Request& Histogram(const std::string& name, std::vector<uint64_t> counts, double sum,
                     uint64_t start, uint64_t time, std::vector<double> bounds = {10, 100}) {
    auto* h = Metric(name)->mutable_histogram();
    h->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
    auto* p = h->add_data_points();
    uint64_t count = 0;
    for (uint64_t c : counts) {
      p->add_bucket_counts(c);
      count += c;
    }
    for (double b : bounds) p->add_explicit_bounds(b);
    p->set_count(count);
    p->set_sum(sum);
    p->set_start_time_unix_nano(start);
    p->set_time_unix_nano(time);
    return *this;
  }
  pm::Metric* Metric(const std::string& name) {
    auto* m = sm_->add_metrics();
    m->set_name(name);
    return m;
  }
  core::Envelope Envelope() const {
    return core::Envelope{std::make_shared<const core::Batch>(core::MetricsRequest(request_)), {}};
  }

 private:
  core::MetricsRequest request_;
  pm::ResourceMetrics* rm_;
  pm::ScopeMetrics* sm_;
};

class AggregateTest : public ::testing::Test {
 protected:
  std::unique_ptr<AggregateProcessor> Make(AggregateConfig config = {}) {
    if (config.drop_attributes.empty()) config.drop_attributes = {"k8s.pod.name"};
    EXPECT_TRUE(config.Validate().ok());
    return std::make_unique<AggregateProcessor>("aggregate/test", std::move(config), &out_,
                                                [this] { return now_; });
  }
  // The points of `name` in the last emission.
  std::vector<pm::Metric> Emitted(const std::string& name) {
    std::vector<pm::Metric> found;
    std::vector<core::Batch> batches = out_.batches();
    if (batches.empty()) return found;
    for (const auto& rm : batches.back().metrics().resource_metrics()) {
      for (const auto& a : rm.resource().attributes()) EXPECT_NE(a.key(), "k8s.pod.name");
      for (const auto& sm : rm.scope_metrics()) {
        for (const auto& m : sm.metrics()) {
          if (m.name() == name) found.push_back(m);
        }
      }
    }
    return found;
  }
  int64_t SumOf(const std::string& name) {
    auto m = Emitted(name);
    EXPECT_EQ(m.size(), 1u) << name;
    if (m.size() != 1 || m[0].sum().data_points_size() != 1) return -1;
    return m[0].sum().data_points(0).as_int();
  }
  double GaugeOf(const std::string& name) {
    auto m = Emitted(name);
    EXPECT_EQ(m.size(), 1u) << name;
    return m.empty() ? -1 : m[0].gauge().data_points(0).as_double();
  }

  core::testing::RecordingConsumer out_;
  uint64_t now_ = kT0 + 100 * kSec;
};

TEST_F(AggregateTest, CountersOfManySendersAddTheirIncrementsAcrossARestart) {
  auto p = Make();
  const double merged =
      MetricValue("tributary_processor_merged_records_total", {{"processor", "aggregate/test"}});
  for (const char* pod : {"a", "b", "c"}) {
    ASSERT_TRUE(
        p->Consume(Request(pod).Sum("orders", true, false, 10, kT0, kT0 + kSec).Envelope()).ok());
  }
  ASSERT_TRUE(p->Flush().ok());
  EXPECT_EQ(SumOf("orders"), 30);
  // a goes on, b restarts (new start time, counting from 0), c is silent.
  ASSERT_TRUE(
      p->Consume(Request("a").Sum("orders", true, false, 15, kT0, kT0 + 2 * kSec).Envelope()).ok());
  ASSERT_TRUE(
      p->Consume(
           Request("b").Sum("orders", true, false, 4, kT0 + 3 * kSec, kT0 + 4 * kSec).Envelope())
          .ok());
  ASSERT_TRUE(p->Flush().ok());
  EXPECT_EQ(SumOf("orders"), 30 + 5 + 4);
  // A reset without a start time: the value went down.
  ASSERT_TRUE(
      p->Consume(Request("a").Sum("orders", true, false, 2, 0, kT0 + 5 * kSec).Envelope()).ok());
  ASSERT_TRUE(p->Flush().ok());
  EXPECT_EQ(SumOf("orders"), 41);
  auto point = Emitted("orders")[0].sum().data_points(0);
  EXPECT_TRUE(Emitted("orders")[0].sum().is_monotonic());
  EXPECT_EQ(point.attributes_size(), 1);
  EXPECT_EQ(point.time_unix_nano(), now_);
  EXPECT_EQ(
      MetricValue("tributary_processor_merged_records_total", {{"processor", "aggregate/test"}}),
      merged + 6);
}

TEST_F(AggregateTest, HistogramsAddBucketIncrements) {
  auto p = Make();
  ASSERT_TRUE(
      p->Consume(Request("a").Histogram("latency", {1, 2, 3}, 500, kT0, kT0 + kSec).Envelope())
          .ok());
  ASSERT_TRUE(
      p->Consume(Request("b").Histogram("latency", {1, 0, 0}, 5, kT0, kT0 + kSec).Envelope()).ok());
  ASSERT_TRUE(
      p->Consume(Request("a").Histogram("latency", {2, 2, 4}, 700, kT0, kT0 + 2 * kSec).Envelope())
          .ok());
  // b restarted: its counts are all new.
  ASSERT_TRUE(p->Consume(Request("b")
                             .Histogram("latency", {0, 1, 0}, 50, kT0 + 5 * kSec, kT0 + 6 * kSec)
                             .Envelope())
                  .ok());
  // Other buckets: not merged, counted.
  ASSERT_TRUE(
      p->Consume(Request("c").Histogram("latency", {1, 1}, 1, kT0, kT0 + kSec, {50}).Envelope())
          .ok());
  ASSERT_TRUE(p->Flush().ok());
  auto h = Emitted("latency");
  ASSERT_EQ(h.size(), 1u);
  const auto& point = h[0].histogram().data_points(0);
  EXPECT_THAT(point.bucket_counts(), ::testing::ElementsAre(3u, 3u, 4u));
  EXPECT_EQ(point.count(), 10u);
  EXPECT_DOUBLE_EQ(point.sum(), 755);
  EXPECT_THAT(point.explicit_bounds(), ::testing::ElementsAre(10.0, 100.0));
  EXPECT_EQ(MetricValue("tributary_dropped_records_total",
                        {{"component", "aggregate/test"}, {"reason", "buckets_changed"}}),
            1);
}

TEST_F(AggregateTest, DeltasAddUpDownSumsAndGaugesFollowTheLiveSenders) {
  AggregateConfig config;
  config.stale_after = std::chrono::seconds(60);
  config.gauge_aggregation = "sum";
  auto p = Make(config);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(p->Consume(Request("a")
                               .Sum("bytes", true, true, 100, kT0 + i * kSec, kT0 + (i + 1) * kSec)
                               .Envelope())
                    .ok());
  }
  ASSERT_TRUE(p->Consume(Request("a")
                             .Sum("inflight", false, false, 7, kT0, kT0 + kSec)
                             .Gauge("temp", 20, kT0 + kSec)
                             .Envelope())
                  .ok());
  ASSERT_TRUE(p->Consume(Request("b")
                             .Sum("inflight", false, false, 5, kT0, kT0 + kSec)
                             .Gauge("temp", 22, kT0 + 2 * kSec)
                             .Envelope())
                  .ok());
  ASSERT_TRUE(p->Flush().ok());
  EXPECT_EQ(SumOf("bytes"), 300);
  EXPECT_EQ(SumOf("inflight"), 12);
  EXPECT_FALSE(Emitted("inflight")[0].sum().is_monotonic());
  EXPECT_EQ(GaugeOf("temp"), 42);
  // b goes quiet past stale_after: it no longer counts.
  now_ += 61 * kSec;
  ASSERT_TRUE(p->Consume(Request("a")
                             .Sum("inflight", false, false, 3, kT0, kT0 + 70 * kSec)
                             .Gauge("temp", 21, kT0 + 70 * kSec)
                             .Sum("bytes", true, true, 100, kT0 + 69 * kSec, kT0 + 70 * kSec)
                             .Envelope())
                  .ok());
  ASSERT_TRUE(p->Flush().ok());
  EXPECT_EQ(SumOf("inflight"), 3);
  EXPECT_EQ(GaugeOf("temp"), 21);
  EXPECT_EQ(SumOf("bytes"), 400);
}

TEST_F(AggregateTest, GaugesByLastAndMax) {
  for (const char* how : {"last", "max"}) {
    SCOPED_TRACE(how);
    AggregateConfig config;
    config.gauge_aggregation = how;
    auto p = Make(config);
    ASSERT_TRUE(p->Consume(Request("a").Gauge("temp", 30, kT0 + 1 * kSec).Envelope()).ok());
    ASSERT_TRUE(p->Consume(Request("b").Gauge("temp", 10, kT0 + 2 * kSec).Envelope()).ok());
    ASSERT_TRUE(p->Flush().ok());
    EXPECT_EQ(GaugeOf("temp"), std::string(how) == "last" ? 10 : 30);
  }
}

TEST_F(AggregateTest, OldPointsTypeChangesAndStreamsBeyondTheLimitAreDroppedAndCounted) {
  AggregateConfig config;
  config.max_streams = 2;
  auto p = Make(config);
  auto dropped = [](const char* reason) {
    return MetricValue("tributary_dropped_records_total",
                       {{"component", "aggregate/test"}, {"reason", reason}});
  };
  const double old_before = dropped("out_of_order"), type_before = dropped("type_changed"),
               limit_before = dropped("stream_limit");
  ASSERT_TRUE(
      p->Consume(Request("a").Sum("orders", true, false, 10, kT0, kT0 + 5 * kSec).Envelope()).ok());
  // Sent again (a retry), and older: neither counts twice.
  ASSERT_TRUE(
      p->Consume(Request("a").Sum("orders", true, false, 10, kT0, kT0 + 5 * kSec).Envelope()).ok());
  ASSERT_TRUE(
      p->Consume(Request("a").Sum("orders", true, false, 8, kT0, kT0 + 4 * kSec).Envelope()).ok());
  // The same series as an up-down counter.
  ASSERT_TRUE(
      p->Consume(Request("b").Sum("orders", false, false, 1, kT0, kT0 + 5 * kSec).Envelope()).ok());
  ASSERT_TRUE(
      p->Consume(Request("b").Sum("orders", true, false, 1, kT0, kT0 + 5 * kSec).Envelope()).ok());
  ASSERT_TRUE(
      p->Consume(Request("c").Sum("orders", true, false, 1, kT0, kT0 + 5 * kSec).Envelope()).ok());
  ASSERT_TRUE(p->Flush().ok());
  EXPECT_EQ(SumOf("orders"), 11);
  EXPECT_EQ(dropped("out_of_order"), old_before + 2);
  EXPECT_EQ(dropped("type_changed"), type_before + 1);
  EXPECT_EQ(dropped("stream_limit"), limit_before + 1);
  EXPECT_EQ(p->input_streams(), 2u);
}

TEST_F(AggregateTest, SummariesAndExponentialHistogramsPassThroughWithTheirAcknowledgement) {
  auto p = Make();
  Request r("a");
  r.Sum("orders", true, false, 1, kT0, kT0 + kSec);
  auto* q = r.Metric("rpc.latency")->mutable_summary()->add_data_points();
  q->set_count(3);
  q->set_sum(9);
  auto* x = r.Metric("http.duration")->mutable_exponential_histogram()->add_data_points();
  x->set_count(2);
  x->set_scale(3);
  x->mutable_positive()->add_bucket_counts(2);
  absl::Status acked = absl::UnknownError("not yet");
  core::Envelope e = r.Envelope();
  e.acks.push_back(std::make_shared<core::Ack>([&](const absl::Status& s) { acked = s; }));
  ASSERT_TRUE(p->Consume(std::move(e)).ok());
  std::vector<core::Batch> batches = out_.batches();
  ASSERT_EQ(batches.size(), 1u);
  const auto& passed = batches[0].metrics();
  const auto& metrics = passed.resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(metrics.size(), 2);
  EXPECT_EQ(metrics[0].name(), "rpc.latency");
  EXPECT_EQ(metrics[0].summary().data_points(0).count(), 3u);
  EXPECT_EQ(metrics[1].name(), "http.duration");
  EXPECT_EQ(metrics[1].exponential_histogram().data_points(0).scale(), 3);
  EXPECT_EQ(metrics[1].exponential_histogram().data_points(0).positive().bucket_counts(0), 2u);
  EXPECT_TRUE(acked.ok());
}

TEST(AggregateConfigTest, BadValuesNameTheirKey) {
  auto errors = [](const std::string& yaml) {
    core::ConfigErrors e;
    AggregateConfig config;
    core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "processors.aggregate", &e, config);
    return e.ToString();
  };
  EXPECT_EQ(errors("drop_attributes: [k8s.pod.name]\ninterval: 5s\ngauge_aggregation: max\n"), "");
  EXPECT_THAT(errors("gauge_aggregation: avg"),
              HasSubstr("gauge_aggregation must be last, sum or max"));
  EXPECT_THAT(errors("drop_attributes: [a, a]"),
              HasSubstr("drop_attributes[1]: 'a' is listed twice"));
  EXPECT_THAT(errors("max_streams: 0"), HasSubstr("max_streams must be at least 1"));
  EXPECT_THAT(errors("interval: 0s"), HasSubstr("interval must be positive"));
}

}  // namespace
}  // namespace tributary::processors::aggregate
