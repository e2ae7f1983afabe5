// A service emitting at full speed from two threads (a span with three
// attributes, a log record and a counter add per iteration) for a while,
// either with the exporter off ("none": the baseline) or exporting to an
// agent that is down (connection refused, retried with backoff). Prints the
// nanoseconds per iteration, the resident memory before and at its peak, the
// drops the SDK counted and how long Shutdown took against its deadline.
//   tributary_sdk_agent_down none|down SECONDS
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tributary/sdk/sdk.h"

namespace {

long RssKib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tributary::sdk;
  using clock = std::chrono::steady_clock;
  bool down = argc > 1 && std::strcmp(argv[1], "down") == 0;
  double seconds = argc > 2 ? std::atof(argv[2]) : 10;
  SdkOptions o;
  o.service_name = "agent-down-bench";
  if (down) {
    o.endpoint = "http://127.0.0.1:9";  // discard port: nothing listens, connections are refused
  } else {
    o.export_traces = o.export_metrics = o.export_logs = false;
  }
  o.metric_export_interval = std::chrono::seconds(1);
  auto sdk = Sdk::Create(o);
  Tracer tracer = sdk->GetTracer("bench");
  Logger logger = sdk->GetLogger("bench");
  Counter counter = sdk->GetMeter("bench").CreateCounter("requests");
  long rss_start = RssKib("VmRSS:");

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> iterations{0};
  auto start = clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 256; ++i) {
          Span span = tracer.StartSpan(
              "GET /api/cart",
              {{"http.route", "/api/cart"}, {"http.response.status_code", 200}, {"n", i}},
              SpanKind::kServer);
          Scope scope = span.Activate();
          logger.Info("served", {{"bytes", 512}});
          counter.Add(1, {{"route", "/api/cart"}});
        }
        n += 256;
      }
      iterations.fetch_add(n);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(clock::now() - start).count();
  long rss_peak = RssKib("VmHWM:");
  auto t0 = clock::now();
  constexpr auto kDeadline = std::chrono::seconds(2);
  sdk->Shutdown(kDeadline);
  double shutdown_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  SdkStats s = sdk->stats();
  const char* name = down ? "sdk_agent_down" : "sdk_exporter_none";
  // Two threads: each iteration's cost as one thread sees it.
  std::printf("BENCH %s_ns_per_iteration %.1f ns\n", name,
              2 * elapsed * 1e9 / static_cast<double>(iterations.load()));
  std::printf("BENCH %s_iterations_per_s %.0f iterations/s\n", name,
              static_cast<double>(iterations.load()) / elapsed);
  std::printf("BENCH %s_rss_start %.1f MiB\n", name, rss_start / 1024.0);
  std::printf("BENCH %s_rss_peak %.1f MiB\n", name, rss_peak / 1024.0);
  std::printf("BENCH %s_spans_dropped %llu spans\n", name,
              static_cast<unsigned long long>(s.spans_dropped));
  std::printf("BENCH %s_logs_dropped %llu logs\n", name,
              static_cast<unsigned long long>(s.logs_dropped));
  std::printf("BENCH %s_shutdown_ms %.0f ms (deadline %lld ms)\n", name, shutdown_ms,
              static_cast<long long>(std::chrono::milliseconds(kDeadline).count()));
  return 0;
}
