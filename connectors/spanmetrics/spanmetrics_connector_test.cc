#include "connectors/spanmetrics/spanmetrics_connector.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/config.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::connectors::spanmetrics {
namespace {

using opentelemetry::proto::metrics::v1::HistogramDataPoint;
using opentelemetry::proto::metrics::v1::Metric;
using opentelemetry::proto::metrics::v1::NumberDataPoint;
using opentelemetry::proto::trace::v1::Span;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kStart = 1700000000000000000ull;
constexpr uint64_t kMs = 1000000;

// Spans of one resource, added one by one.
class Spans {
 public:
  Spans(const Spans&) = delete;  // scope_ points into request_
  static Spans With(const std::map<std::string, std::string>& resource) { return Spans(resource); }
  explicit Spans(const std::map<std::string, std::string>& resource) {
    auto* rs = request_.add_resource_spans();
    for (const auto& [k, v] : resource) {
      auto* kv = rs->mutable_resource()->add_attributes();
      kv->set_key(k);
      kv->mutable_value()->set_string_value(v);
    }
    scope_ = rs->add_scope_spans();
  }
  Span& Add(const std::string& name, uint64_t duration_ns, int kind = Span::SPAN_KIND_SERVER,
            int status = 0) {
    Span* s = scope_->add_spans();
    s->set_name(name);
    s->set_kind(static_cast<Span::SpanKind>(kind));
    s->mutable_status()->set_code(
        static_cast<opentelemetry::proto::trace::v1::Status::StatusCode>(status));
    const int n = scope_->spans_size();
    std::string trace(16, '\x01'), id(8, '\x02');
    trace[15] = static_cast<char>(n);
    id[7] = static_cast<char>(n);
    s->set_trace_id(trace);
    s->set_span_id(id);
    s->set_start_time_unix_nano(kStart);
    s->set_end_time_unix_nano(kStart + duration_ns);
    return *s;
  }
  core::Envelope Envelope() const {
    return core::Envelope{std::make_shared<const core::Batch>(core::TracesRequest(request_)), {}};
  }

 private:
  core::TracesRequest request_;
  opentelemetry::proto::trace::v1::ScopeSpans* scope_;
};

std::string Attr(const google::protobuf::RepeatedPtrField<
                     opentelemetry::proto::common::v1::KeyValue>& attributes,
                 const std::string& key) {
  for (const auto& kv : attributes) {
    if (kv.key() == key) {
      return kv.value().has_string_value() ? kv.value().string_value()
                                           : kv.value().ShortDebugString();
    }
  }
  return "<absent>";
}

class SpanMetricsTest : public ::testing::Test {
 protected:
  std::unique_ptr<SpanMetricsConnector> Make(SpanMetricsConfig config) {
    EXPECT_TRUE(config.Validate().ok()) << config.Validate();
    return std::make_unique<SpanMetricsConnector>("spanmetrics/test", std::move(config), &out_,
                                                  "instance-1", [this] { return now_; });
  }
  // The metrics of the last batch emitted, by name.
  std::map<std::string, std::vector<const Metric*>> Last() {
    batches_ = out_.batches();
    std::map<std::string, std::vector<const Metric*>> by_name;
    if (batches_.empty()) return by_name;
    for (const auto& rm : batches_.back().metrics().resource_metrics()) {
      for (const auto& sm : rm.scope_metrics()) {
        EXPECT_EQ(sm.scope().name(), "spanmetricsconnector");
        for (const auto& m : sm.metrics()) by_name[m.name()].push_back(&m);
      }
    }
    return by_name;
  }
  // Calls by "service|span|kind|status" over every resource of the last batch.
  std::map<std::string, int64_t> Calls() {
    std::map<std::string, int64_t> out;
    auto metrics = Last();
    for (const Metric* m : metrics["traces.span.metrics.calls"]) {
      for (const NumberDataPoint& p : m->sum().data_points()) {
        out[Attr(p.attributes(), "service.name") + "|" + Attr(p.attributes(), "span.name") + "|" +
            Attr(p.attributes(), "span.kind") + "|" + Attr(p.attributes(), "status.code")] +=
            p.as_int();
      }
    }
    return out;
  }

