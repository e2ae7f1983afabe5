// OTLP/gRPC load generator: sends spans (and optionally logs and metrics)
// shaped like an instrumented HTTP service's to an OTLP endpoint, from
// several threads, each on its own connection. Prints what it sent.
//
//   tributary-loadgen --endpoint 127.0.0.1:4317 [--threads 16] [--duration 10]
//       [--batch 500] [--rate 0] [--signals traces,logs,metrics] [--service checkout]
//       [--routes 4]
//
// --routes gives the number of distinct HTTP routes (span names), and so of
// span-metric series: a server span per route and status, a database span
// per route.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.grpc.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace {

namespace otlp = opentelemetry::proto;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string endpoint = "127.0.0.1:4317";
  int threads = 16;
  double duration = 10;
  int batch = 500;
  double rate = 0;  // requests per second over all threads; 0 is as fast as possible
  bool traces = true, logs = false, metrics = false;
  std::string service = "loadgen";
  int routes = 4;
};

uint64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SetString(otlp::common::v1::KeyValue* kv, const std::string& k, const std::string& v) {
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

void SetInt(otlp::common::v1::KeyValue* kv, const std::string& k, int64_t v) {
  kv->set_key(k);
  kv->mutable_value()->set_int_value(v);
}

void FillResource(otlp::resource::v1::Resource* r, const Options& o, int thread) {
  SetString(r->add_attributes(), "service.name", o.service);
  SetString(r->add_attributes(), "service.instance.id", o.service + "-" + std::to_string(thread));
  SetString(r->add_attributes(), "host.name", "demo-node");
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

// `batch` spans: server spans of HTTP requests, each with a database child.
otlp::collector::trace::v1::ExportTraceServiceRequest MakeTraces(const Options& o, int thread,
                                                                 std::mt19937_64& rng) {
  static const char* kRoutes[] = {"/cart", "/checkout", "/product/:id", "/search"};
  otlp::collector::trace::v1::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  FillResource(rs->mutable_resource(), o, thread);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("tributary.loadgen");
  ss->mutable_scope()->set_version("1.0.0");
  const uint64_t now = NowNanos();
  for (int i = 0; i < o.batch; i += 2) {
    const std::string trace_id = RandomBytes(rng, 16);
    const std::string server_id = RandomBytes(rng, 8);
    const uint64_t r = rng() % static_cast<uint64_t>(o.routes);
    const std::string route = r < 4 ? kRoutes[r] : "/api/v" + std::to_string(r);
    const bool error = rng() % 20 == 0;
    auto* server = ss->add_spans();
    server->set_trace_id(trace_id);
    server->set_span_id(server_id);
    server->set_name(std::string("GET ") + route);
    server->set_kind(otlp::trace::v1::Span::SPAN_KIND_SERVER);
    server->set_start_time_unix_nano(now - 5000000);
    server->set_end_time_unix_nano(now);
    SetString(server->add_attributes(), "http.request.method", "GET");
    SetString(server->add_attributes(), "http.route", route);
    SetInt(server->add_attributes(), "http.response.status_code", error ? 500 : 200);
    if (error) server->mutable_status()->set_code(otlp::trace::v1::Status::STATUS_CODE_ERROR);
    if (i + 1 < o.batch) {
      auto* db = ss->add_spans();
      db->set_trace_id(trace_id);
      db->set_span_id(RandomBytes(rng, 8));
      db->set_parent_span_id(server_id);
      db->set_name(r < 4 ? std::string("SELECT orders") : "SELECT t" + std::to_string(r));
      db->set_kind(otlp::trace::v1::Span::SPAN_KIND_CLIENT);
      db->set_start_time_unix_nano(now - 4000000);
      db->set_end_time_unix_nano(now - 1000000);
      SetString(db->add_attributes(), "db.system", "postgresql");
      SetString(db->add_attributes(), "db.name", "orders");
      SetString(db->add_attributes(), "db.operation.name", "SELECT");
    }
  }
  return req;
}

otlp::collector::logs::v1::ExportLogsServiceRequest MakeLogs(const Options& o, int thread,
                                                             std::mt19937_64& rng) {
  otlp::collector::logs::v1::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  FillResource(rl->mutable_resource(), o, thread);
  auto* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("tributary.loadgen");
  const uint64_t now = NowNanos();
  for (int i = 0; i < std::max(1, o.batch / 10); ++i) {
    auto* log = sl->add_log_records();
    const bool error = rng() % 20 == 0;
    log->set_time_unix_nano(now);
    log->set_observed_time_unix_nano(now);
    log->set_severity_number(error ? otlp::logs::v1::SEVERITY_NUMBER_ERROR
                                   : otlp::logs::v1::SEVERITY_NUMBER_INFO);
    log->set_severity_text(error ? "ERROR" : "INFO");
    log->mutable_body()->set_string_value(error ? "payment declined" : "order placed");
    log->set_trace_id(RandomBytes(rng, 16));
    log->set_span_id(RandomBytes(rng, 8));
    SetString(log->add_attributes(), "order.id", std::to_string(rng() % 100000));
  }
  return req;
}

otlp::collector::metrics::v1::ExportMetricsServiceRequest MakeMetrics(const Options& o, int thread,
                                                                      uint64_t start,
                                                                      uint64_t requests) {
  otlp::collector::metrics::v1::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  FillResource(rm->mutable_resource(), o, thread);
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("tributary.loadgen");
  auto* counter = sm->add_metrics();
  counter->set_name("http.server.requests");
  counter->set_unit("{request}");
  counter->mutable_sum()->set_is_monotonic(true);
  counter->mutable_sum()->set_aggregation_temporality(
      otlp::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* p = counter->mutable_sum()->add_data_points();
  p->set_start_time_unix_nano(start);
  p->set_time_unix_nano(NowNanos());
  p->set_as_int(static_cast<int64_t>(requests));
  auto* hist = sm->add_metrics();
  hist->set_name("http.server.request.duration");
  hist->set_unit("s");
  hist->mutable_histogram()->set_aggregation_temporality(
      otlp::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* h = hist->mutable_histogram()->add_data_points();
  h->set_start_time_unix_nano(start);
  h->set_time_unix_nano(NowNanos());
  for (double b : {0.005, 0.01, 0.05, 0.1, 0.5}) h->add_explicit_bounds(b);
  uint64_t remaining = requests;
  for (int i = 0; i < 6; ++i) {
    uint64_t c = i == 5 ? remaining : remaining / 2;
    h->add_bucket_counts(c);
    remaining -= c;
  }
  h->set_count(requests);
  h->set_sum(0.004 * static_cast<double>(requests));
  return req;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--endpoint") {
      o->endpoint = v;
    } else if (k == "--threads") {
      o->threads = std::stoi(v);
    } else if (k == "--duration") {
      o->duration = std::stod(v);
    } else if (k == "--batch") {
      o->batch = std::stoi(v);
    } else if (k == "--rate") {
      o->rate = std::stod(v);
    } else if (k == "--routes") {
      o->routes = std::stoi(v);
    } else if (k == "--service") {
      o->service = v;
    } else if (k == "--signals") {
      o->traces = v.find("traces") != std::string::npos;
      o->logs = v.find("logs") != std::string::npos;
      o->metrics = v.find("metrics") != std::string::npos;
    } else {
      return false;
    }
  }
  return (argc % 2) == 1 && o->threads > 0 && o->batch > 0 && o->duration > 0 && o->routes > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    fprintf(stderr,
            "usage: tributary-loadgen --endpoint HOST:PORT [--threads N] [--duration S] "
            "[--batch SPANS] [--rate REQ_PER_S] [--signals traces,logs,metrics] [--service NAME] "
            "[--routes N]\n");
    return 2;
  }
  std::atomic<uint64_t> spans{0}, logs{0}, points{0}, failed{0}, requests{0};
  const Clock::time_point start = Clock::now();
  const Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(o.duration));
  const uint64_t start_nanos = NowNanos();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per thread
      args.SetMaxSendMessageSize(-1);
      auto channel =
          grpc::CreateCustomChannel(o.endpoint, grpc::InsecureChannelCredentials(), args);
      auto trace_stub = otlp::collector::trace::v1::TraceService::NewStub(channel);
      auto logs_stub = otlp::collector::logs::v1::LogsService::NewStub(channel);
      auto metrics_stub = otlp::collector::metrics::v1::MetricsService::NewStub(channel);
      std::mt19937_64 rng(std::random_device{}() + t);
      // A few prepared requests are cycled so that building them does not
      // weigh on the measurement.
      std::vector<otlp::collector::trace::v1::ExportTraceServiceRequest> prepared;
      for (int i = 0; i < 8; ++i) prepared.push_back(MakeTraces(o, t, rng));
      const auto interval = o.rate > 0 ? std::chrono::duration<double>(o.threads / o.rate)
                                       : std::chrono::duration<double>(0);
      Clock::time_point next = Clock::now();
      uint64_t sent_here = 0;
      for (uint64_t n = 0; Clock::now() < end; ++n) {
        if (o.rate > 0) {
          std::this_thread::sleep_until(next);
          next += std::chrono::duration_cast<Clock::duration>(interval);
        }
        auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
        if (o.traces) {
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline);
          otlp::collector::trace::v1::ExportTraceServiceResponse resp;
          otlp::collector::trace::v1::ExportTraceServiceRequest fresh;
          if (o.rate > 0) fresh = MakeTraces(o, t, rng);
          const auto& req = o.rate > 0 ? fresh : prepared[n % prepared.size()];
          size_t count = req.resource_spans(0).scope_spans(0).spans_size();
          if (trace_stub->Export(&ctx, req, &resp).ok()) {
            spans += count;
          } else {
            failed += count;
          }
        }
        if (o.logs) {
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline);
          otlp::collector::logs::v1::ExportLogsServiceResponse resp;
          auto req = MakeLogs(o, t, rng);
          size_t count = req.resource_logs(0).scope_logs(0).log_records_size();
          if (logs_stub->Export(&ctx, req, &resp).ok()) {
            logs += count;
          } else {
            failed += count;
          }
        }
        ++sent_here;
        if (o.metrics && n % 10 == 0) {
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline);
          otlp::collector::metrics::v1::ExportMetricsServiceResponse resp;
          if (metrics_stub->Export(&ctx, MakeMetrics(o, t, start_nanos, sent_here), &resp).ok()) {
            points += 2;
          } else {
            failed += 2;
          }
        }
        ++requests;
      }
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  printf(
      "loadgen: %.1f s, %llu requests, %llu spans (%.0f spans/s), %llu logs, %llu metric points, "
      "%llu failed\n",
      elapsed, static_cast<unsigned long long>(requests.load()),
      static_cast<unsigned long long>(spans.load()), spans.load() / elapsed,
      static_cast<unsigned long long>(logs.load()), static_cast<unsigned long long>(points.load()),
      static_cast<unsigned long long>(failed.load()));
  return failed.load() == 0 ? 0 : 1;
}
