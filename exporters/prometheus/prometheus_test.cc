
#include <atomic>
#include <map>
#include <thread>

#include "common/compress/gzip.h"
#include "common/prometheus/translate.h"
#include "exporters/prometheus/metric_store.h"
#include "exporters/prometheus/prometheus_exporter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace tributary::exporters::prometheus {

using ::tributary::common::prometheus::AppendEscapedLabelValue;
using ::tributary::common::prometheus::AttributeLabels;
using ::tributary::common::prometheus::ExponentialToExplicit;
using ::tributary::common::prometheus::LabelName;
using ::tributary::common::prometheus::Labels;
using ::tributary::common::prometheus::MetricName;
using ::tributary::common::prometheus::MetricType;
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace pm = opentelemetry::proto::metrics::v1;
using Clock = std::chrono::steady_clock;

TEST(MetricNameTest, FollowsTheSpecification) {
  EXPECT_EQ(MetricName("http.server.duration", "s", MetricType::kHistogram),
            "http_server_duration_seconds");
  EXPECT_EQ(MetricName("system.filesystem.usage", "By", MetricType::kGauge),
            "system_filesystem_usage_bytes");
  EXPECT_EQ(MetricName("requests", "{requests}", MetricType::kCounter), "requests_total");
  EXPECT_EQ(MetricName("requests_total", "", MetricType::kCounter), "requests_total");
  EXPECT_EQ(MetricName("system.memory.utilization", "1", MetricType::kGauge),
            "system_memory_utilization_ratio");
  EXPECT_EQ(MetricName("hits", "1", MetricType::kCounter), "hits_total");
  EXPECT_EQ(MetricName("speed", "m/s", MetricType::kGauge), "speed_meters_per_second");
  EXPECT_EQ(MetricName("rate", "{packets}/s", MetricType::kGauge), "rate_per_second");
  EXPECT_EQ(MetricName("latency_seconds", "s", MetricType::kGauge), "latency_seconds");
  EXPECT_EQ(MetricName("cache", "MiBy", MetricType::kGauge), "cache_mebibytes");
  EXPECT_EQ(MetricName("dropped", "packets", MetricType::kCounter), "dropped_packets_total");
  EXPECT_EQ(MetricName("queue", "", MetricType::kGauge, "tributary"), "tributary_queue");
}

TEST(MetricNameTest, EdgeCases) {
  // Leading digits, non-ASCII, punctuation runs and colons.
  EXPECT_EQ(MetricName("2xx.responses", "", MetricType::kGauge), "_2xx_responses");
  EXPECT_EQ(MetricName("température.cœur", "Cel", MetricType::kGauge), "temp_rature_c_ur_celsius");
  EXPECT_EQ(MetricName("(lambda).function..executions(#)", "", MetricType::kGauge),
            "lambda_function_executions");
  EXPECT_EQ(MetricName("job:rate:5m", "", MetricType::kGauge), "job:rate:5m");
  EXPECT_EQ(MetricName("...", "", MetricType::kGauge), "_");
  // Names that collide once sanitised.
  EXPECT_EQ(MetricName("a.b", "", MetricType::kGauge), MetricName("a-b", "", MetricType::kGauge));
}

TEST(LabelTest, NamesValuesAndCollisions) {
  EXPECT_EQ(LabelName("http.method"), "http_method");
  EXPECT_EQ(LabelName("0zone"), "key_0zone");
  EXPECT_EQ(LabelName("_private"), "key_private");
  EXPECT_EQ(LabelName("__reserved"), "__reserved");
  EXPECT_EQ(LabelName("naïve"), "na__ve");
  std::string escaped;
  AppendEscapedLabelValue("a\"b\\c\nd", &escaped);
  EXPECT_EQ(escaped, "a\\\"b\\\\c\\nd");

  google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue> attrs;
  auto add = [&](const std::string& k, const std::string& v) {
    auto* kv = attrs.Add();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  };
  add("b.x", "2");
  add("b_x", "1");
  add("a", "z");
  add("empty", "");
  auto* list = attrs.Add();
  list->set_key("list");
  list->mutable_value()->mutable_array_value()->add_values()->set_int_value(1);
  list->mutable_value()->mutable_array_value()->add_values()->set_string_value("x");
  Labels labels = AttributeLabels(attrs);
  ASSERT_EQ(labels.size(), 3u);
  EXPECT_EQ(labels[0], (std::pair<std::string, std::string>("a", "z")));
  // Colliding keys: values joined in the order of the original keys.
  EXPECT_EQ(labels[1], (std::pair<std::string, std::string>("b_x", "2;1")));
  EXPECT_EQ(labels[2], (std::pair<std::string, std::string>("list", "[1,\"x\"]")));
}