  core::testing::RecordingConsumer out_;
  std::vector<core::Batch> batches_;
  uint64_t now_ = kStart + 60000 * kMs;
};

TEST_F(SpanMetricsTest, CountsCallsAndDurationsPerServiceSpanKindAndStatus) {
  auto c = Make({});
  Spans spans = Spans::With({{"service.name", "frontend"}, {"k8s.pod.name", "a"}});
  spans.Add("GET /", 3 * kMs);
  spans.Add("GET /", 150 * kMs);
  spans.Add("GET /", 20 * kMs, Span::SPAN_KIND_SERVER, /*error*/ 2);
  spans.Add("SELECT", 1 * kMs, Span::SPAN_KIND_CLIENT);
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  Spans nameless = Spans::With({});
  nameless.Add("work", 5 * kMs, Span::SPAN_KIND_INTERNAL).set_end_time_unix_nano(kStart - 1);
  ASSERT_TRUE(c->Consume(nameless.Envelope()).ok());
  EXPECT_EQ(c->series(), 4u);
  ASSERT_TRUE(c->Flush().ok());

  EXPECT_THAT(Calls(),
              ::testing::UnorderedElementsAre(
                  std::pair{"frontend|GET /|SPAN_KIND_SERVER|STATUS_CODE_UNSET", 2},
                  std::pair{"frontend|GET /|SPAN_KIND_SERVER|STATUS_CODE_ERROR", 1},
                  std::pair{"frontend|SELECT|SPAN_KIND_CLIENT|STATUS_CODE_UNSET", 1},
                  std::pair{"unknown_service|work|SPAN_KIND_INTERNAL|STATUS_CODE_UNSET", 1}));
  auto metrics = Last();
  ASSERT_EQ(metrics["traces.span.metrics.duration"].size(), 2u);  // one per resource
  const auto& resources = batches_.back().metrics().resource_metrics();
  ASSERT_EQ(resources.size(), 2);
  for (const auto& rm : resources) {
    const Metric& calls = rm.scope_metrics(0).metrics(0);
    EXPECT_TRUE(calls.sum().is_monotonic());
    EXPECT_EQ(calls.sum().aggregation_temporality(),
              opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
    const Metric& duration = rm.scope_metrics(0).metrics(1);
    EXPECT_EQ(duration.unit(), "ms");
    for (const HistogramDataPoint& p : duration.histogram().data_points()) {
      EXPECT_EQ(Attr(p.attributes(), "collector.instance.id"), "instance-1");
      EXPECT_EQ(p.explicit_bounds_size(), 16);
      EXPECT_EQ(p.bucket_counts_size(), 17);
      EXPECT_EQ(p.time_unix_nano(), now_);
      EXPECT_EQ(p.start_time_unix_nano(), now_);
      uint64_t sum = 0;
      for (uint64_t b : p.bucket_counts()) sum += b;
      EXPECT_EQ(sum, p.count());
      if (Attr(p.attributes(), "span.name") == "GET /" &&
          Attr(p.attributes(), "status.code") == "STATUS_CODE_UNSET") {
        EXPECT_EQ(p.count(), 2u);
        EXPECT_DOUBLE_EQ(p.sum(), 153.0);
        EXPECT_EQ(p.bucket_counts(1), 1u);  // 3 ms in (2, 4]
        EXPECT_EQ(p.bucket_counts(7), 1u);  // 150 ms in (100, 200]
      }
      if (Attr(p.attributes(), "span.name") == "work") {
        // Ends before it starts: counted with duration 0.
        EXPECT_EQ(p.count(), 1u);
        EXPECT_EQ(p.sum(), 0.0);
        EXPECT_EQ(p.bucket_counts(0), 1u);
      }
    }
  }
  EXPECT_EQ(Attr(resources[0].resource().attributes(), "service.name") == "frontend"
                ? Attr(resources[0].resource().attributes(), "k8s.pod.name")
                : Attr(resources[1].resource().attributes(), "k8s.pod.name"),
            "a");
}

TEST_F(SpanMetricsTest, ABucketBoundIsTheUpperEndOfItsBucketAndSecondsAreAUnit) {
  SpanMetricsConfig config;
  config.histogram.unit = "s";
  config.histogram.explicit_buckets.buckets = {std::chrono::milliseconds(100),
                                               std::chrono::seconds(1)};
  auto c = Make(config);
  Spans spans = Spans::With({{"service.name", "s"}});
  spans.Add("a", 100 * kMs);
  spans.Add("a", 1000 * kMs + 1);
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  ASSERT_TRUE(c->Flush().ok());
  const Metric* d = Last()["traces.span.metrics.duration"].at(0);
  EXPECT_EQ(d->unit(), "s");
  const HistogramDataPoint& p = d->histogram().data_points(0);
  EXPECT_THAT(p.explicit_bounds(), ElementsAre(0.1, 1.0));
  EXPECT_THAT(p.bucket_counts(), ElementsAre(1u, 0u, 1u));
}

TEST_F(SpanMetricsTest, DimensionsComeFromTheSpanThenTheResourceThenTheDefault) {
  SpanMetricsConfig config;
  config.dimensions = {
      {"http.method", "GET"}, {"region", std::nullopt}, {"http.route", std::nullopt}};
  config.exclude_dimensions = {"collector.instance.id", "span.kind"};
  auto c = Make(config);
  Spans spans =
      Spans::With({{"service.name", "s"}, {"region", "eu"}, {"http.route", "/from-resource"}});
  auto set = [](Span& s, const std::string& k, const std::string& v) {
    auto* kv = s.add_attributes();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  };
  set(spans.Add("a", kMs), "http.method", "POST");
  spans.Add("a", kMs);
  set(spans.Add("a", kMs), "http.route", "/from-span");
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  ASSERT_TRUE(c->Flush().ok());
  std::map<std::string, int64_t> seen;
  for (const NumberDataPoint& p : Last()["traces.span.metrics.calls"].at(0)->sum().data_points()) {
    EXPECT_EQ(Attr(p.attributes(), "collector.instance.id"), "<absent>");
    EXPECT_EQ(Attr(p.attributes(), "span.kind"), "<absent>");
    seen[Attr(p.attributes(), "http.method") + " " + Attr(p.attributes(), "region") + " " +
         Attr(p.attributes(), "http.route")] += p.as_int();
  }
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre(std::pair{"POST eu /from-resource", 1},
                                                    std::pair{"GET eu /from-resource", 1},
                                                    std::pair{"GET eu /from-span", 1}));
}

TEST_F(SpanMetricsTest, CumulativeTotalsGrowAndDeltasStartOverEachFlush) {
  for (bool delta : {false, true}) {
    SCOPED_TRACE(delta ? "delta" : "cumulative");
    SpanMetricsConfig config;
    if (delta) config.aggregation_temporality = "AGGREGATION_TEMPORALITY_DELTA";
    auto c = Make(config);
    Spans first = Spans::With({{"service.name", "s"}});
    first.Add("a", kMs);
    first.Add("b", kMs);
    ASSERT_TRUE(c->Consume(first.Envelope()).ok());
    const uint64_t created = now_;
    ASSERT_TRUE(c->Flush().ok());
    now_ += 15000 * kMs;
    Spans second = Spans::With({{"service.name", "s"}});
    second.Add("a", kMs);
    ASSERT_TRUE(c->Consume(second.Envelope()).ok());
    ASSERT_TRUE(c->Flush().ok());
    std::map<std::string, int64_t> calls = Calls();
    if (delta) {
      // b had no spans in the interval: not emitted.
      EXPECT_THAT(calls, ElementsAre(std::pair{"s|a|SPAN_KIND_SERVER|STATUS_CODE_UNSET", 1}));
      const auto& p = Last()["traces.span.metrics.calls"].at(0)->sum().data_points(0);
      EXPECT_EQ(p.start_time_unix_nano(), created);
      EXPECT_EQ(p.time_unix_nano(), now_);
    } else {
      EXPECT_THAT(calls, ElementsAre(std::pair{"s|a|SPAN_KIND_SERVER|STATUS_CODE_UNSET", 2},
                                     std::pair{"s|b|SPAN_KIND_SERVER|STATUS_CODE_UNSET", 1}));
      for (const auto& p : Last()["traces.span.metrics.calls"].at(0)->sum().data_points()) {
        EXPECT_EQ(p.start_time_unix_nano(), created);
      }
    }
    now_ += 15000 * kMs;
  }
}

TEST_F(SpanMetricsTest, SeriesWithoutSpansExpire) {
  SpanMetricsConfig config;
  config.metrics_expiration = std::chrono::minutes(1);
  auto c = Make(config);
  Spans a = Spans::With({{"service.name", "s"}});
  a.Add("a", kMs);
  ASSERT_TRUE(c->Consume(a.Envelope()).ok());
  now_ += 30000 * kMs;
  Spans b = Spans::With({{"service.name", "s"}});
  b.Add("b", kMs);
  ASSERT_TRUE(c->Consume(b.Envelope()).ok());
  now_ += 45000 * kMs;  // a last seen 75 s ago, b 45 s ago
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_THAT(Calls(), ElementsAre(std::pair{"s|b|SPAN_KIND_SERVER|STATUS_CODE_UNSET", 1}));
  EXPECT_EQ(c->series(), 1u);
  now_ += 60001 * kMs;
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(c->series(), 0u);
  EXPECT_EQ(out_.batches().size(), 1u);  // nothing left to emit the second time
}

TEST_F(SpanMetricsTest, SeriesBeyondTheLimitGoToTheOverflowSeriesAndAreCounted) {
  SpanMetricsConfig config;
  config.aggregation_cardinality_limit = 3;
  auto c = Make(config);
  const double before = core::testing::MetricValue("tributary_connector_overflow_spans_total",
                                                   {{"connector", "spanmetrics/test"}});
  Spans spans = Spans::With({{"service.name", "s"}});
  for (int i = 0; i < 10; ++i) spans.Add("op" + std::to_string(i), kMs);
  spans.Add("op0", kMs);  // a known series keeps counting
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  EXPECT_EQ(c->series(), 4u);  // three and the overflow series
  ASSERT_TRUE(c->Flush().ok());
  int64_t total = 0, overflow = 0, op0 = 0;
  for (const NumberDataPoint& p : Last()["traces.span.metrics.calls"].at(0)->sum().data_points()) {
    total += p.as_int();
    if (p.attributes_size() == 1 && p.attributes(0).key() == "otel_metric_overflow") {
      EXPECT_TRUE(p.attributes(0).value().bool_value());
      overflow += p.as_int();
    }
    if (Attr(p.attributes(), "span.name") == "op0") op0 = p.as_int();
  }
  EXPECT_EQ(total, 11);
  EXPECT_EQ(overflow, 7);
  EXPECT_EQ(op0, 2);
  EXPECT_EQ(core::testing::MetricValue("tributary_connector_overflow_spans_total",
                                       {{"connector", "spanmetrics/test"}}),
            before + 7);
}

TEST_F(SpanMetricsTest, ExemplarsAreTheLatestSpansOfTheInterval) {
  SpanMetricsConfig config;
  config.exemplars.enabled = true;
  config.exemplars.max_per_data_point = 2;
  auto c = Make(config);
  Spans spans = Spans::With({{"service.name", "s"}});
  for (int i = 1; i <= 5; ++i) spans.Add("a", i * kMs);
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  ASSERT_TRUE(c->Flush().ok());
  const HistogramDataPoint& p =
      Last()["traces.span.metrics.duration"].at(0)->histogram().data_points(0);
  ASSERT_EQ(p.exemplars_size(), 2);
  std::vector<double> values;
  for (const auto& e : p.exemplars()) {
    values.push_back(e.as_double());
    EXPECT_EQ(e.trace_id().size(), 16u);
    EXPECT_EQ(e.span_id().size(), 8u);
    EXPECT_EQ(static_cast<int>(e.trace_id()[15]), static_cast<int>(e.as_double()));
    EXPECT_EQ(e.time_unix_nano(), kStart + static_cast<uint64_t>(e.as_double()) * kMs);
  }
  EXPECT_THAT(values, ::testing::UnorderedElementsAre(4.0, 5.0));
  // Cleared with each flush.
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(
      Last()["traces.span.metrics.duration"].at(0)->histogram().data_points(0).exemplars_size(), 0);
}

TEST_F(SpanMetricsTest, RefusedDeltasAreSentWithTheNextFlush) {
  SpanMetricsConfig config;
  config.aggregation_temporality = "AGGREGATION_TEMPORALITY_DELTA";
  auto c = Make(config);
  Spans spans = Spans::With({{"service.name", "s"}});
  spans.Add("a", kMs);
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  out_.refuse_status = absl::ResourceExhaustedError("full");
  EXPECT_EQ(c->Flush().code(), absl::StatusCode::kResourceExhausted);
  out_.refuse_status = absl::OkStatus();
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  ASSERT_TRUE(c->Flush().ok());
  std::vector<core::Batch> batches = out_.batches();
  ASSERT_EQ(batches.size(), 2u);
  int64_t total = 0;
  for (const auto& b : batches) {
    for (const auto& rm : b.metrics().resource_metrics()) {
      total += rm.scope_metrics(0).metrics(0).sum().data_points(0).as_int();
    }
  }
  EXPECT_EQ(total, 2);
}

TEST_F(SpanMetricsTest, DeltasOfAtMostSixteenRefusedFlushesAreKeptTheRestCounted) {
  SpanMetricsConfig config;
  config.aggregation_temporality = "AGGREGATION_TEMPORALITY_DELTA";
  config.histogram.disable = true;
  auto c = Make(config);
  const double unsent_before = core::testing::MetricValue("tributary_connector_unsent_points_total",
                                                          {{"connector", "spanmetrics/test"}});
  Spans spans = Spans::With({{"service.name", "s"}});
  spans.Add("a", kMs);
  out_.refuse_status = absl::UnavailableError("down");
  // 20 flushes of one call each, all refused: the oldest 4 are given up.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
    EXPECT_FALSE(c->Flush().ok());
  }
  EXPECT_EQ(core::testing::MetricValue("tributary_connector_unsent_points_total",
                                       {{"connector", "spanmetrics/test"}}),
            unsent_before + 4);
  out_.refuse_status = absl::OkStatus();
  ASSERT_TRUE(c->Flush().ok());
  int64_t total = 0;
  for (const auto& b : out_.batches()) {
    for (const auto& rm : b.metrics().resource_metrics()) {
      total += rm.scope_metrics(0).metrics(0).sum().data_points(0).as_int();
    }
  }
  EXPECT_EQ(total, 16);  // the 16 kept flushes, in order, then nothing new
  EXPECT_EQ(out_.batches().size(), 16u);
}

