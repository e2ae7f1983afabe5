#include "exporters/otlphttp/otlphttp_exporter.h"

#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "common/compress/zstd.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "receivers/otlp/otlp_receiver.h"
#include "tributary/core/config.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::exporters::otlphttp {
namespace {

using ::testing::HasSubstr;

// Our own OTLP receiver, HTTP only, on a free port.
class Receiver {
 public:
  Receiver() {
    receivers::otlp::OtlpReceiverConfig rc;
    rc.protocols.grpc.reset();
    rc.protocols.http->endpoint = "127.0.0.1:0";
    core::ReceiverConsumers consumers;
    consumers.traces = &traces;
    consumers.metrics = &metrics;
    consumers.logs = &logs;
    receiver_ = std::make_unique<receivers::otlp::OtlpReceiver>("otlp", rc, consumers);
    EXPECT_TRUE(receiver_->Start().ok());
  }
  ~Receiver() { Stop(); }
  void Stop() {
    if (receiver_) receiver_->Shutdown(core::Clock::now() + std::chrono::seconds(1));
    receiver_.reset();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_()); }
  core::testing::RecordingConsumer traces, metrics, logs;

 private:
  int port_() const { return receiver_->http_port(); }
  std::unique_ptr<receivers::otlp::OtlpReceiver> receiver_;
};

OtlpHttpExporterConfig Config(const std::string& endpoint) {
  OtlpHttpExporterConfig c;
  c.endpoint = endpoint;
  c.timeout = std::chrono::seconds(10);
  return c;
}

core::LogsRequest OneLog(const std::string& body) {
  core::LogsRequest r;
  r.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
      body);
  return r;
}

TEST(OtlpHttpExporterTest, EveryEncodingAndCompressionDeliversIntact) {
  Receiver receiver;
  const core::TracesRequest spans = core::testing::MakeSpans(25);
  int sent = 0;
  for (const char* encoding : {"proto", "json"}) {
    for (const char* compression : {"gzip", "zstd", "none"}) {
      SCOPED_TRACE(absl::StrCat(encoding, " ", compression));
      OtlpHttpExporterConfig config = Config(receiver.url());
      config.encoding = encoding;
      config.compression = compression;
      ASSERT_TRUE(config.Validate().ok());
      OtlpHttpExporter exporter("otlphttp", config);
      ASSERT_TRUE(exporter.Start().ok());
      // Objects, and the same request as bytes read back from a buffer.
      core::ExportReport report;
      ASSERT_TRUE(exporter.Export(core::Batch(spans), report).ok());
      core::Batch wire(core::Signal::kTraces, spans.SerializeAsString(), 25);
      ASSERT_TRUE(exporter.Export(wire, report).ok());
      EXPECT_NE(wire.wire(), nullptr);  // sent without parsing
      sent += 2;
      ASSERT_EQ(receiver.traces.batches().size(), static_cast<size_t>(sent));
      for (int i = sent - 2; i < sent; ++i) {
        EXPECT_EQ(receiver.traces.batches()[i].traces().SerializeAsString(),
                  spans.SerializeAsString());
      }
      EXPECT_EQ(report.rejected_records, 0u);
    }
  }
  // Logs and metrics go to their own paths.
  OtlpHttpExporter exporter("otlphttp", Config(receiver.url() + "/"));
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(core::Batch(OneLog("hello")), report).ok());
  ASSERT_EQ(receiver.logs.batches().size(), 1u);
  EXPECT_EQ(receiver.logs.batches()[0].logs().SerializeAsString(),
            OneLog("hello").SerializeAsString());
  core::MetricsRequest m;
  auto* g = m.add_resource_metrics()->add_scope_metrics()->add_metrics();
  g->set_name("up");
  g->mutable_gauge()->add_data_points()->set_as_double(1);
  ASSERT_TRUE(exporter.Export(core::Batch(m), report).ok());
  ASSERT_EQ(receiver.metrics.batches().size(), 1u);
  EXPECT_EQ(receiver.metrics.batches()[0].metrics().SerializeAsString(), m.SerializeAsString());
  EXPECT_GT(
      core::testing::MetricValue("tributary_otlphttp_sent_bytes_total", {{"exporter", "otlphttp"}}),
      0);
}

