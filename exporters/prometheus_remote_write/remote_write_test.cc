#include <snappy.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "exporters/prometheus_remote_write/remote_write_exporter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace tributary::exporters::prometheus_remote_write {
namespace {

namespace pm = opentelemetry::proto::metrics::v1;
using ::prometheus::remote::TimeSeries;
using ::prometheus::remote::WriteRequest;

ExportMetricsServiceRequest Counter(const std::string& name, int64_t value, uint64_t time_ns,
                                    bool delta, const std::string& route = "/a") {
  ExportMetricsServiceRequest r;
  auto* rm = r.add_resource_metrics();
  auto* kv = rm->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("api");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name(name);
  m->mutable_sum()->set_is_monotonic(true);
  m->mutable_sum()->set_aggregation_temporality(delta ? pm::AGGREGATION_TEMPORALITY_DELTA
                                                      : pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* p = m->mutable_sum()->add_data_points();
  p->set_as_int(value);
  p->set_time_unix_nano(time_ns);
  kv = p->add_attributes();
  kv->set_key("http.route");
  kv->mutable_value()->set_string_value(route);
  return r;
}

std::string Labels(const TimeSeries& ts) {
  std::string out;
  for (const auto& l : ts.labels()) absl::StrAppend(&out, l.name(), "=", l.value(), ";");
  return out;
}

// The series of `out` as the WriteRequest the exporter would send.
WriteRequest Encode(SeriesMap& out) {
  std::string bytes;
  for (auto& [labels, samples] : out) AppendTimeSeries(labels, samples, &bytes);
  WriteRequest w;
  EXPECT_TRUE(w.ParseFromString(bytes));
  return w;
}

TEST(SeriesConverterTest, SortedLabelsDeltaTotalsAndTimeOrder) {
  SeriesConverter converter({"", {{"cluster", "eu"}}, true});
  SeriesMap out;
  // Two points of one delta series in one request, newest first.
  ExportMetricsServiceRequest r = Counter("jobs", 5, 2'000'000'000, true);
  *r.mutable_resource_metrics(0)
       ->mutable_scope_metrics(0)
       ->mutable_metrics(0)
       ->mutable_sum()
       ->add_data_points() = Counter("jobs", 3, 1'000'000'000, true)
                                 .resource_metrics(0)
                                 .scope_metrics(0)
                                 .metrics(0)
                                 .sum()
                                 .data_points(0);
  converter.Convert(r, 42, &out);
  WriteRequest w = Encode(out);
  ASSERT_EQ(w.timeseries_size(), 1);
  const TimeSeries& ts = w.timeseries(0);
  EXPECT_EQ(Labels(ts), "__name__=jobs_total;cluster=eu;http_route=/a;job=api;");
  ASSERT_EQ(ts.samples_size(), 2);
  // Totals add up in the order the points came; samples go out in time order.
  EXPECT_EQ(ts.samples(0).value(), 8);
  EXPECT_EQ(ts.samples(0).timestamp(), 1000);
  EXPECT_EQ(ts.samples(1).value(), 5);
  EXPECT_EQ(ts.samples(1).timestamp(), 2000);
  out.clear();
  converter.Convert(Counter("jobs", 2, 3'000'000'000, true), 42, &out);
  EXPECT_EQ(Encode(out).timeseries(0).samples(0).value(), 10);
  // Not seen for longer than the expiration: the total starts again.
  out.clear();
  converter.Convert(Counter("jobs", 4, 4'000'000'000, true), 42 + 6 * 60 * 1000, &out);
  EXPECT_EQ(Encode(out).timeseries(0).samples(0).value(), 4);
}

// A point flagged "no recorded value" becomes Prometheus's staleness
// marker (the NaN with bit pattern 0x7ff0000000000002), not a value.
TEST(SeriesConverterTest, NoRecordedValueBecomesTheStalenessMarker) {
  SeriesConverter converter({"", {}, false});
  SeriesMap out;
  ExportMetricsServiceRequest r = Counter("jobs", 5, 1'000'000'000, false);
  auto* stale = r.mutable_resource_metrics(0)
                    ->mutable_scope_metrics(0)
                    ->mutable_metrics(0)
                    ->mutable_sum()
                    ->add_data_points();
  *stale = r.resource_metrics(0).scope_metrics(0).metrics(0).sum().data_points(0);
  stale->set_time_unix_nano(2'000'000'000);
  stale->set_as_int(0);
  stale->set_flags(pm::DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK);
  converter.Convert(r, 42, &out);
  WriteRequest w = Encode(out);
  ASSERT_EQ(w.timeseries_size(), 1);
  ASSERT_EQ(w.timeseries(0).samples_size(), 2);
  EXPECT_EQ(w.timeseries(0).samples(0).value(), 5);
  const double marker = w.timeseries(0).samples(1).value();
  uint64_t bits;
  std::memcpy(&bits, &marker, sizeof bits);
  EXPECT_EQ(bits, 0x7ff0000000000002ull);
  EXPECT_EQ(w.timeseries(0).samples(1).timestamp(), 2000);
}

TEST(SeriesConverterTest, HistogramBucketsWithLeInNameOrder) {
  SeriesConverter converter({"", {}, false});
  ExportMetricsServiceRequest r;
  auto* rm = r.add_resource_metrics();
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name("latency");
  m->set_unit("s");
  auto* p = m->mutable_histogram()->add_data_points();
  p->add_explicit_bounds(0.5);
  p->add_bucket_counts(1);
  p->add_bucket_counts(2);
  p->set_count(3);
  p->set_sum(4);
  p->set_time_unix_nano(5'000'000);
  auto* kv = p->add_attributes();
  kv->set_key("zone");
  kv->mutable_value()->set_string_value("b");
  SeriesMap out;
  converter.Convert(r, 1, &out);
  std::map<std::string, double> got;
  const WriteRequest w = Encode(out);
  for (const auto& ts : w.timeseries()) {
    ASSERT_EQ(ts.samples_size(), 1);
    EXPECT_EQ(ts.samples(0).timestamp(), 5);
    got[Labels(ts)] = ts.samples(0).value();
  }
  EXPECT_EQ(got, (std::map<std::string, double>{
                     {"__name__=latency_seconds_bucket;le=+Inf;zone=b;", 3},
                     {"__name__=latency_seconds_bucket;le=0.5;zone=b;", 1},
                     {"__name__=latency_seconds_count;zone=b;", 3},
                     {"__name__=latency_seconds_sum;zone=b;", 4},
                 }));
}

// A remote-write receiver that fails on demand, for the faults a real
// Prometheus does not produce when asked: 429 with Retry-After, 400.
class Receiver {
 public:
  Receiver() {
    server_.Post("/write", [this](const httplib::Request& req, httplib::Response& res) {
      const int number = ++requests;
      EXPECT_EQ(req.get_header_value("Content-Encoding"), "snappy");
      EXPECT_EQ(req.get_header_value("X-Prometheus-Remote-Write-Version"), "0.1.0");
      EXPECT_EQ(req.get_header_value("Authorization"), "Bearer s3cret");
      if (number == fail_request) {
        res.status = fail_status;
        if (fail_status == 429) res.set_header("Retry-After", "1");
        res.set_content("go away", "text/plain");
        return;
      }
      std::string raw;
      ASSERT_TRUE(snappy::Uncompress(req.body.data(), req.body.size(), &raw));
      WriteRequest w;
      ASSERT_TRUE(w.ParseFromString(raw));
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& ts : w.timeseries()) {
        for (const auto& s : ts.samples()) samples.emplace_back(Labels(ts), s.value());
      }
      res.status = 204;
    });
    port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  int port;
  std::atomic<int> requests{0};
  std::atomic<int> fail_request{0};  // the number (from 1) of the request to refuse
  int fail_status = 500;
  std::mutex mu;
  std::vector<std::pair<std::string, double>> samples;

 private:
  httplib::Server server_;
  std::thread thread_;
};

RemoteWriteConfig Config(int port) {
  RemoteWriteConfig c;
  c.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/write";
  c.bearer_token = "s3cret";
  c.shards = 1;
  c.max_samples_per_send = 2;
  return c;
}

ExportMetricsServiceRequest ThreeSeries() {
  ExportMetricsServiceRequest r = Counter("hits", 1, 1'000'000'000, false, "/a");
  r.MergeFrom(Counter("hits", 2, 1'000'000'000, false, "/b"));
  r.MergeFrom(Counter("hits", 3, 1'000'000'000, false, "/c"));
  return r;
}

TEST(RemoteWriteExporterTest, RetriesOnlyWhatFailedAndHonoursRetryAfter) {
  Receiver receiver;
  RemoteWriteExporter exporter("prometheus_remote_write", Config(receiver.port));
  ASSERT_TRUE(exporter.Start().ok());
  core::Batch batch{ThreeSeries()};
  // Two requests (2 + 1 samples); the second is refused with 429.
  receiver.fail_status = 429;
  receiver.fail_request = 2;
  core::ExportReport first;
  absl::Status s = exporter.Export(batch, first);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("HTTP 429"));
  EXPECT_EQ(first.retry_after, std::chrono::seconds(1));
  core::ExportReport retry;
  retry.attempt = 1;
  ASSERT_TRUE(exporter.Export(batch, retry).ok());
  // Every sample exactly once: the accepted request was not sent again.
  std::lock_guard<std::mutex> lock(receiver.mu);
  EXPECT_EQ(receiver.samples.size(), 3u);
}

TEST(RemoteWriteExporterTest, OtherClientErrorsAreFinal) {
  Receiver receiver;
  receiver.fail_status = 400;
  receiver.fail_request = 1;
  RemoteWriteExporter exporter("prometheus_remote_write", Config(receiver.port));
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  absl::Status s = exporter.Export(core::Batch(Counter("hits", 1, 1, false)), report);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("HTTP 400: go away"));
  // The next batch starts afresh.
  core::ExportReport next;
  EXPECT_TRUE(exporter.Export(core::Batch(Counter("hits", 2, 2, false)), next).ok());
}

TEST(RemoteWriteExporterTest, ServerErrorsAndRefusedConnectionsRetry) {
  Receiver receiver;
  receiver.fail_status = 503;
  receiver.fail_request = 1;
  RemoteWriteExporter exporter("prometheus_remote_write", Config(receiver.port));
  ASSERT_TRUE(exporter.Start().ok());
  core::Batch batch{Counter("hits", 1, 1'000'000'000, false)};
  core::ExportReport report;
  EXPECT_EQ(exporter.Export(batch, report).code(), absl::StatusCode::kUnavailable);
  report.attempt = 1;
  EXPECT_TRUE(exporter.Export(batch, report).ok());

  RemoteWriteConfig nowhere = Config(1);  // nothing listens on port 1
  RemoteWriteExporter down("prometheus_remote_write", nowhere);
  ASSERT_TRUE(down.Start().ok());
  core::ExportReport r2;
  EXPECT_EQ(down.Export(batch, r2).code(), absl::StatusCode::kUnavailable);
}

// Certificates made by tests/tls/make-certs.sh in a temporary directory.
class Certificates {
 public:
  Certificates() {
    char tmpl[] = "/tmp/tributary-rw-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ok_ = std::system(
              ("bash '" TRIBUTARY_SOURCE_DIR "/tests/tls/make-certs.sh' '" + dir_ + "'").c_str()) ==
          0;
  }
  ~Certificates() { (void)std::system(("rm -rf '" + dir_ + "'").c_str()); }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  bool ok_ = false;
};

TEST(RemoteWriteExporterTest, MutualTlsAndBasicAuth) {
  Certificates certs;
  ASSERT_TRUE(certs.ok()) << "the openssl command could not make test certificates";
  httplib::SSLServer server(certs.path("server.crt").c_str(), certs.path("server.key").c_str(),
                            certs.path("ca.crt").c_str());
  std::atomic<int> accepted{0};
  server.Post("/write", [&](const httplib::Request& req, httplib::Response& res) {
    // "user:pa ss" in base64.
    if (req.get_header_value("Authorization") != "Basic dXNlcjpwYSBzcw==") {
      res.status = 401;
      return;
    }
    ++accepted;
    res.status = 204;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&] { server.listen_after_bind(); });

  RemoteWriteConfig config;
  config.endpoint = "https://localhost:" + std::to_string(port) + "/write";
  config.shards = 1;
  config.tls.ca_file = certs.path("ca.crt");
  config.tls.cert_file = certs.path("client.crt");
  config.tls.key_file = certs.path("client.key");
  config.basic_auth = BasicAuthConfig{"user", "pa ss"};
  ASSERT_TRUE(config.Validate().ok());
  core::Batch batch{Counter("hits", 1, 1'000'000'000, false)};
  {
    RemoteWriteExporter exporter("prometheus_remote_write", config);
    ASSERT_TRUE(exporter.Start().ok());
    core::ExportReport report;
    EXPECT_TRUE(exporter.Export(batch, report).ok());
    EXPECT_EQ(accepted, 1);
  }
  {
    // A server certificate from a CA we do not trust: refused, and retried.
    RemoteWriteConfig untrusting = config;
    untrusting.tls.ca_file = certs.path("other.crt");
    RemoteWriteExporter exporter("prometheus_remote_write", untrusting);
    ASSERT_TRUE(exporter.Start().ok());
    core::ExportReport report;
    EXPECT_EQ(exporter.Export(batch, report).code(), absl::StatusCode::kUnavailable);
  }
  {
    // Wrong password: the server's 401 is final.
    RemoteWriteConfig wrong = config;
    wrong.basic_auth->password = "nope";
    RemoteWriteExporter exporter("prometheus_remote_write", wrong);
    ASSERT_TRUE(exporter.Start().ok());
    core::ExportReport report;
    EXPECT_EQ(exporter.Export(batch, report).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(accepted, 1);
  server.stop();
  listener.join();
}

}  // namespace
}  // namespace tributary::exporters::prometheus_remote_write
