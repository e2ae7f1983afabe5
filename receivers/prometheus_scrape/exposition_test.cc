#include "receivers/prometheus_scrape/exposition.h"

#include <cmath>

#include "gtest/gtest.h"
#include "re2/re2.h"
#include "receivers/prometheus_scrape/scrape_receiver.h"

namespace tributary::receivers::prometheus_scrape {
namespace {

namespace pm = opentelemetry::proto::metrics::v1;

constexpr char kText[] = R"(# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
# A comment
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
)";

TEST(Exposition, ParsesTheTextFormat) {
  ParseResult r;
  ASSERT_FALSE(Parse(kText, Format::kText, &r).has_value());
  EXPECT_EQ(r.samples, 16u);
  ASSERT_EQ(r.families.size(), 6u);
  EXPECT_EQ(r.families[0].type, "counter");
  EXPECT_EQ(r.families[0].samples[1].value, 3);
  EXPECT_EQ(*r.families[0].samples[1].timestamp_ms, 1395066363000);
  const Sample& odd = r.families[1].samples[0];
  EXPECT_EQ(odd.labels[0].second, "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(odd.labels[1].second, "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_TRUE(std::isinf(r.families[3].samples[0].value));
  EXPECT_EQ(r.families[4].type, "histogram");
  EXPECT_EQ(r.families[4].samples.size(), 6u);
  EXPECT_EQ(r.families[5].samples.size(), 5u);
}

TEST(Exposition, ParsesOpenMetricsWithExemplarsAndEof) {
  const char* text =
      "# TYPE foo counter\n# UNIT foo seconds\n# HELP foo Help.\n"
      "foo_total{a=\"b\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_created{a=\"b\"} 1520872607.123\n"
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1 # {id=\"x\"} 0.5 123.4\nh_bucket{le=\"+Inf\"} 3\n"
      "h_count 3\nh_sum 7\n# EOF\n";
  ParseResult r;
  ASSERT_FALSE(Parse(text, Format::kOpenMetrics, &r).has_value());
  EXPECT_EQ(r.exemplars, 2u);
  ASSERT_EQ(r.families.size(), 2u);
  EXPECT_EQ(r.families[0].unit, "seconds");
  EXPECT_EQ(r.families[0].samples.size(), 2u);  // _total and _created
  EXPECT_EQ(*r.families[0].samples[0].timestamp_ms, 1520879607789);
  // Without # EOF it is not OpenMetrics.
  EXPECT_TRUE(Parse("# TYPE a gauge\na 1\n", Format::kOpenMetrics, &r).has_value());
  EXPECT_TRUE(Parse("a 1\n# EOF\nb 2\n", Format::kOpenMetrics, &r).has_value());
}

TEST(Exposition, ReportsBadLines) {
  ParseResult r;
  for (const char* bad : {"a{b=\"c\" 1\n", "a{b=c} 1\n", "a 1 2 3\n", "a abc\n", "1a 1\n",
                          "a{b=\"c\"\n", "# TYPE a nonsense\n", "a{=\"x\"} 1\n"}) {
    const auto e = Parse(bad, Format::kText, &r);
    ASSERT_TRUE(e.has_value()) << bad;
    EXPECT_NE(e->find("line 1"), std::string::npos) << *e;
  }
}

TEST(Converter, TurnsFamiliesIntoOtlp) {
  ParseResult r;
  ASSERT_FALSE(Parse(kText, Format::kText, &r).has_value());
  Converter::Options o;
  o.drop.emplace_back("__name__", std::make_unique<re2::RE2>("something_.*"));
  Converter c(std::move(o));
  pm::ScopeMetrics out;
  EXPECT_EQ(c.Convert(r, 42, &out), 15u);
  std::map<std::string, pm::Metric> m;
  for (const auto& metric : out.metrics()) m[metric.name()] = metric;
  EXPECT_EQ(m.count("something_weird"), 0u);
  const auto& requests = m.at("http_requests_total").sum();
  EXPECT_TRUE(requests.is_monotonic());
  ASSERT_EQ(requests.data_points_size(), 2);
  EXPECT_EQ(requests.data_points(0).time_unix_nano(), 1395066363000000000ull);
  EXPECT_EQ(requests.data_points(0).attributes(0).key(), "code");  // sorted
  EXPECT_EQ(m.at("metric_without_timestamp_and_labels").gauge().data_points(0).time_unix_nano(),
            42u);
  const auto& h = m.at("http_request_duration_seconds").histogram().data_points(0);
  EXPECT_EQ(std::vector<double>(h.explicit_bounds().begin(), h.explicit_bounds().end()),
            (std::vector<double>{0.05, 0.1, 0.2}));
  EXPECT_EQ(std::vector<uint64_t>(h.bucket_counts().begin(), h.bucket_counts().end()),
            (std::vector<uint64_t>{24054, 9390, 66948, 43928}));
  EXPECT_EQ(h.count(), 144320u);
  EXPECT_EQ(h.sum(), 53423);
  const auto& s = m.at("rpc_duration_seconds").summary().data_points(0);
  ASSERT_EQ(s.quantile_values_size(), 3);
  EXPECT_EQ(s.quantile_values(2).quantile(), 0.99);
  EXPECT_EQ(s.quantile_values(2).value(), 76656);
  EXPECT_EQ(s.count(), 2693u);
}

TEST(Converter, HonorLabelsAndKeep) {
  ParseResult r;
  ASSERT_FALSE(Parse("up_like{job=\"x\",instance=\"y\",keep=\"yes\"} 1\nother{keep=\"no\"} 2\n",
                     Format::kText, &r)
                   .has_value());
  Converter::Options o;
  o.keep.emplace_back("keep", std::make_unique<re2::RE2>("yes"));
  Converter c(std::move(o));
  pm::ScopeMetrics out;
  EXPECT_EQ(c.Convert(r, 1, &out), 1u);
  ASSERT_EQ(out.metrics_size(), 1);
  const auto& attrs = out.metrics(0).gauge().data_points(0).attributes();
  EXPECT_EQ(attrs[0].key(), "exported_instance");
  EXPECT_EQ(attrs[1].key(), "exported_job");
}

}  // namespace
}  // namespace tributary::receivers::prometheus_scrape
