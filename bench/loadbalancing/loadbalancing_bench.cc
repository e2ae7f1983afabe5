// What splitting by trace id costs: the same batches (of 1,000 spans, and
// of 8,192 as the batch processor makes them by default; four spans a
// trace) exported by the otlp exporter to one OTLP receiver, and by the
// loadbalancing exporter over four. Process CPU time per million spans, for
// each, over 2,400,000 spans, five times alternating; the medians and their
// ratio are printed. Without arguments the four receivers run in this
// process (handing their batches to a consumer that drops them), and their
// work, the same in both but for the requests' count (four for one), is
// counted too, so the ratio is an upper bound; with four endpoints as
// arguments (receivers in other processes) only the sending side counts.
//   tributary_loadbalancing_bench [HOST:PORT x4]
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "exporters/loadbalancing/loadbalancing_exporter.h"
#include "exporters/otlp/otlp_exporter.h"
#include "receivers/otlp/otlp_receiver.h"

using namespace tributary;

namespace {

class Drop : public core::Consumer {
 public:
  absl::Status Consume(core::Envelope) noexcept override { return absl::OkStatus(); }
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

core::Batch Spans(int batch, int size) {
  core::TracesRequest r;
  auto* rs = r.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("bench");
  auto* ss = rs->add_scope_spans();
  for (int i = 0; i < size; ++i) {
    auto* s = ss->add_spans();
    std::string trace(16, '\0');
    const int t = batch * size / 4 + i / 4;
    memcpy(trace.data(), &t, sizeof(t));
    s->set_trace_id(trace);
    s->set_span_id(std::string(8, static_cast<char>(i + 1)));
    s->set_name("GET /api/v1/items");
    s->set_start_time_unix_nano(1700000000000000000ull + i);
    s->set_end_time_unix_nano(1700000000001000000ull + i);
    auto* a = s->add_attributes();
    a->set_key("http.route");
    a->mutable_value()->set_string_value("/api/v1/items");
  }
  return core::Batch(std::move(r));
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Drop drop;
  std::vector<std::unique_ptr<receivers::otlp::OtlpReceiver>> receivers;
  // Backends given as arguments run in other processes: then only the
  // sending side's CPU is measured, and the names end in _sender.
  std::vector<std::string> endpoints(argv + 1, argv + argc);
  const std::string where = endpoints.empty() ? "" : "_sender";
  for (int i = 0; endpoints.size() < 4; ++i) {
    receivers::otlp::OtlpReceiverConfig rc;
    rc.protocols.grpc->endpoint = "127.0.0.1:0";
    rc.protocols.http.reset();
    core::ReceiverConsumers consumers;
    consumers.traces = &drop;
    receivers.push_back(std::make_unique<receivers::otlp::OtlpReceiver>("otlp", rc, consumers));
    if (!receivers.back()->Start().ok()) return 1;
    endpoints.push_back(absl::StrCat("127.0.0.1:", receivers.back()->grpc_port()));
  }
  exporters::otlp::OtlpExporterConfig oc;
  oc.endpoint = endpoints[0];
  oc.tls.insecure = true;
  oc.compression = "none";
  exporters::otlp::OtlpExporter otlp(oc);
  exporters::loadbalancing::LoadBalancingConfig lc;
  lc.resolver.static_list.emplace();
  lc.resolver.static_list->hostnames = endpoints;
  lc.protocol.otlp.tls.insecure = true;
  lc.protocol.otlp.compression = "none";
  exporters::loadbalancing::LoadBalancingExporter lb("loadbalancing", lc);
  if (!otlp.Start().ok() || !lb.Start().ok()) return 1;
  for (const int size : {1000, 8192}) {
    std::vector<core::Batch> objects, wire;
    for (int b = 0; b < 2400000 / size; ++b) {
      objects.push_back(Spans(b, size));
      wire.emplace_back(core::Signal::kTraces, objects.back().traces().SerializeAsString(),
                        static_cast<size_t>(size));
    }
    std::vector<core::Batch>* batches_in_use = &objects;
    auto run = [&](core::Exporter& e) {
      const std::vector<core::Batch>& batches = *batches_in_use;
      const double c0 = CpuSeconds();
      for (const core::Batch& b : batches) {
        core::ExportReport report;
        if (!e.Export(b, report).ok()) std::abort();
      }
      return (CpuSeconds() - c0) / (static_cast<double>(batches.size()) * size / 1e6);
    };
    run(otlp);  // warm both connections up
    run(lb);
    // Batches as objects (no buffer), then as the bytes a write-ahead buffer
    // hands on (the agent's default).
    for (const char* form : {"objects", "wire"}) {
      batches_in_use = std::string(form) == "wire" ? &wire : &objects;
      std::vector<double> a, b;
      for (int i = 0; i < 5; ++i) {
        a.push_back(run(otlp));
        b.push_back(run(lb));
      }
      const std::string suffix = absl::StrCat(form, size == 1000 ? "" : "_8192", where);
      printf("BENCH export_otlp_%s_cpu_s_per_m_spans %.2f CPU-s/M spans\n", suffix.c_str(),
             Median(a));
      printf("BENCH export_loadbalancing_4_%s_cpu_s_per_m_spans %.2f CPU-s/M spans\n",
             suffix.c_str(), Median(b));
      printf("BENCH export_loadbalancing_4_vs_otlp_%s %.2f x\n", suffix.c_str(),
             Median(b) / Median(a));
    }
  }
  for (auto& r : receivers) r->Shutdown(core::Clock::now() + std::chrono::seconds(1));
  return 0;
}