TEST_F(SpanMetricsTest, AFlushOfManySeriesGoesInRequestsOfAThousandSeries) {
  auto c = Make({});
  Spans spans = Spans::With({{"service.name", "s"}});
  for (int i = 0; i < 2500; ++i) spans.Add("op" + std::to_string(i), kMs);
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  ASSERT_TRUE(c->Flush().ok());
  std::vector<core::Batch> batches = out_.batches();
  ASSERT_EQ(batches.size(), 3u);
  std::set<std::string> names;
  for (const auto& b : batches) {
    size_t series = 0;
    for (const auto& rm : b.metrics().resource_metrics()) {
      EXPECT_EQ(Attr(rm.resource().attributes(), "service.name"), "s");
      const auto& metrics = rm.scope_metrics(0).metrics();
      ASSERT_EQ(metrics.size(), 2);
      EXPECT_EQ(metrics[0].sum().data_points_size(), metrics[1].histogram().data_points_size());
      for (const auto& p : metrics[0].sum().data_points()) {
        EXPECT_EQ(p.as_int(), 1);
        names.insert(Attr(p.attributes(), "span.name"));
        ++series;
      }
    }
    EXPECT_LE(series, 1000u);
    EXPECT_EQ(b.record_count(), 2 * series);  // a calls point and a histogram point each
  }
  EXPECT_EQ(names.size(), 2500u);
}

