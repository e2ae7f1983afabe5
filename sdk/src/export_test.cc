#include <gtest/gtest.h>

#include "test_support.h"

namespace tributary::sdk {
namespace {

namespace otlp = testing::otlp;
using namespace std::chrono_literals;

SdkOptions ToServer(const testing::CaptureServer& server) {
  SdkOptions o = testing::QuietOptions();
  o.endpoint = server.endpoint();
  o.span_schedule_delay = 50ms;
  o.log_schedule_delay = 50ms;
  o.metric_export_interval = 3600s;
  o.headers = {{"authorization", "Bearer t0ken"}};
  return o;
}

int CountSpans(testing::CaptureServer& server, bool gzip = false) {
  int n = 0;
  for (const auto& b : server.bodies()) {
    if (b.path != "/v1/traces") continue;
    otlp::collector::trace::v1::ExportTraceServiceRequest req;
    // cpp-httplib has already inflated a gzip body; it fails the request if it cannot.
    EXPECT_TRUE(req.ParseFromString(b.data));
    if (gzip) {
      EXPECT_EQ(b.encoding, "gzip");
    }
    for (const auto& rs : req.resource_spans())
      for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

TEST(Export, AllThreeSignalsReachTheEndpoint) {
  testing::CaptureServer server;
  auto sdk = Sdk::Create(ToServer(server));
  Tracer tracer = sdk->GetTracer("t");
  Logger logger = sdk->GetLogger("l");
  Counter c = sdk->GetMeter("m").CreateCounter("jobs");
  for (int i = 0; i < 1500; ++i) {
    Span s = tracer.StartSpan("job", {{"i", i}});
    auto scope = s.Activate();
    logger.Info("job done", {{"i", i}});
    c.Add(1);
  }
  ASSERT_TRUE(sdk->ForceFlush(10s));
  EXPECT_EQ(CountSpans(server), 1500);
  int logs = 0, metrics_bodies = 0;
  for (const auto& b : server.bodies()) {
    if (b.path == "/v1/logs") {
      otlp::collector::logs::v1::ExportLogsServiceRequest req;
      ASSERT_TRUE(req.ParseFromString(b.data));
      for (const auto& rl : req.resource_logs())
        for (const auto& sl : rl.scope_logs()) {
          logs += sl.log_records_size();
          for (const auto& r : sl.log_records()) EXPECT_EQ(r.trace_id().size(), 16u);
        }
    }
    if (b.path == "/v1/metrics") {
      otlp::collector::metrics::v1::ExportMetricsServiceRequest req;
      ASSERT_TRUE(req.ParseFromString(b.data));
      const auto* m = testing::FindMetric(req, "jobs");
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->sum().data_points(0).as_int(), 1500);
      ++metrics_bodies;
    }
  }
  EXPECT_EQ(logs, 1500);
  EXPECT_EQ(metrics_bodies, 1);
  EXPECT_EQ(server.header("authorization"), "Bearer t0ken");
  EXPECT_EQ(server.header("Content-Type"), "application/x-protobuf");
  SdkStats st = sdk->stats();
  EXPECT_EQ(st.spans_exported, 1500u);
  EXPECT_EQ(st.export_requests_failed, 0u);
  EXPECT_EQ(st.logs_exported, 1500u);
  EXPECT_EQ(st.spans_dropped, 0u);
  EXPECT_TRUE(sdk->Shutdown(5s));
}

TEST(Export, GzipBodies) {
  testing::CaptureServer server;
  SdkOptions o = ToServer(server);
  o.gzip = true;
  auto sdk = Sdk::Create(o);
  for (int i = 0; i < 10; ++i) sdk->GetTracer("t").StartSpan("s");
  ASSERT_TRUE(sdk->ForceFlush(10s));
  EXPECT_EQ(CountSpans(server, true), 10);
}

TEST(Export, RetryableAnswersAreRetriedPermanentOnesDroppedAndCounted) {
  testing::CaptureServer server;
  std::atomic<int> trace_calls{0};
  server.SetStatus([&](const std::string& path) {
    if (path != "/v1/traces") return 200;
    int n = trace_calls++;
    return n == 0 ? 503 : n == 1 ? 429 : 200;
  });
  auto sdk = Sdk::Create(ToServer(server));
  sdk->GetTracer("t").StartSpan("s");
  ASSERT_TRUE(sdk->ForceFlush(10s));
  EXPECT_EQ(trace_calls.load(), 3);
  EXPECT_EQ(CountSpans(server), 1);
  EXPECT_EQ(sdk->stats().spans_exported, 1u);

  server.SetStatus([](const std::string& path) { return path == "/v1/traces" ? 400 : 200; });
  for (int i = 0; i < 5; ++i) sdk->GetTracer("t").StartSpan("s");
  ASSERT_TRUE(sdk->ForceFlush(10s));
  EXPECT_EQ(sdk->stats().spans_dropped, 5u);
  EXPECT_GE(sdk->stats().export_requests_failed, 1u);
  EXPECT_EQ(CountSpans(server), 1);
}

TEST(Export, WithTheAgentDownMemoryStaysBoundedDropsAreCountedAndShutdownKeepsItsDeadline) {
  int port;
  {
    testing::CaptureServer gone;  // a port nobody listens on once it is stopped
    port = std::stoi(gone.endpoint().substr(gone.endpoint().rfind(':') + 1));
  }
  SdkOptions o = testing::QuietOptions();
  o.endpoint = "http://127.0.0.1:" + std::to_string(port);
  o.span_schedule_delay = 20ms;
  o.span_queue_size = 1000;
  auto sdk = Sdk::Create(o);
  auto& state = detail::Access::State(*sdk);
  Tracer tracer = sdk->GetTracer("t");
  constexpr int kSpans = 200000;
  for (int i = 0; i < kSpans; ++i) tracer.StartSpan("s", {{"i", i}});
  EXPECT_LE(state.spans.allocated(), 1000u);
  auto start = std::chrono::steady_clock::now();
  sdk->Shutdown(1s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  SdkStats st = sdk->stats();
  EXPECT_EQ(st.spans_exported, 0u);
  EXPECT_EQ(st.spans_dropped, static_cast<uint64_t>(kSpans));
}

}  // namespace
}  // namespace tributary::sdk
