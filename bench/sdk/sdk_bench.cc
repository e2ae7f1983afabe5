// The SDK's hot paths, each next to an uncontended std::atomic fetch_add in
// the same binary, with heap allocations per operation counted by a replaced
// global operator new (which also sees the allocations inside the shared
// library). Spans and logs go through the real batch processor; its exporter
// is "none" so the export thread only drains and recycles (encoding is
// measured on its own by BM_EncodeSpans).
#include <benchmark/benchmark.h>

#include <atomic>
#include <map>

#include "tributary/sdk/sdk.h"

uint64_t ThreadAllocations() noexcept;  // alloc_count.cc

namespace tributary::sdk {
namespace {

Sdk& TheSdk() {
  static std::unique_ptr<Sdk> sdk = [] {
    SdkOptions o;
    o.service_name = "bench";
    o.export_traces = o.export_metrics = o.export_logs = false;
    o.span_queue_size = 16384;  // room for both threads between drains
    o.log_queue_size = 16384;
    o.span_schedule_delay = std::chrono::milliseconds(20);
    o.log_schedule_delay = std::chrono::milliseconds(20);
    o.metric_export_interval = std::chrono::hours(1);
    return Sdk::Create(o);
  }();
  return *sdk;
}

uint64_t Dropped() {
  SdkStats s = TheSdk().stats();
  return s.spans_dropped + s.logs_dropped;
}

// Reports allocations per operation of the calling thread, and the spans and
// log records the SDK dropped meanwhile (every run carries the same counters).
class AllocationCount {
 public:
  explicit AllocationCount(benchmark::State& state)
      : state_(state), start_(ThreadAllocations()), dropped_(Dropped()) {}
  ~AllocationCount() {
    state_.counters["allocs_per_op"] = benchmark::Counter(
        static_cast<double>(ThreadAllocations() - start_), benchmark::Counter::kAvgIterations);
    state_.SetItemsProcessed(state_.iterations());
    if (state_.thread_index() == 0) {
      state_.counters["dropped"] = static_cast<double>(Dropped() - dropped_);
    } else {
      state_.counters["dropped"] = 0;
    }
  }