TEST_F(SpanMetricsTest, TheUpstreamAcknowledgementGoesOnceFolded) {
  auto c = Make({});
  bool acked = false;
  Spans spans = Spans::With({{"service.name", "s"}});
  spans.Add("a", kMs);
  core::Envelope e = spans.Envelope();
  e.acks.push_back(std::make_shared<core::Ack>([&](const absl::Status& s) { acked = s.ok(); }));
  ASSERT_TRUE(c->Consume(std::move(e)).ok());
  EXPECT_TRUE(acked);
  EXPECT_EQ(c->series(), 1u);
}

TEST_F(SpanMetricsTest, ShutdownEmitsWhatWasFolded) {
  SpanMetricsConfig config;
  config.metrics_flush_interval = std::chrono::hours(1);
  auto c = Make(config);
  ASSERT_TRUE(c->Start().ok());
  Spans spans = Spans::With({{"service.name", "s"}});
  spans.Add("a", kMs);
  ASSERT_TRUE(c->Consume(spans.Envelope()).ok());
  c->Shutdown(core::Clock::now() + std::chrono::seconds(5));
  EXPECT_THAT(Calls(), ElementsAre(std::pair{"s|a|SPAN_KIND_SERVER|STATUS_CODE_UNSET", 1}));
}

std::string ConfigErrors(const std::string& yaml) {
  core::ConfigErrors errors;
  SpanMetricsConfig config;
  core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "connectors.spanmetrics", &errors,
                                config);
  return errors.ToString();
}

