// Remote-write throughput: OTLP gauge points (SERIES series, ROUNDS rounds,
// batches of 10,000 points) through the prometheus_remote_write exporter to
// a local receiver that takes each request, snappy-decompresses it and
// answers 204. Prints samples/s, CPU-seconds per million samples (this
// process: exporter and receiver) and compressed bytes per sample, medians
// of RUNS runs. The baseline from the same run: the same samples as
// WriteRequests of the generated protobuf classes (labels sorted, 5,000
// samples a request), serialised and snappy-compressed, without HTTP.
//   tributary_remote_write_bench SERIES ROUNDS RUNS
#include <snappy.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "exporters/prometheus_remote_write/remote_write_exporter.h"
#include "httplib.h"

namespace {

namespace rw = tributary::exporters::prometheus_remote_write;
using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

rw::ExportMetricsServiceRequest Gauges(size_t first, size_t count, int round) {
  rw::ExportMetricsServiceRequest r;
  auto* rm = r.add_resource_metrics();
  auto* kv = rm->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("bench");
  auto* m = rm->add_scope_metrics()->add_metrics();
  m->set_name("queue.depth");
  const uint64_t t = (1'700'000'000'000ull + static_cast<uint64_t>(round) * 1000) * 1'000'000;
  for (size_t i = first; i < first + count; ++i) {
    auto* p = m->mutable_gauge()->add_data_points();
    p->set_as_double(static_cast<double>(i + round));
    p->set_time_unix_nano(t);
    auto* a = p->add_attributes();
    a->set_key("queue");
    a->mutable_value()->set_string_value("q-" + std::to_string(i % 1000));
    a = p->add_attributes();
    a->set_key("k8s.pod.name");
    a->mutable_value()->set_string_value("pod-" + std::to_string(i / 1000));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t series = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 10;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 3;

  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(4); };
  std::atomic<size_t> received_bytes{0};
  server.Post("/api/v1/write", [&](const httplib::Request& req, httplib::Response& res) {
    std::string raw;
    if (!snappy::Uncompress(req.body.data(), req.body.size(), &raw)) {
      res.status = 400;
      return;
    }
    received_bytes += req.body.size();
    res.status = 204;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&] { server.listen_after_bind(); });

  constexpr size_t kBatch = 10000;
  std::vector<double> rates;
  std::vector<double> cpu;
  std::vector<double> bytes_per_sample;
  for (int run = 0; run < runs; ++run) {
    rw::RemoteWriteConfig config;
    config.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
    rw::RemoteWriteExporter exporter("prometheus_remote_write", config);
    if (!exporter.Start().ok()) return 1;
    // Batches are built beforehand: the figure is the exporter's.
    std::vector<tributary::core::Batch> batches;
    for (int r = 0; r < rounds; ++r) {
      for (size_t i = 0; i < series; i += kBatch) {
        batches.emplace_back(Gauges(i, std::min(kBatch, series - i), run * rounds + r));
      }
    }
    received_bytes = 0;
    const double cpu0 = CpuSeconds();
    const auto t0 = Clock::now();
    for (const auto& b : batches) {
      tributary::core::ExportReport report;
      if (!exporter.Export(b, report).ok()) return 1;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double samples = static_cast<double>(series) * rounds;
    rates.push_back(samples / seconds);
    cpu.push_back((CpuSeconds() - cpu0) / (samples / 1e6));
    bytes_per_sample.push_back(static_cast<double>(received_bytes) / samples);
  }
  server.stop();
  listener.join();

  std::vector<double> baseline;
  for (int run = 0; run < runs; ++run) {
    const auto t0 = Clock::now();
    size_t n = 0;
    ::prometheus::remote::WriteRequest w;
    std::string raw;
    std::string compressed;
    for (int r = 0; r < rounds; ++r) {
      for (size_t i = 0; i < series; ++i) {
        auto* ts = w.add_timeseries();
        auto label = [&](const char* name, std::string value) {
          auto* l = ts->add_labels();
          l->set_name(name);
          l->set_value(std::move(value));
        };
        label("__name__", "queue_depth");
        label("job", "bench");
        label("k8s_pod_name", "pod-" + std::to_string(i / 1000));
        label("queue", "q-" + std::to_string(i % 1000));
        auto* sample = ts->add_samples();
        sample->set_value(static_cast<double>(i + r));
        sample->set_timestamp(1'700'000'000'000 + r * 1000);
        if (++n == 5000) {
          w.SerializeToString(&raw);
          snappy::Compress(raw.data(), raw.size(), &compressed);
          w.Clear();
          n = 0;
        }
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    baseline.push_back(static_cast<double>(series) * rounds / seconds);
  }
  std::printf("BENCH remote_write_samples_per_s %.0f samples/s\n", Median(rates));
  std::printf("BENCH remote_write_cpu_per_million_samples %.2f cpu-s\n", Median(cpu));
  std::printf("BENCH remote_write_bytes_per_sample %.2f bytes\n", Median(bytes_per_sample));
  std::printf("BENCH remote_write_protobuf_encode_baseline_samples_per_s %.0f samples/s\n",
              Median(baseline));
  return 0;
}
