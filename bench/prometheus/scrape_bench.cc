// Scrape of the prometheus exporter holding N series: time and bytes per
// scrape (text format, and gzip as Prometheus asks for it), ingest rate and
// peak RSS of this process (store, exposition and HTTP), and the longest an
// export of 1,000 points takes while a scrape runs and while none does. As a
// baseline from the same run, prometheus-cpp's text serialiser over a
// registry of the same N series, measured after the peak RSS is read.
//   tributary_prometheus_scrape_bench SERIES RUNS
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "exporters/prometheus/prometheus_exporter.h"
#include "httplib.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace {

using tributary::core::MetricsRequest;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

long PeakRssMiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6) / 1024;
  }
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// Series i: http_requests_total{route="/api/v1/items/<i % 1000>",pod="pod-<i / 1000>",...}.
MetricsRequest Request(size_t first, size_t count) {
  MetricsRequest r;
  auto* rm = r.add_resource_metrics();
  auto* attr = rm->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("bench");
  auto* metric = rm->add_scope_metrics()->add_metrics();
  metric->set_name("http.requests");
  metric->set_description("Requests served");
  metric->mutable_sum()->set_is_monotonic(true);
  metric->mutable_sum()->set_aggregation_temporality(
      opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  for (size_t i = first; i < first + count; ++i) {
    auto* p = metric->mutable_sum()->add_data_points();
    p->set_as_int(static_cast<int64_t>(i));
    auto* a = p->add_attributes();
    a->set_key("http.route");
    a->mutable_value()->set_string_value("/api/v1/items/" + std::to_string(i % 1000));
    a = p->add_attributes();
    a->set_key("k8s.pod.name");
    a->mutable_value()->set_string_value("pod-" + std::to_string(i / 1000));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t series = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  namespace tp = tributary::exporters::prometheus;
  tp::PrometheusExporterConfig config;
  config.endpoint = "127.0.0.1:0";
  config.metric_expiration = std::chrono::hours(1);
  tp::PrometheusExporter exporter("prometheus", config);
  if (!exporter.Start().ok()) return 1;

  constexpr size_t kBatch = 10000;
  double ingest = 0;
  for (size_t i = 0; i < series; i += kBatch) {
    const tributary::core::Batch batch(Request(i, std::min(kBatch, series - i)));
    tributary::core::ExportReport report;
    const auto t0 = Clock::now();
    (void)exporter.Export(batch, report);
    ingest += Seconds(Clock::now() - t0);
  }

  httplib::Client client("127.0.0.1", exporter.port());
  client.set_read_timeout(60, 0);
  client.set_decompress(false);
  std::vector<double> plain;
  std::vector<double> zipped;
  size_t plain_bytes = 0;
  size_t zipped_bytes = 0;
  for (int r = 0; r < runs; ++r) {
    auto s = Clock::now();
    auto res = client.Get("/metrics");
    plain.push_back(Seconds(Clock::now() - s));
    if (!res || res->status != 200) return 1;
    plain_bytes = res->body.size();
    s = Clock::now();
    res = client.Get("/metrics", {{"Accept-Encoding", "gzip"}});
    zipped.push_back(Seconds(Clock::now() - s));
    if (!res || res->status != 200) return 1;
    zipped_bytes = res->body.size();
  }
  // The exposition alone, without HTTP.
  std::vector<double> render;
  for (int r = 0; r < runs; ++r) {
    std::string body;
    const auto s = Clock::now();
    exporter.store().Render(tp::MetricStore::Format::kText, &body);
    render.push_back(Seconds(Clock::now() - s));
  }
  // Exports while a scrape is in progress: they wait for the store lock only
  // as long as a scrape copies its references, not while it renders. The
  // same exports without a scrape are the baseline.
  const tributary::core::Batch update(Request(0, 1000));
  auto export_max = [&](auto&& during) {
    std::atomic<bool> stop{false};
    double longest = 0;
    size_t exports = 0;
    std::thread exporting([&] {
      while (!stop.load()) {
        tributary::core::ExportReport report;
        const auto t0 = Clock::now();
        (void)exporter.Export(update, report);
        longest = std::max(longest, Seconds(Clock::now() - t0));
        ++exports;
      }
    });
    during();
    stop = true;
    exporting.join();
    return std::make_pair(longest, exports);
  };
  std::vector<double> busy_max;
  std::vector<double> idle_max;
  for (int r = 0; r < runs; ++r) {
    auto [longest, exports] = export_max([&] {
      if (auto res = client.Get("/metrics"); !res || res->status != 200) std::exit(1);
    });
    if (exports == 0) return 1;
    busy_max.push_back(longest);
    idle_max.push_back(
        export_max([&] { std::this_thread::sleep_for(std::chrono::milliseconds(500)); }).first);
  }
  const long rss = PeakRssMiB();
  exporter.Shutdown(tributary::core::Clock::now());

  // Baseline: prometheus-cpp's serialiser over the same series.
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("http_requests_total")
                     .Help("Requests served")
                     .Register(*registry);
  for (size_t i = 0; i < series; ++i) {
    family
        .Add({{"job", "bench"},
              {"http_route", "/api/v1/items/" + std::to_string(i % 1000)},
              {"k8s_pod_name", "pod-" + std::to_string(i / 1000)}})
        .Increment(static_cast<double>(i));
  }
  std::vector<double> baseline;
  for (int r = 0; r < runs; ++r) {
    const auto s = Clock::now();
    const std::string text = prometheus::TextSerializer().Serialize(registry->Collect());
    baseline.push_back(Seconds(Clock::now() - s));
    if (text.empty()) return 1;
  }

  const std::string n = std::to_string(series);
  std::printf("BENCH prometheus_scrape_%s_series_seconds %.3f s\n", n.c_str(), Median(plain));
  std::printf("BENCH prometheus_render_%s_series_seconds %.3f s\n", n.c_str(), Median(render));
  std::printf("BENCH prometheus_scrape_%s_series_gzip_seconds %.3f s\n", n.c_str(), Median(zipped));
  std::printf("BENCH prometheus_scrape_%s_series_mib %.1f MiB\n", n.c_str(),
              plain_bytes / 1048576.0);
  std::printf("BENCH prometheus_scrape_%s_series_gzip_mib %.1f MiB\n", n.c_str(),
              zipped_bytes / 1048576.0);
  std::printf("BENCH prometheus_ingest_%s_series_points_per_s %.0f points/s\n", n.c_str(),
              static_cast<double>(series) / ingest);
  std::printf("BENCH prometheus_export_during_scrape_%s_series_max_ms %.1f ms\n", n.c_str(),
              Median(busy_max) * 1000);
  std::printf("BENCH prometheus_export_without_scrape_%s_series_max_ms %.1f ms\n", n.c_str(),
              Median(idle_max) * 1000);
  std::printf("BENCH prometheus_scrape_%s_series_peak_rss %ld MiB\n", n.c_str(), rss);
  std::printf("BENCH prometheus_cpp_serialize_%s_series_seconds %.3f s\n", n.c_str(),
              Median(baseline));
  return 0;
}