// A request with one resource (service checkout in namespace shop) and scope.
pm::ScopeMetrics* NewScope(MetricsRequest& r) {
  auto* rm = r.add_resource_metrics();
  auto* attrs = rm->mutable_resource()->mutable_attributes();
  auto set = [&](const std::string& k, const std::string& v) {
    auto* kv = attrs->Add();
    kv->set_key(k);
    kv->mutable_value()->set_string_value(v);
  };
  set("service.name", "checkout");
  set("service.namespace", "shop");
  set("service.instance.id", "pod-1");
  set("host.name", "node-a");
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("lib");
  return sm;
}

std::string Render(const MetricStore& store, MetricStore::Format f = MetricStore::Format::kText) {
  std::string out;
  store.Render(f, &out);
  return out;
}

TEST(MetricStoreTest, CountersGaugesAndTargetInfo) {
  MetricStore store({});
  MetricsRequest r;
  auto* sm = NewScope(r);
  auto* c = sm->add_metrics();
  c->set_name("orders");
  c->set_description("Orders \"placed\"\nso far");
  c->mutable_sum()->set_is_monotonic(true);
  c->mutable_sum()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* p = c->mutable_sum()->add_data_points();
  p->set_as_int(42);
  auto* kv = p->add_attributes();
  kv->set_key("payment.method");
  kv->mutable_value()->set_string_value("card \"visa\"");
  auto* g = sm->add_metrics();
  g->set_name("queue.fill");
  g->set_unit("1");
  g->mutable_gauge()->add_data_points()->set_as_double(0.25);
  auto result = store.Add(r, Clock::now());
  EXPECT_EQ(result.points, 2u);
  EXPECT_EQ(result.dropped, 0u);
  const std::string text = Render(store);
  EXPECT_THAT(text, HasSubstr("# HELP orders_total Orders \"placed\"\\nso far\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE orders_total counter\n"));
  EXPECT_THAT(
      text,
      HasSubstr("orders_total{instance=\"pod-1\",job=\"shop/checkout\",otel_scope_name=\"lib\","
                "payment_method=\"card \\\"visa\\\"\"} 42\n"));
  EXPECT_THAT(text, HasSubstr("queue_fill_ratio{instance=\"pod-1\",job=\"shop/checkout\","
                              "otel_scope_name=\"lib\"} 0.25\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE target_info gauge\n"));
  EXPECT_THAT(
      text,
      HasSubstr("target_info{host_name=\"node-a\",instance=\"pod-1\",job=\"shop/checkout\"} 1\n"));
  const std::string om = Render(store, MetricStore::Format::kOpenMetrics);
  EXPECT_THAT(om, HasSubstr("# TYPE orders counter\n"));
  EXPECT_THAT(om, HasSubstr("# HELP orders Orders \\\"placed\\\"\\nso far\n"));
  EXPECT_THAT(om, HasSubstr("# TYPE target info\n"));
  EXPECT_THAT(om, HasSubstr("# UNIT queue_fill_ratio ratio\n"));
  EXPECT_TRUE(om.size() > 6 && om.compare(om.size() - 6, 6, "# EOF\n") == 0);
}