TEST(OtlpHttpExporterTest, PartialSuccessIsRead) {
  Receiver receiver;
  core::TracesRequest r = core::testing::MakeSpans(4);
  r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_trace_id("x");
  OtlpHttpExporter exporter("otlphttp", Config(receiver.url()));
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  const absl::Status s = exporter.Export(core::Batch(r), report);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(report.rejected_records, 1u);
  EXPECT_NE(report.rejected_reason, "");
}

TEST(OtlpHttpExporterTest, RefusalsAndAbsenceMapToRetryAndPermanent) {
  Receiver receiver;
  OtlpHttpExporter exporter("otlphttp", Config(receiver.url()));
  ASSERT_TRUE(exporter.Start().ok());
  core::Batch spans(core::testing::MakeSpans(3));
  // A pipeline that refuses: the receiver answers 503 with Retry-After.
  receiver.traces.refuse_status = absl::UnavailableError("full");
  core::ExportReport report;
  absl::Status s = exporter.Export(spans, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("full"));
  EXPECT_EQ(report.retry_after, std::chrono::seconds(1));
  receiver.Stop();
  // Nobody listening: retryable.
  s = exporter.Export(spans, report);
  EXPECT_TRUE(core::IsRetryable(s)) << s;
}

// The faults our receiver does not produce on demand, from a small server.
class FaultServer {
 public:
  explicit FaultServer(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
    server_.Post(".*", [this, handler](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      handler(req, res);
    });
    port = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FaultServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port); }
  int port = 0;
  std::atomic<int> requests{0};

 private:
  httplib::Server server_;
  std::thread thread_;
};

TEST(OtlpHttpExporterTest, RetryableStatusesHonourRetryAfterAndOthersArePermanent) {
  for (int code : {429, 502, 503, 504, 400, 401, 404, 413, 500}) {
    SCOPED_TRACE(code);
    FaultServer server([code](const httplib::Request&, httplib::Response& res) {
      res.status = code;
      res.set_header("Retry-After", "7");
      res.set_content("go away", "text/plain");
    });
    OtlpHttpExporter exporter("otlphttp", Config(server.url()));
    ASSERT_TRUE(exporter.Start().ok());
    core::ExportReport report;
    const absl::Status s = exporter.Export(core::Batch(core::testing::MakeSpans(1)), report);
    const bool retryable = code == 429 || (code >= 502 && code <= 504);
    EXPECT_EQ(core::IsRetryable(s), retryable) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("HTTP ", code, ": go away")));
    if (retryable) {
      EXPECT_EQ(report.retry_after, std::chrono::seconds(7));
    }
  }
}

// OTLP/JSON cannot carry a malformed id, so our receiver never answers a
// JSON request with a partial success; a server that does, for each signal.
TEST(OtlpHttpExporterTest, JsonPartialSuccessIsReadForEachSignal) {
  FaultServer server([](const httplib::Request& req, httplib::Response& res) {
    const std::string field = req.path == "/v1/traces"    ? "rejectedSpans"
                              : req.path == "/v1/metrics" ? "rejectedDataPoints"
                                                          : "rejectedLogRecords";
    res.set_content(
        absl::StrCat(R"({"partialSuccess":{")", field, R"(":"3","errorMessage":"duplicates"}})"),
        "application/json");
  });
  OtlpHttpExporterConfig config = Config(server.url());
  config.encoding = "json";
  OtlpHttpExporter exporter("otlphttp", config);
  ASSERT_TRUE(exporter.Start().ok());
  core::MetricsRequest m;
  m.add_resource_metrics()->add_scope_metrics()->add_metrics()->set_name("up");
  for (const core::Batch& batch :
       {core::Batch(core::testing::MakeSpans(5)), core::Batch(m), core::Batch(OneLog("x"))}) {
    core::ExportReport report;
    ASSERT_TRUE(exporter.Export(batch, report).ok());
    EXPECT_EQ(report.rejected_records, 3u);
    EXPECT_EQ(report.rejected_reason, "duplicates");
  }
}