TEST(SpanMetricsConfigTest, ReadsTheCollectorsKeys) {
  core::ConfigErrors errors;
  SpanMetricsConfig config;
  core::FieldReader::ReadStruct(YAML::Load(R"(
histogram:
  unit: s
  explicit:
    buckets: [100us, 1ms, 2.5s]
dimensions:
  - name: http.method
    default: GET
  - name: http.status_code
exclude_dimensions: [status.code]
aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA
metrics_flush_interval: 5s
metrics_expiration: 5m
aggregation_cardinality_limit: 1000
exemplars:
  enabled: true
namespace: span.metrics
)"),
                                "c.yaml", "connectors.spanmetrics", &errors, config);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  EXPECT_EQ(config.histogram.unit, "s");
  EXPECT_THAT(config.histogram.explicit_buckets.buckets,
              ElementsAre(std::chrono::microseconds(100), std::chrono::milliseconds(1),
                          std::chrono::milliseconds(2500)));
  ASSERT_EQ(config.dimensions.size(), 2u);
  EXPECT_EQ(config.dimensions[0].default_value, "GET");
  EXPECT_FALSE(config.dimensions[1].default_value.has_value());
  EXPECT_TRUE(config.delta());
  EXPECT_EQ(config.metrics_expiration, std::chrono::minutes(5));
  EXPECT_EQ(config.metrics_namespace, "span.metrics");
  EXPECT_TRUE(config.exemplars.enabled);
}