 private:
  benchmark::State& state_;
  uint64_t start_;
  uint64_t dropped_;
};

struct alignas(64) PaddedAtomic {
  std::atomic<uint64_t> v{0};
};
PaddedAtomic atomics[8];

void BM_BaselineAtomicFetchAdd(benchmark::State& state) {
  auto& a = atomics[state.thread_index() % 8].v;  // one per thread: uncontended
  AllocationCount count(state);
  for (auto _ : state) a.fetch_add(1, std::memory_order_relaxed);
}

Attribute kAttrs[3] = {
    {"http.route", "/api/cart"}, {"http.response.status_code", 200}, {"region", "eu-west-1"}};

void BM_CounterAddBound(benchmark::State& state) {
  static Counter counter = TheSdk().GetMeter("bench").CreateCounter("bound_counter");
  BoundCounter bound =
      counter.Bind(AttributeList(std::span<const Attribute>(kAttrs, state.range(0))));
  AllocationCount count(state);
  for (auto _ : state) bound.Add(1);
}

void BM_CounterAddUnbound(benchmark::State& state) {
  static Counter counter = TheSdk().GetMeter("bench").CreateCounter("unbound_counter");
  AttributeList attrs(std::span<const Attribute>(kAttrs, state.range(0)));
  counter.Add(1, attrs);  // the series exists, as it does in a running service
  AllocationCount count(state);
  for (auto _ : state) counter.Add(1, attrs);
}

void BM_CounterAddUnboundLiteral(benchmark::State& state) {
  static Counter counter = TheSdk().GetMeter("bench").CreateCounter("literal_counter");
  AllocationCount count(state);
  int64_t code = 200;
  for (auto _ : state) {
    benchmark::DoNotOptimize(code);
    counter.Add(1, {{"http.route", "/api/cart"},
                    {"http.response.status_code", code},
                    {"region", "eu-west-1"}});
  }
}

void BM_HistogramRecordBound(benchmark::State& state) {
  static Histogram h = TheSdk().GetMeter("bench").CreateHistogram("bound_histogram", "ms");
  BoundHistogram bound = h.Bind(AttributeList(std::span<const Attribute>(kAttrs, state.range(0))));
  AllocationCount count(state);
  double v = 0;
  for (auto _ : state) {
    bound.Record(v);
    v = v < 9000 ? v + 37.5 : 0;
  }
}

void BM_HistogramRecordUnbound(benchmark::State& state) {
  static Histogram h = TheSdk().GetMeter("bench").CreateHistogram("unbound_histogram", "ms");
  AttributeList attrs(std::span<const Attribute>(kAttrs, state.range(0)));
  h.Record(1, attrs);
  AllocationCount count(state);
  double v = 0;
  for (auto _ : state) {
    h.Record(v, attrs);
    v = v < 9000 ? v + 37.5 : 0;
  }
}

// The caller's cost of a span: every 1024 spans the timer stops while the
// export thread drains, as another core would in a service, so nothing is
// dropped and the figure is the start+end path alone.
void BM_SpanStartEnd(benchmark::State& state) {
  static Tracer tracer = TheSdk().GetTracer("bench");
  AttributeList attrs(std::span<const Attribute>(kAttrs, state.range(0)));
  {
    AllocationCount count(state);
    int n = 0;
    for (auto _ : state) {
      Span span = tracer.StartSpan("GET /api/cart", attrs, SpanKind::kServer);
      benchmark::DoNotOptimize(span);
      if (++n == 1024) {
        state.PauseTiming();
        TheSdk().ForceFlush(std::chrono::seconds(5));
        n = 0;
        state.ResumeTiming();
      }
    }
  }
}

// Spans as fast as the threads can make them, the export thread sharing the
// two cores: what does not fit in the queue is dropped and counted.
void BM_SpanStartEndSustained(benchmark::State& state) {
  static Tracer tracer = TheSdk().GetTracer("bench");
  AttributeList attrs(std::span<const Attribute>(kAttrs, 3));
  {
    AllocationCount count(state);
    for (auto _ : state) {
      Span span = tracer.StartSpan("GET /api/cart", attrs, SpanKind::kServer);
      benchmark::DoNotOptimize(span);
    }
  }
}

// Like BM_SpanStartEnd: the export thread drains while the timer stops.
void BM_LogEmit(benchmark::State& state) {
  static Logger logger = TheSdk().GetLogger("bench");
  AllocationCount count(state);
  int n = 0;
  for (auto _ : state) {
    logger.Info("order placed", {{"order.id", 1234}, {"customer", "c-42"}});
    if (++n == 1024) {
      state.PauseTiming();
      TheSdk().ForceFlush(std::chrono::seconds(5));
      n = 0;
      state.ResumeTiming();
    }
  }
}

class NullCarrier final : public TextMapCarrier {
 public:
  std::string_view Get(std::string_view) const noexcept override { return {}; }
  void Set(std::string_view key, std::string_view value) noexcept override {
    benchmark::DoNotOptimize(key.data());
    benchmark::DoNotOptimize(value.data());
  }
};

void BM_Inject(benchmark::State& state) {
  SpanContext c;
  c.trace_id.fill(0xab);
  c.span_id.fill(0xcd);
  c.trace_flags = 1;
  NullCarrier carrier;
  AllocationCount count(state);
  for (auto _ : state) InjectTraceContext(c, carrier);
}

void BM_Extract(benchmark::State& state) {
  std::map<std::string, std::string> headers{
      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
      {"content-type", "application/json"},
      {"user-agent", "bench"}};
  if (state.range(0) != 0) headers["tracestate"] = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
  MapCarrier carrier(headers);
  AllocationCount count(state);
  for (auto _ : state) {
    SpanContext c = ExtractTraceContext(carrier);
    benchmark::DoNotOptimize(c);
  }
}

BENCHMARK(BM_BaselineAtomicFetchAdd)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CounterAddBound)->Arg(0)->Arg(1)->Arg(3)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CounterAddUnbound)->Arg(0)->Arg(1)->Arg(3)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_CounterAddUnboundLiteral)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_HistogramRecordBound)->Arg(0)->Arg(1)->Arg(3)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_HistogramRecordUnbound)->Arg(0)->Arg(1)->Arg(3)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_SpanStartEnd)->Arg(0)->Arg(3)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_SpanStartEndSustained)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_LogEmit)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Inject)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Extract)->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace tributary::sdk

BENCHMARK_MAIN();
