#include "processors/cardinality/cardinality_processor.h"

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::processors::cardinality {
namespace {

using core::testing::RecordingConsumer;

// One gauge `name` with a point per user id in [first, first + n).
core::Envelope Gauge(const std::string& name, int first, int n) {
  core::MetricsRequest r;
  auto* rm = r.add_resource_metrics();
  auto* kv = rm->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("api");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name(name);
  for (int i = first; i < first + n; ++i) {
    auto* p = m->mutable_gauge()->add_data_points();
    p->set_as_int(i);
    auto* a = p->add_attributes();
    a->set_key("user");
    a->mutable_value()->set_string_value("u" + std::to_string(i));
    auto* b = p->add_attributes();
    b->set_key("route");
    b->mutable_value()->set_string_value("/");
  }
  core::Envelope e;
  e.batch = std::make_shared<const core::Batch>(std::move(r));
  return e;
}

std::vector<std::string> Users(const core::Batch& b) {
  std::vector<std::string> out;
  for (const auto& p :
       b.metrics().resource_metrics(0).scope_metrics(0).metrics(0).gauge().data_points()) {
    out.push_back(p.attributes(0).key() == "otel_metric_overflow"
                      ? "overflow"
                      : p.attributes(0).value().string_value());
  }
  return out;
}

TEST(CardinalityProcessor, PointsOfSeriesBeyondTheLimitGoToTheOverflowSeries) {
  RecordingConsumer out;
  CardinalityConfig config;
  config.max_series_per_metric = 3;
  CardinalityProcessor p("cardinality", config, &out);
  const double overflow_before = core::testing::MetricValue(
      "tributary_processor_overflow_points_total", {{"processor", "cardinality"}});
  ASSERT_TRUE(p.Consume(Gauge("active", 0, 2)).ok());
  ASSERT_TRUE(p.Consume(Gauge("active", 0, 5)).ok());  // u0, u1 known; u2 new; u3, u4 over
  std::vector<core::Batch> got = out.batches();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(Users(got[0]), (std::vector<std::string>{"u0", "u1"}));
  EXPECT_EQ(Users(got[1]), (std::vector<std::string>{"u0", "u1", "u2", "overflow", "overflow"}));
  EXPECT_EQ(got[1].record_count(), 5u);  // no point is lost
  EXPECT_EQ(p.series("active"), 3u);
  EXPECT_EQ(core::testing::MetricValue("tributary_processor_overflow_points_total",
                                       {{"processor", "cardinality"}}) -
                overflow_before,
            2);
  // The overflow points keep their resource.
  EXPECT_EQ(got[1].metrics().resource_metrics_size(), 1);
  EXPECT_EQ(got[1].metrics().resource_metrics(0).resource().attributes_size(),
            got[0].metrics().resource_metrics(0).resource().attributes_size());
  // Another metric has its own budget.
  ASSERT_TRUE(p.Consume(Gauge("other", 10, 3)).ok());
  EXPECT_EQ(Users(out.batches()[2]), (std::vector<std::string>{"u10", "u11", "u12"}));
}

TEST(CardinalityProcessor, SeriesNotSeenForTheTtlStopCounting) {
  RecordingConsumer out;
  CardinalityConfig config;
  config.max_series_per_metric = 2;
  config.series_ttl = std::chrono::seconds(60);
  CardinalityProcessor p("cardinality", config, &out);
  const auto t0 = CardinalityProcessor::Clock::now();
  p.SetNowForTest(t0);
  ASSERT_TRUE(p.Consume(Gauge("active", 0, 2)).ok());
  p.SetNowForTest(t0 + std::chrono::minutes(5));
  ASSERT_TRUE(p.Consume(Gauge("active", 5, 2)).ok());
  EXPECT_EQ(Users(out.batches()[1]), (std::vector<std::string>{"u5", "u6"}));
}

TEST(CardinalityProcessor, OtherSignalsPassUntouched) {
  RecordingConsumer out;
  CardinalityProcessor p("cardinality", CardinalityConfig{}, &out);
  core::Envelope e;
  e.batch = std::make_shared<const core::Batch>(core::testing::MakeSpans(2));
  ASSERT_TRUE(p.Consume(std::move(e)).ok());
  EXPECT_EQ(out.records(), 2u);
}

}  // namespace
}  // namespace tributary::processors::cardinality
