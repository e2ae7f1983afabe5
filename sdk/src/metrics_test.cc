#include <gtest/gtest.h>

#include <thread>

#include "test_support.h"

namespace tributary::sdk {
namespace {

using detail::Access;
using detail::SdkState;
using testing::AttrString;
using testing::Collect;
using testing::FindMetric;

std::map<std::string, int64_t> SumPoints(const testing::otlp::metrics::v1::Metric& m) {
  std::map<std::string, int64_t> out;
  for (const auto& p : m.sum().data_points()) out[AttrString(p)] = p.as_int();
  return out;
}

TEST(Metrics, CounterFromManyThreadsBoundAndUnboundSumsExactly) {
  SdkState sdk(testing::QuietOptions());
  Meter meter = Access::Make<Meter>(sdk.Meter("test", "1.0"));
  Counter c = meter.CreateCounter("requests", "{request}", "Requests served");
  BoundCounter bound = c.Bind({{"route", "/a"}});
  constexpr int kThreads = 12;  // more than the exclusive stripes: some share one
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        bound.Add(1);
        c.Add(2, {{"route", "/b"}, {"code", 200}});
      }
    });
  }
  for (auto& t : threads) t.join();
  auto req = Collect(sdk);
  const auto* m = FindMetric(req, "requests");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->unit(), "{request}");
  EXPECT_EQ(m->description(), "Requests served");
  EXPECT_TRUE(m->sum().is_monotonic());
  EXPECT_EQ(m->sum().aggregation_temporality(),
            testing::otlp::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto points = SumPoints(*m);
  EXPECT_EQ(points["route=/a"], kThreads * kPerThread);
  EXPECT_EQ(points["code=200,route=/b"], 2 * kThreads * kPerThread);
  EXPECT_EQ(points.size(), 2u);
  EXPECT_EQ(req.resource_metrics(0).scope_metrics(0).scope().name(), "test");
  EXPECT_EQ(req.resource_metrics(0).scope_metrics(0).scope().version(), "1.0");
}

TEST(Metrics, AttributeOrderDoesNotMakeANewSeriesAndNegativeCounterAddsAreIgnored) {
  SdkState sdk(testing::QuietOptions());
  Meter meter = Access::Make<Meter>(sdk.Meter("test", ""));
  Counter c = meter.CreateCounter("c");
  c.Add(1, {{"a", "x"}, {"b", 2}, {"c", true}});
  c.Add(1, {{"c", true}, {"a", "x"}, {"b", 2}});
  c.Add(-5, {{"a", "x"}, {"b", 2}, {"c", true}});
  c.Add(1, {{"a", "x"}, {"b", 2.0}, {"c", true}});  // a double is not the int 2
  auto points = SumPoints(*FindMetric(Collect(sdk), "c"));
  EXPECT_EQ(points["a=x,b=2,c=true"], 2);
  EXPECT_EQ(points["a=x,b=2.000000,c=true"], 1);
  EXPECT_EQ(points.size(), 2u);
  // The same name gives the same instrument.
  meter.CreateCounter("c").Add(1, {{"a", "x"}, {"b", 2}, {"c", true}});
  EXPECT_EQ(SumPoints(*FindMetric(Collect(sdk), "c"))["a=x,b=2,c=true"], 3);
}

TEST(Metrics, ValuesThatHashAlikeAreStillSeparateSeries) {
  // The attribute hash samples the first, middle and last bytes of long
  // strings; these differ elsewhere.
  SdkState sdk(testing::QuietOptions());
  Counter c = Access::Make<Meter>(sdk.Meter("t", "")).CreateCounter("c");
  std::string a(40, 'x'), b(40, 'x');
  b[10] = 'y';
  for (int i = 0; i < 3; ++i) c.Add(1, {{"path", a}});
  c.Add(1, {{"path", b}});
  auto points = SumPoints(*FindMetric(Collect(sdk), "c"));
  EXPECT_EQ(points["path=" + a], 3);
  EXPECT_EQ(points["path=" + b], 1);
}

TEST(Metrics, UpDownCounterGoesDown) {
  SdkState sdk(testing::QuietOptions());
  UpDownCounter c = Access::Make<Meter>(sdk.Meter("t", "")).CreateUpDownCounter("queue");
  c.Add(10);
  c.Bind({}).Add(-3);
  auto req_m = Collect(sdk);
  const auto* m = FindMetric(req_m, "queue");
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->sum().is_monotonic());
  EXPECT_EQ(m->sum().data_points(0).as_int(), 7);
}

TEST(Metrics, HistogramBucketsSumMinMax) {
  SdkState sdk(testing::QuietOptions());
  Histogram h =
      Access::Make<Meter>(sdk.Meter("t", "")).CreateHistogram("latency", "ms", "", {1, 10, 100});
  BoundHistogram b = h.Bind({{"route", "/x"}});
  for (double v : {0.5, 1.0, 5.0, 10.0, 50.0, 500.0, 1000.0}) b.Record(v);
  std::thread other([&] { b.Record(2.0); });
  other.join();
  auto req_m = Collect(sdk);
  const auto* m = FindMetric(req_m, "latency");
  ASSERT_NE(m, nullptr);
  const auto& p = m->histogram().data_points(0);
  EXPECT_EQ(AttrString(p), "route=/x");
  EXPECT_EQ(p.count(), 8u);
  EXPECT_DOUBLE_EQ(p.sum(), 1568.5);
  EXPECT_DOUBLE_EQ(p.min(), 0.5);
  EXPECT_DOUBLE_EQ(p.max(), 1000.0);
  ASSERT_EQ(p.explicit_bounds_size(), 3);
  // (-inf,1] (1,10] (10,100] (100,+inf)
  ASSERT_EQ(p.bucket_counts_size(), 4);
  EXPECT_EQ(p.bucket_counts(0), 2u);
  EXPECT_EQ(p.bucket_counts(1), 3u);
  EXPECT_EQ(p.bucket_counts(2), 1u);
  EXPECT_EQ(p.bucket_counts(3), 2u);
}