TEST(MetricStoreTest, DeltaSumsAndHistogramsAccumulate) {
  MetricStore store({});
  for (int i = 1; i <= 3; ++i) {
    MetricsRequest r;
    auto* sm = NewScope(r);
    auto* s = sm->add_metrics();
    s->set_name("bytes.sent");
    s->set_unit("By");
    s->mutable_sum()->set_is_monotonic(true);
    s->mutable_sum()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_DELTA);
    auto* p = s->mutable_sum()->add_data_points();
    p->set_as_int(10 * i);
    p->set_start_time_unix_nano(1000 * i);
    auto* h = sm->add_metrics();
    h->set_name("latency");
    h->set_unit("ms");
    h->mutable_histogram()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_DELTA);
    auto* hp = h->mutable_histogram()->add_data_points();
    hp->add_explicit_bounds(5);
    hp->add_explicit_bounds(10);
    hp->add_bucket_counts(1);
    hp->add_bucket_counts(2);
    hp->add_bucket_counts(i);
    hp->set_count(3 + i);
    hp->set_sum(100);
    store.Add(r, Clock::now());
  }
  const std::string text = Render(store);
  EXPECT_THAT(text, HasSubstr("bytes_sent_bytes_total{instance=\"pod-1\",job=\"shop/checkout\","
                              "otel_scope_name=\"lib\"} 60\n"));
  const std::string labels = "instance=\"pod-1\",job=\"shop/checkout\",otel_scope_name=\"lib\"";
  EXPECT_THAT(text, HasSubstr("latency_milliseconds_bucket{" + labels + ",le=\"5\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("latency_milliseconds_bucket{" + labels + ",le=\"10\"} 9\n"));
  EXPECT_THAT(text, HasSubstr("latency_milliseconds_bucket{" + labels + ",le=\"+Inf\"} 15\n"));
  EXPECT_THAT(text, HasSubstr("latency_milliseconds_sum{" + labels + "} 300\n"));
  EXPECT_THAT(text, HasSubstr("latency_milliseconds_count{" + labels + "} 15\n"));
}

TEST(MetricStoreTest, ExemplarsFollowTheirBucketsInOpenMetricsOnly) {
  MetricStore store({});
  auto add = [&](std::vector<std::pair<double, char>> exemplars, uint64_t time) {
    MetricsRequest r;
    auto* h = NewScope(r)->add_metrics();
    h->set_name("latency");
    h->set_unit("ms");
    h->mutable_histogram()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
    auto* hp = h->mutable_histogram()->add_data_points();
    hp->add_explicit_bounds(5);
    hp->add_explicit_bounds(10);
    for (uint64_t c : {1, 1, 1}) hp->add_bucket_counts(c);
    hp->set_count(3);
    hp->set_sum(20);
    for (auto [value, id] : exemplars) {
      auto* e = hp->add_exemplars();
      e->set_as_double(value);
      e->set_trace_id(std::string(16, id));
      e->set_span_id(std::string(8, id));
      e->set_time_unix_nano(time);
    }
    auto* bad = hp->add_exemplars();  // no trace: not shown
    bad->set_as_double(1);
    store.Add(r, Clock::now());
  };
  add({{5, '\x01'}, {12, '\x02'}}, 1700000000500000000ull);
  const std::string labels = "instance=\"pod-1\",job=\"shop/checkout\",otel_scope_name=\"lib\"";
  std::string om = Render(store, MetricStore::Format::kOpenMetrics);
  EXPECT_THAT(om, HasSubstr("latency_milliseconds_bucket{" + labels + ",le=\"5\"} 1 # {"));
  EXPECT_THAT(om, HasSubstr(",le=\"5\"} 1 # {trace_id=\"01010101010101010101010101010101\","
                            "span_id=\"0101010101010101\"} 5 1700000000.5\n"));
  EXPECT_THAT(om, HasSubstr(",le=\"10\"} 2\n"));
  EXPECT_THAT(om, HasSubstr(",le=\"+Inf\"} 3 # {trace_id=\"02020202020202020202020202020202\","
                            "span_id=\"0202020202020202\"} 12 1700000000.5\n"));
  EXPECT_THAT(Render(store), Not(HasSubstr("trace_id")));
  // A later point keeps the exemplars of the buckets it has none for.
  add({{7, '\x03'}}, 1700000001000000000ull);
  om = Render(store, MetricStore::Format::kOpenMetrics);
  EXPECT_THAT(om, HasSubstr(",le=\"5\"} 1 # {trace_id=\"0101"));
  EXPECT_THAT(om, HasSubstr(",le=\"10\"} 2 # {trace_id=\"0303"));
  EXPECT_THAT(om, HasSubstr(",le=\"+Inf\"} 3 # {trace_id=\"0202"));
}