TEST(SpanMetricsConfigTest, BadValuesNameTheirKey) {
  EXPECT_THAT(ConfigErrors("histogram: {explicit: {buckets: [2ms, 1ms]}}"),
              HasSubstr("histogram.explicit.buckets must be ascending: [1] is not above [0]"));
  EXPECT_THAT(ConfigErrors("histogram: {explicit: {buckets: [0s, 1ms]}}"),
              HasSubstr("histogram.explicit.buckets[0] must be positive"));
  EXPECT_THAT(ConfigErrors("histogram: {explicit: {buckets: []}}"), HasSubstr("must not be empty"));
  EXPECT_THAT(ConfigErrors("histogram: {unit: us}"), HasSubstr("histogram.unit must be ms or s"));
  EXPECT_THAT(ConfigErrors("dimensions: [{name: a}, {name: a}]"),
              HasSubstr("dimensions[1]: 'a' is listed twice"));
  EXPECT_THAT(ConfigErrors("dimensions: [{name: span.kind}]"),
              HasSubstr("dimensions[0]: 'span.kind' is a built-in dimension"));
  EXPECT_THAT(ConfigErrors("exclude_dimensions: [http.method]"),
              HasSubstr("exclude_dimensions[0]: 'http.method' is not one of"));
  EXPECT_THAT(ConfigErrors("aggregation_temporality: cumulative"),
              HasSubstr("aggregation_temporality must be AGGREGATION_TEMPORALITY_CUMULATIVE"));
  EXPECT_THAT(ConfigErrors("histogram: {exponential: {max_size: 160}}"),
              HasSubstr("connectors.spanmetrics.histogram.exponential: unknown key"));
  EXPECT_THAT(ConfigErrors("metrics_flush_interval: 0s"),
              HasSubstr("metrics_flush_interval must be positive"));
  EXPECT_THAT(ConfigErrors("dimensions: [{default: x}]"),
              HasSubstr("connectors.spanmetrics.dimensions[0].name: required key is missing"));
}

}  // namespace
}  // namespace tributary::connectors::spanmetrics