// A success answered with a body of another type (a proxy's page) rejects
// nothing, whatever its bytes would read as.
TEST(OtlpHttpExporterTest, ASuccessWithAForeignBodyRejectsNothing) {
  FaultServer server([](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string("\x0a\x04\x08\x05\x12\x00", 6), "text/html");
  });
  OtlpHttpExporter exporter("otlphttp", Config(server.url()));
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(core::Batch(core::testing::MakeSpans(2)), report).ok());
  EXPECT_EQ(report.rejected_records, 0u);
}

TEST(OtlpHttpExporterTest, SendsHeadersPerSignalUrlsAndZstdThroughAProxy) {
  std::mutex mu;
  std::vector<std::string> seen;
  FaultServer server([&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    EXPECT_EQ(req.get_header_value("Content-Encoding"), "zstd");
    EXPECT_EQ(req.get_header_value("Content-Type"), "application/x-protobuf");
    auto plain = common::compress::Unzstd(req.body, 1 << 20);
    ASSERT_TRUE(plain.ok()) << plain.status();
    core::TracesRequest r;
    EXPECT_TRUE(r.ParseFromString(*plain));
    seen.push_back(
        absl::StrCat(req.get_header_value("X-Tenant"), " ", req.path, " ", core::CountRecords(r)));
    res.status = 200;
  });
  OtlpHttpExporterConfig config;
  config.traces_endpoint = server.url() + "/custom/traces";
  config.compression = "zstd";
  config.compression_params.level = 19;
  config.headers = {{"X-Tenant", "blue"}};
  ASSERT_TRUE(config.Validate().ok());
  OtlpHttpExporter exporter("otlphttp", config);
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(core::Batch(core::testing::MakeSpans(5)), report).ok());
  // No endpoint for logs: refused for good, naming the keys.
  const absl::Status s = exporter.Export(core::Batch(OneLog("x")), report);
  EXPECT_FALSE(core::IsRetryable(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("logs_endpoint"));

  // Through an HTTP proxy (proxy_url): the proxy here is the server itself,
  // which is asked for the absolute URL, as a proxy is.
  OtlpHttpExporterConfig proxied = config;
  proxied.traces_endpoint = "http://collector.invalid:4318/v1/traces";
  proxied.http.proxy_url = server.url();
  OtlpHttpExporter through_proxy("otlphttp", proxied);
  ASSERT_TRUE(through_proxy.Start().ok());
  ASSERT_TRUE(through_proxy.Export(core::Batch(core::testing::MakeSpans(2)), report).ok());
  std::lock_guard lock(mu);
  EXPECT_THAT(seen, ::testing::ElementsAre("blue /custom/traces 5",
                                           "blue http://collector.invalid:4318/v1/traces 2"));
}