TEST(MetricStoreTest, ExponentialHistogramsBecomeExplicitBuckets) {
  pm::ExponentialHistogramDataPoint p;
  p.set_scale(0);  // base 2
  p.set_count(10);
  p.set_zero_count(1);
  p.mutable_positive()->set_offset(1);  // (2,4], (4,8]
  p.mutable_positive()->add_bucket_counts(3);
  p.mutable_positive()->add_bucket_counts(4);
  p.mutable_negative()->set_offset(0);  // [-2,-1)
  p.mutable_negative()->add_bucket_counts(2);
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  ExponentialToExplicit(p, &bounds, &counts);
  EXPECT_THAT(bounds, ::testing::ElementsAre(-1, 0, 4, 8));
  EXPECT_THAT(counts, ::testing::ElementsAre(2, 1, 3, 4, 0));

  MetricStore store({});
  MetricsRequest r;
  auto* m = NewScope(r)->add_metrics();
  m->set_name("size");
  *m->mutable_exponential_histogram()->add_data_points() = p;
  m->mutable_exponential_histogram()->set_aggregation_temporality(
      pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
  store.Add(r, Clock::now());
  const std::string text = Render(store);
  EXPECT_THAT(text, HasSubstr("# TYPE size histogram\n"));
  EXPECT_THAT(text, HasSubstr(",le=\"4\"} 6\n"));
  EXPECT_THAT(text, HasSubstr(",le=\"8\"} 10\n"));
  EXPECT_THAT(text, HasSubstr(",le=\"+Inf\"} 10\n"));
}

TEST(MetricStoreTest, SeriesExpireAndTypeConflictsAreCounted) {
  StoreOptions options;
  options.expiration = std::chrono::minutes(1);
  MetricStore store(options);
  const auto t0 = Clock::now();
  MetricsRequest r;
  auto* sm = NewScope(r);
  auto* g = sm->add_metrics();
  g->set_name("temp");
  g->mutable_gauge()->add_data_points()->set_as_double(1);
  store.Add(r, t0);
  MetricsRequest conflict;
  auto* c = NewScope(conflict)->add_metrics();
  c->set_name("temp");  // the same name as a histogram
  c->mutable_histogram()->add_data_points()->set_count(1);
  auto result = store.Add(conflict, t0);
  EXPECT_EQ(result.dropped, 1u);
  EXPECT_THAT(result.error, HasSubstr("temp"));
  EXPECT_EQ(store.series(), 2u);  // temp and target_info
  EXPECT_EQ(store.Expire(t0 + std::chrono::seconds(30)), 0u);
  EXPECT_EQ(store.Expire(t0 + std::chrono::seconds(61)), 2u);
  EXPECT_EQ(store.series(), 0u);
  EXPECT_THAT(Render(store), Not(HasSubstr("temp")));
}

// Scrapes render outside the store lock from references to the series:
// while another thread adds delta histogram points and expires every series
// now and then, each exposition still shows every histogram as of one
// instant (its +Inf bucket equals its count) and labels outlive expiry.
TEST(MetricStoreTest, ScrapesSeeOneInstantWhileExportsContinue) {
  StoreOptions options;
  options.expiration = std::chrono::minutes(1);
  MetricStore store(options);
  std::atomic<bool> done{false};
  std::atomic<int> adds{0};
  std::thread writer([&] {
    for (int round = 0; !done.load(); ++round) {
      MetricsRequest r;
      auto* h = NewScope(r)->add_metrics();
      h->set_name("latency");
      h->mutable_histogram()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_DELTA);
      for (int i = 0; i < 64; ++i) {
        auto* p = h->mutable_histogram()->add_data_points();
        p->add_explicit_bounds(5);
        p->add_bucket_counts(1);
        p->add_bucket_counts(1);
        p->set_count(2);
        p->set_sum(7);
        auto* kv = p->add_attributes();
        kv->set_key("route");
        kv->mutable_value()->set_string_value("/r/" + std::to_string(i));
      }
      store.Add(r, Clock::now());
      if (round % 50 == 49) store.Expire(Clock::now() + std::chrono::minutes(2));
      adds.fetch_add(1);
    }
  });
  // Stops the writer however the test ends.
  struct Join {
    std::atomic<bool>& done;
    std::thread& writer;
    ~Join() {
      done = true;
      writer.join();
    }
  } join{done, writer};
  int checked = 0;
  for (int scrape = 0; scrape < 1000 || adds.load() < 200; ++scrape) {
    const std::string text = Render(store);
    // Each series' +Inf bucket, then its count, in the order rendered.
    std::map<std::string, std::pair<long, long>> series;
    size_t pos = 0;
    while ((pos = text.find("latency_", pos)) != std::string::npos) {
      const size_t open = text.find('{', pos);
      const size_t close = text.find('}', open);
      const size_t eol = text.find('\n', close);
      ASSERT_NE(eol, std::string::npos);
      const std::string metric = text.substr(pos, open - pos);
      std::string labels = text.substr(open + 1, close - open - 1);
      const long value = std::stol(text.substr(close + 2, eol - close - 2));
      if (metric == "latency_bucket" && labels.find("le=\"+Inf\"") != std::string::npos) {
        labels.resize(labels.find(",le="));
        series[labels].first = value;
      } else if (metric == "latency_count") {
        series[labels].second = value;
      }
      pos = eol;
    }
    for (const auto& [labels, counts] : series) {
      ASSERT_EQ(counts.first, counts.second) << labels;
      ASSERT_GT(counts.second, 0) << labels;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(PrometheusExporterTest, ServesTextOrOpenMetricsByNegotiation) {
  PrometheusExporterConfig config;
  config.endpoint = "127.0.0.1:0";
  PrometheusExporter exporter("prometheus", config);
  ASSERT_TRUE(exporter.Start().ok());
  MetricsRequest r;
  auto* g = NewScope(r)->add_metrics();
  g->set_name("up.time");
  g->set_unit("s");
  g->mutable_gauge()->add_data_points()->set_as_double(12.5);
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(core::Batch(r), report).ok());

  httplib::Client client("127.0.0.1", exporter.port());
  client.set_decompress(false);
  auto text = client.Get("/metrics");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200);
  EXPECT_THAT(text->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(text->body, HasSubstr("up_time_seconds{"));

  auto om = client.Get("/metrics", {{"Accept",
                                     "application/openmetrics-text;version=1.0.0;q=0.5,"
                                     "text/plain;version=0.0.4;q=0.4,*/*;q=0.1"},
                                    {"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(om);
  EXPECT_THAT(om->get_header_value("Content-Type"), HasSubstr("application/openmetrics-text"));
  EXPECT_EQ(om->get_header_value("Content-Encoding"), "gzip");
  const std::string body = common::compress::Gunzip(om->body, 64 << 20).value();
  EXPECT_THAT(body, HasSubstr("# UNIT up_time_seconds seconds\n"));
  EXPECT_THAT(body, HasSubstr("# EOF\n"));
  exporter.Shutdown(core::Clock::now());
}

// An empty store renders an empty body; plain and gzip scrapes of it are
// answered, and so is every scrape after data arrives.
TEST(PrometheusExporterTest, AnswersScrapesOfAnEmptyStoreAndAfterIt) {
  PrometheusExporterConfig config;
  config.endpoint = "127.0.0.1:0";
  PrometheusExporter exporter("prometheus/empty", config);
  ASSERT_TRUE(exporter.Start().ok());
  httplib::Client client("127.0.0.1", exporter.port());
  client.set_decompress(false);
  client.set_read_timeout(10, 0);
  for (int i = 0; i < 2; ++i) {
    auto plain = client.Get("/metrics");
    ASSERT_TRUE(plain) << "plain scrape " << i << " of the empty store";
    EXPECT_EQ(plain->status, 200);
    EXPECT_EQ(plain->body, "");
  }
  auto gzip = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->status, 200);
  EXPECT_EQ(common::compress::Gunzip(gzip->body, 1 << 20).value(), "");

  MetricsRequest r;
  auto* g = NewScope(r)->add_metrics();
  g->set_name("queue.depth");
  g->mutable_gauge()->add_data_points()->set_as_int(3);
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(core::Batch(r), report).ok());
  httplib::Client fresh("127.0.0.1", exporter.port());
  fresh.set_read_timeout(10, 0);
  auto after = fresh.Get("/metrics");
  ASSERT_TRUE(after);
  EXPECT_THAT(after->body, HasSubstr("queue_depth{"));
  auto again = client.Get("/metrics");
  ASSERT_TRUE(again);
  EXPECT_THAT(again->body, HasSubstr("queue_depth{"));
  auto missing = client.Get("/other");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  exporter.Shutdown(core::Clock::now());
}

}  // namespace
}  // namespace tributary::exporters::prometheus