TEST(Metrics, GaugeKeepsTheLastValue) {
  SdkState sdk(testing::QuietOptions());
  Gauge g = Access::Make<Meter>(sdk.Meter("t", "")).CreateGauge("temperature");
  g.Record(20.5, {{"room", "a"}});
  g.Record(21.5, {{"room", "a"}});
  auto req_m = Collect(sdk);
  const auto* m = FindMetric(req_m, "temperature");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->gauge().data_points_size(), 1);
  EXPECT_DOUBLE_EQ(m->gauge().data_points(0).as_double(), 21.5);
}

TEST(Metrics, SeriesBeyondTheCardinalityLimitGoToTheOverflowSeries) {
  SdkOptions o = testing::QuietOptions();
  o.cardinality_limit = 10;
  SdkState sdk(o);
  Counter c = Access::Make<Meter>(sdk.Meter("t", "")).CreateCounter("c");
  for (int i = 0; i < 50; ++i) c.Add(1, {{"user", i}});
  for (int i = 0; i < 5; ++i) c.Add(1, {{"user", i}});
  auto points = SumPoints(*FindMetric(Collect(sdk), "c"));
  EXPECT_EQ(points.size(), 11u);
  EXPECT_EQ(points["otel.metric.overflow=true"], 40);
  EXPECT_EQ(points["user=0"], 2);
}

TEST(Metrics, DeltaTemporalityReportsTheChangeSinceTheLastCollection) {
  SdkOptions o = testing::QuietOptions();
  o.temporality = Temporality::kDelta;
  SdkState sdk(o);
  Meter meter = Access::Make<Meter>(sdk.Meter("t", ""));
  Counter c = meter.CreateCounter("c");
  Histogram h = meter.CreateHistogram("h", "", "", {10});
  c.Add(5);
  h.Record(1);
  auto first = Collect(sdk);
  c.Add(3);
  h.Record(20);
  h.Record(30);
  auto second = Collect(sdk);
  const auto* c2 = FindMetric(second, "c");
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->sum().aggregation_temporality(),
            testing::otlp::metrics::v1::AGGREGATION_TEMPORALITY_DELTA);
  EXPECT_EQ(c2->sum().data_points(0).as_int(), 3);
  EXPECT_EQ(c2->sum().data_points(0).start_time_unix_nano(),
            FindMetric(first, "c")->sum().data_points(0).time_unix_nano());
  const auto& hp = FindMetric(second, "h")->histogram().data_points(0);
  EXPECT_EQ(hp.count(), 2u);
  EXPECT_DOUBLE_EQ(hp.sum(), 50);
  EXPECT_EQ(hp.bucket_counts(0), 0u);
  EXPECT_EQ(hp.bucket_counts(1), 2u);
  // Nothing new: no point.
  EXPECT_EQ(FindMetric(Collect(sdk), "c"), nullptr);
}

TEST(Metrics, ObservableCallbacksRunAtCollection) {
  SdkState sdk(testing::QuietOptions());
  Meter meter = Access::Make<Meter>(sdk.Meter("t", ""));
  int calls = 0;
  meter.CreateObservableGauge("memory", [&](ObserverResult& r) {
    ++calls;
    r.Observe(42.5, {{"kind", "heap"}});
    r.Observe(7, {{"kind", "stack"}});
  });
  meter.CreateObservableCounter("cpu", [](ObserverResult& r) { r.Observe(1.5); });
  meter.CreateObservableUpDownCounter(
      "threads", [](ObserverResult&) { throw 1; });  // a throwing callback is contained
  auto req = Collect(sdk);
  EXPECT_EQ(calls, 1);
  const auto* m = FindMetric(req, "memory");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->gauge().data_points_size(), 2);
  EXPECT_EQ(AttrString(m->gauge().data_points(0)), "kind=heap");
  EXPECT_DOUBLE_EQ(m->gauge().data_points(0).as_double(), 42.5);
  const auto* cpu = FindMetric(req, "cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_TRUE(cpu->sum().is_monotonic());
  EXPECT_DOUBLE_EQ(cpu->sum().data_points(0).as_double(), 1.5);
  EXPECT_EQ(FindMetric(req, "threads"), nullptr);
}

TEST(Metrics, SelfMetricsCountDrops) {
  SdkOptions o = testing::QuietOptions();
  o.span_queue_size = 4;
  SdkState sdk(o);
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  for (int i = 0; i < 10; ++i) tracer.StartSpan("s");  // nobody drains: 4 fit
  auto req = Collect(sdk);
  const auto* m = FindMetric(req, "tributary.sdk.dropped");
  ASSERT_NE(m, nullptr);
  auto points = SumPoints(*m);
  EXPECT_EQ(points["reason=queue_full,signal=spans"], 6);
  EXPECT_EQ(sdk.Stats().spans_dropped, 6u);
}

}  // namespace
}  // namespace tributary::sdk