// HTTPS with mutual TLS through the one client `tls` block, against our
// receiver requiring client certificates (tests/tls/make-certs.sh).
TEST(OtlpHttpExporterTest, MutualTlsWithTheClientTlsBlock) {
  core::testing::TempDir certs;
  ASSERT_EQ(
      std::system(("bash '" TRIBUTARY_SOURCE_DIR "/tests/tls/make-certs.sh' '" + certs.path() + "'")
                      .c_str()),
      0);
  const auto cert = [&](const std::string& name) { return certs.path() + "/" + name; };
  core::testing::RecordingConsumer traces;
  receivers::otlp::OtlpReceiverConfig rc;
  rc.protocols.grpc.reset();
  rc.protocols.http->endpoint = "127.0.0.1:0";
  rc.protocols.http->tls = common::tls::TlsServerConfig{cert("server.crt"), cert("server.key"),
                                                        cert("ca.crt"), std::chrono::seconds(60)};
  core::ReceiverConsumers consumers;
  consumers.traces = &traces;
  receivers::otlp::OtlpReceiver receiver("otlp/tls", rc, consumers);
  ASSERT_TRUE(receiver.Start().ok());
  const std::string url = absl::StrCat("https://localhost:", receiver.http_port());

  OtlpHttpExporterConfig config = Config(url);
  config.tls.ca_file = cert("ca.crt");
  config.tls.cert_file = cert("client.crt");
  config.tls.key_file = cert("client.key");
  ASSERT_TRUE(config.Validate().ok());
  OtlpHttpExporter exporter("otlphttp/tls", config);
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  const absl::Status s = exporter.Export(core::Batch(core::testing::MakeSpans(4)), report);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(traces.records(), 4u);

  // Without its certificate the handshake fails: no answer, retried later.
  OtlpHttpExporterConfig anonymous = Config(url);
  anonymous.tls.ca_file = cert("ca.crt");
  OtlpHttpExporter refused("otlphttp/anonymous", anonymous);
  ASSERT_TRUE(refused.Start().ok());
  EXPECT_TRUE(core::IsRetryable(refused.Export(core::Batch(core::testing::MakeSpans(1)), report)));
  EXPECT_EQ(traces.records(), 4u);
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(1));
}

TEST(OtlpHttpExporterConfigTest, CollectorKeysAreReadOrRefusedByName) {
  auto read = [](const std::string& yaml) {
    OtlpHttpExporterConfig config;
    core::ConfigErrors errors;
    core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "exporters.otlphttp", &errors,
                                  config);
    return std::make_pair(config, errors.ToString());
  };
  auto [config, errors] = read(
      "endpoint: https://otlp.example:4318\n"
      "encoding: json\ncompression: zstd\ncompression_params: {level: 5}\n"
      "timeout: 5s\nheaders: {Authorization: Bearer x}\n"
      "proxy_url: http://proxy:3128\nread_buffer_size: 65536\nwrite_buffer_size: 131072\n"
      "keepalive: {idle_conn_timeout: 30s, max_idle_conns: 10}\n"
      "tls: {insecure_skip_verify: true}\n"
      "sending_queue: {queue_size: 100}\nretry_on_failure: {max_elapsed_time: 1m}\n");
  EXPECT_EQ(errors, "");
  EXPECT_EQ(config.SignalUrl(core::Signal::kMetrics), "https://otlp.example:4318/v1/metrics");
  EXPECT_EQ(config.encoding, "json");
  EXPECT_EQ(config.http.keepalive->max_idle_conns, 10);
  common::http::ClientOptions options;
  config.http.ApplyTo(options);
  EXPECT_EQ(options.proxy_url, "http://proxy:3128");
  EXPECT_EQ(options.max_idle_conns, 10u);
  EXPECT_EQ(options.idle_conn_timeout, std::chrono::seconds(30));

  EXPECT_EQ(read("endpoint: http://x\nauth: {authenticator: oauth2client}\n").second,
            "c.yaml:2:1: exporters.otlphttp.auth: not supported: authenticator extensions do "
            "not exist here; send credentials in `headers` (Authorization)");
  EXPECT_THAT(read("endpoint: http://x\nprofiles_endpoint: http://y\n").second,
              HasSubstr("exporters.otlphttp.profiles_endpoint: not supported"));
  EXPECT_THAT(read("endpoint: http://x\ncompression: snappy\n").second,
              HasSubstr("'snappy' is not supported"));
  EXPECT_THAT(read("endpoint: x:4318\n").second, HasSubstr("not an http:// or https:// URL"));
  EXPECT_THAT(read("encoding: proto\n").second, HasSubstr("endpoint"));
}

}  // namespace
}  // namespace tributary::exporters::otlphttp
