// Cost per span of the aggregating connectors. spanmetrics folds batches of
// 1,000 spans spread over 10,000 series (100 services x 25 operations x 2
// kinds x 2 statuses) with two dimensions; servicegraph folds batches whose
// spans are the client and server sides of calls, every call completed
// within its batch or the next. Each is timed over 2,000,000 spans after a
// warm-up that creates every series, five times; the median is printed,
// with the heap allocations per span (counted by bench/sdk/alloc_count.cc).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "connectors/servicegraph/servicegraph_connector.h"
#include "connectors/spanmetrics/spanmetrics_connector.h"
#include "processors/aggregate/aggregate_processor.h"
#include "processors/tail_sampling/tail_sampling_processor.h"

// bench/sdk/alloc_count.cc: heap allocations made by the calling thread.
uint64_t ThreadAllocations() noexcept;

namespace {

using namespace tributary;
using opentelemetry::proto::trace::v1::Span;

class NullConsumer : public core::Consumer {
 public:
  absl::Status Consume(core::Envelope) noexcept override { return absl::OkStatus(); }
};

void SetString(opentelemetry::proto::common::v1::KeyValue* kv, const std::string& k,
               const std::string& v) {
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

// A batch as the receivers and the write-ahead buffer hand it on: the
// request's serialized bytes.
std::shared_ptr<const core::Batch> WireBatch(const core::TracesRequest& r) {
  return std::make_shared<const core::Batch>(core::Signal::kTraces, r.SerializeAsString(),
                                             core::CountRecords(r));
}

// Batches of 1,000 spans: 10 resources (services) of 100 spans each.
std::vector<std::shared_ptr<const core::Batch>> SpanMetricsBatches(int batches) {
  std::vector<std::shared_ptr<const core::Batch>> out;
  uint64_t n = 0;
  for (int b = 0; b < batches; ++b) {
    core::TracesRequest r;
    for (int res = 0; res < 10; ++res) {
      auto* rs = r.add_resource_spans();
      const int service = (b * 10 + res) % 100;
      SetString(rs->mutable_resource()->add_attributes(), "service.name",
                "service-" + std::to_string(service));
      SetString(rs->mutable_resource()->add_attributes(), "k8s.pod.name",
                "pod-" + std::to_string(service));
      SetString(rs->mutable_resource()->add_attributes(), "deployment.environment", "production");
      auto* ss = rs->add_scope_spans();
      for (int i = 0; i < 100; ++i, ++n) {
        Span* s = ss->add_spans();
        s->set_trace_id(std::string(16, static_cast<char>(n)));
        s->set_span_id(std::string(8, static_cast<char>(n >> 3)));
        s->set_name("GET /api/v1/operation/" + std::to_string(i % 25));
        s->set_kind((i / 25) % 2 ? Span::SPAN_KIND_SERVER : Span::SPAN_KIND_CLIENT);
        if ((i / 50) % 2) {
          s->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
        }
        s->set_start_time_unix_nano(1700000000000000000ull + n * 1000);
        s->set_end_time_unix_nano(1700000000000000000ull + n * 1000 + (n % 977) * 1000000);
        SetString(s->add_attributes(), "http.request.method", "GET");
        SetString(s->add_attributes(), "http.route", "/api/v1/operation");
        SetString(s->add_attributes(), "server.address", "10.0.0.1");
      }
    }
    out.push_back(WireBatch(r));
  }
  return out;
}

// Batches of 1,000 spans: 500 calls, each a client span of one service and
// the server span of the next.
std::vector<std::shared_ptr<const core::Batch>> ServiceGraphBatches(int batches, uint64_t first) {
  std::vector<std::shared_ptr<const core::Batch>> out;
  uint64_t call = first;
  for (int b = 0; b < batches; ++b) {
    core::TracesRequest r;
    for (int res = 0; res < 10; ++res) {
      auto* rs = r.add_resource_spans();
      SetString(rs->mutable_resource()->add_attributes(), "service.name",
                "service-" + std::to_string(res));
      auto* ss = rs->add_scope_spans();
      for (int i = 0; i < 50; ++i) {
        const uint64_t c = call + static_cast<uint64_t>(res * 50 + i);
        std::string trace(16, '\0'), id(8, '\0');
        memcpy(trace.data(), &c, 8);
        memcpy(id.data(), &c, 8);
        Span* client = ss->add_spans();
        client->set_trace_id(trace);
        client->set_span_id(id);
        client->set_kind(Span::SPAN_KIND_CLIENT);
        client->set_name("call");
        client->set_start_time_unix_nano(1700000000000000000ull);
        client->set_end_time_unix_nano(1700000000000000000ull + (c % 997) * 100000);
        // Its server side sits with the next service, in this batch.
        Span* server = r.mutable_resource_spans(res)->mutable_scope_spans(0)->add_spans();
        *server = *client;
        server->set_kind(Span::SPAN_KIND_SERVER);
        server->set_parent_span_id(id);
        id[7] = 1;
        server->set_span_id(id);
      }
    }
    call += 500;
    out.push_back(WireBatch(r));
  }
  return out;
}

// Resident memory of this process, KiB.
long RssKib() {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = 0;
  while (f != nullptr && fgets(line, sizeof(line), f) != nullptr) {
    if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
  }
  if (f != nullptr) fclose(f);
  return kib;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Connector>
void Measure(const char* name, Connector& c,
             const std::vector<std::shared_ptr<const core::Batch>>& batches, int rounds) {
  std::vector<double> ns, allocs;
  for (int run = 0; run < 5; ++run) {
    size_t spans = 0;
    const uint64_t a0 = ThreadAllocations();
    auto t0 = std::chrono::steady_clock::now();
    for (int round = 0; round < rounds; ++round) {
      for (const auto& b : batches) {
        if (!c.Consume(core::Envelope{b, {}}).ok()) std::abort();
        spans += b->record_count();
      }
    }
    auto t1 = std::chrono::steady_clock::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / spans);
    allocs.push_back(static_cast<double>(ThreadAllocations() - a0) / spans);
  }
  printf("BENCH %s_ns_per_span %.1f ns/span\n", name, Median(ns));
  printf("BENCH %s_allocations_per_span %.4f allocations/span\n", name, Median(allocs));
}

}  // namespace

int main() {
  NullConsumer sink;
  {
    connectors::spanmetrics::SpanMetricsConfig config;
    config.dimensions = {{"http.request.method", std::nullopt}, {"http.route", std::nullopt}};
    connectors::spanmetrics::SpanMetricsConnector c("spanmetrics", config, &sink, "bench");
    auto batches = SpanMetricsBatches(100);  // 100,000 spans reach every series
    const long before = RssKib();
    for (const auto& b : batches) (void)c.Consume(core::Envelope{b, {}});
    printf("BENCH spanmetrics_series %zu series\n", c.series());
    printf("BENCH spanmetrics_state_mib %.1f MiB\n", (RssKib() - before) / 1024.0);
    Measure("spanmetrics", c, batches, 20);
  }
  {
    // Tail sampling with three policies (errors, latency, 10%): batches of
    // 1,000 spans of 250 traces, decided after every 20 batches.
    processors::tail_sampling::TailSamplingConfig config;
    config.num_traces = 1000000;
    config.policies.resize(3);
    config.policies[0].type = "status_code";
    config.policies[0].status_code = processors::tail_sampling::StatusCodeConfig{{"ERROR"}};
    config.policies[1].type = "latency";
    config.policies[1].latency = processors::tail_sampling::LatencyConfig{500, 0};
    config.policies[2].type = "probabilistic";
    config.policies[2].probabilistic = processors::tail_sampling::ProbabilisticConfig{10, ""};
    std::vector<std::unique_ptr<processors::tail_sampling::Policy>> policies;
    for (size_t i = 0; i < 3; ++i) {
      policies.push_back(
          std::move(*processors::tail_sampling::Policy::Make(config.policies[i], i)));
    }
    uint64_t now = 0;
    processors::tail_sampling::TailSamplingProcessor p("tail_sampling", config, std::move(policies),
                                                       &sink, [&now] { return now; });
    auto batches = ServiceGraphBatches(400, 1 << 20);
    std::vector<double> ns, allocs;
    for (int run = 0; run < 5; ++run) {
      size_t spans = 0;
      const uint64_t a0 = ThreadAllocations();
      auto t0 = std::chrono::steady_clock::now();
      for (size_t b = 0; b < batches.size(); ++b) {
        if (!p.Consume(core::Envelope{batches[b], {}}).ok()) std::abort();
        spans += batches[b]->record_count();
        if (b % 20 == 19) {
          now += 100000000000ull;  // past decision_wait
          p.DecideDue();
        }
      }
      auto t1 = std::chrono::steady_clock::now();
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / spans);
      allocs.push_back(static_cast<double>(ThreadAllocations() - a0) / spans);
    }
    printf("BENCH tail_sampling_3_policies_ns_per_span %.1f ns/span\n", Median(ns));
    printf("BENCH tail_sampling_3_policies_allocations_per_span %.2f allocations/span\n",
           Median(allocs));
  }
  {
    // What 1,000,000 undecided traces (two spans each, as the batches above)
    // hold: resident memory with them pending, and refusal beyond num_traces.
    processors::tail_sampling::TailSamplingConfig config;
    config.num_traces = 1000000;
    config.policies.resize(1);
    config.policies[0].type = "always_sample";
    std::vector<std::unique_ptr<processors::tail_sampling::Policy>> policies;
    policies.push_back(std::move(*processors::tail_sampling::Policy::Make(config.policies[0], 0)));
    processors::tail_sampling::TailSamplingProcessor p("tail_sampling", config, std::move(policies),
                                                       &sink, [] { return uint64_t{0}; });
    const long before = RssKib();
    // 2,000 batches of 500 traces, made one at a time: only the processor
    // keeps them.
    for (uint64_t b = 0; b < 2000; ++b) {
      auto batch = ServiceGraphBatches(1, (2u << 20) + b * 500).front();
      if (!p.Consume(core::Envelope{batch, {}}).ok()) std::abort();
    }
    const long after = RssKib();
    const bool refused =
        !p.Consume(core::Envelope{ServiceGraphBatches(1, 1u << 30).front(), {}}).ok();
    printf("BENCH tail_sampling_1m_pending_traces %zu traces\n", p.pending());
    printf("BENCH tail_sampling_1m_pending_rss_mib %.0f MiB\n", (after - before) / 1024.0);
    printf("BENCH tail_sampling_bytes_per_pending_trace %.0f bytes\n",
           (after - before) * 1024.0 / static_cast<double>(p.pending()));
    printf("BENCH tail_sampling_full_refuses %d (1: a request of new traces was refused)\n",
           refused ? 1 : 0);
  }
  {
    // aggregate: three senders (pods) of the same 1,000 counter series, each
    // point a cumulative sum with two attributes, merged on dropping the pod.
    processors::aggregate::AggregateConfig config;
    config.drop_attributes = {"k8s.pod.name"};
    uint64_t now = 1700000000000000000ull;
    std::vector<std::shared_ptr<const core::Batch>> rounds;
    for (int round = 0; round < 20; ++round) {
      for (int pod = 0; pod < 3; ++pod) {
        core::MetricsRequest r;
        auto* rm = r.add_resource_metrics();
        SetString(rm->mutable_resource()->add_attributes(), "service.name", "shop");
        SetString(rm->mutable_resource()->add_attributes(), "k8s.pod.name",
                  "shop-" + std::to_string(pod));
        auto* m = rm->add_scope_metrics()->add_metrics();
        m->set_name("http.server.requests");
        m->mutable_sum()->set_is_monotonic(true);
        m->mutable_sum()->set_aggregation_temporality(
            opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
        for (int series = 0; series < 1000; ++series) {
          auto* point = m->mutable_sum()->add_data_points();
          SetString(point->add_attributes(), "http.route", "/r/" + std::to_string(series % 100));
          SetString(point->add_attributes(), "http.response.status_code",
                    std::to_string(200 + series / 100));
          point->set_start_time_unix_nano(1700000000000000000ull);
          point->set_time_unix_nano(1700000000000000000ull + (round + 1) * 1000000000ull);
          point->set_as_int(round * 10 + series);
        }
        rounds.push_back(std::make_shared<const core::Batch>(std::move(r)));
      }
    }
    std::vector<double> ns;
    for (int run = 0; run < 5; ++run) {
      processors::aggregate::AggregateProcessor fresh("aggregate", config, &sink,
                                                      [&now] { return now; });
      size_t points = 0;
      auto t0 = std::chrono::steady_clock::now();
      for (const auto& b : rounds) {
        if (!fresh.Consume(core::Envelope{b, {}}).ok()) std::abort();
        points += b->record_count();
      }
      auto t1 = std::chrono::steady_clock::now();
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / points);
    }
    printf("BENCH aggregate_ns_per_point %.1f ns/point\n", Median(ns));
  }
  {
    connectors::servicegraph::ServiceGraphConfig config;
    config.store.max_items = 100000;
    connectors::servicegraph::ServiceGraphConnector c("servicegraph", config, &sink, "bench");
    auto batches = ServiceGraphBatches(2000, 0);
    Measure("servicegraph", c, batches, 1);
  }
  return 0;
}
