#include "tributary/sdk/sdk.h"

#include <cstdio>

#include "state.h"

namespace tributary::sdk {
namespace detail {

std::vector<OwnedAttribute> DetectResource(const SdkOptions& o);

namespace {

std::string SignalUrl(const SdkOptions& o, const std::string& specific, const char* path) {
  if (!specific.empty()) return specific;
  std::string base = o.endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + path;
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string ValueString(const OwnedValue& v) {
  switch (v.type) {
    case AttributeValue::Type::kBool:
      return v.int_value != 0 ? "true" : "false";
    case AttributeValue::Type::kInt:
      return std::to_string(v.int_value);
    case AttributeValue::Type::kDouble:
      return std::to_string(v.double_value);
    case AttributeValue::Type::kString:
      return v.string_value;
  }
  return {};
}

}  // namespace

void SignalExport::Wake() noexcept {
  if (!sleeping.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(mu);
    wake = true;
  }
  cv.notify_one();
}

SdkState::SdkState(SdkOptions o)
    : options(std::move(o)),
      spans(options.span_queue_size, options.span_batch_size),
      logs(options.log_queue_size, options.log_batch_size),
      start_ns_(NowNanos()) {
  std::vector<OwnedAttribute> detected = DetectResource(options);
  WireWriter w(resource);
  WriteAttributes(w, 1, detected);  // Resource.attributes
  for (const auto& a : detected) resource_strings.emplace_back(a.key, ValueString(a.value));
  span_export_.name = "spans";
  log_export_.name = "logs";
  metric_export_.name = "metrics";
  span_export_.enabled = options.export_traces;
  log_export_.enabled = options.export_logs;
  metric_export_.enabled = options.export_metrics;
}

SdkState::~SdkState() { Shutdown(std::chrono::seconds(5)); }

void SdkState::Start() {
  if (options.disabled) return;
  span_export_.client = std::make_unique<OtlpHttpClient>(
      SignalUrl(options, options.traces_endpoint, "/v1/traces"), options.headers, options.gzip);
  log_export_.client = std::make_unique<OtlpHttpClient>(
      SignalUrl(options, options.logs_endpoint, "/v1/logs"), options.headers, options.gzip);
  metric_export_.client = std::make_unique<OtlpHttpClient>(
      SignalUrl(options, options.metrics_endpoint, "/v1/metrics"), options.headers, options.gzip);
  span_export_.thread = std::thread([this] {
    RunBatchExport(span_export_, spans, options.span_batch_size, options.span_schedule_delay);
  });
  log_export_.thread = std::thread([this] {
    RunBatchExport(log_export_, logs, options.log_batch_size, options.log_schedule_delay);
  });
  metric_export_.thread = std::thread([this] { RunMetricExport(); });
}

void SdkState::SubmitSpan(SpanRecord* r) noexcept {
  if (spans.Submit(r)) span_export_.Wake();
}

void SdkState::SubmitLog(LogRecordData* r) noexcept {
  if (logs.Submit(r)) log_export_.Wake();
}

void SdkState::LogError(SignalExport& sig, const std::string& message) {
  uint64_t now = NowNanos();
  if (now - sig.last_error_log_ns < 30'000'000'000ull && sig.last_error_log_ns != 0) return;
  sig.last_error_log_ns = now;
  std::fprintf(stderr, "tributary-sdk: %s export to %s: %s (repeats within 30 s not shown)\n",
               sig.name, sig.client->url().c_str(), message.c_str());
}

bool SdkState::WaitFor(SignalExport& sig, std::chrono::nanoseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  std::unique_lock lock(sig.mu);
  if (!stopping_.load()) sig.cv.wait_until(lock, until, [&] { return stopping_.load(); });
  if (!stopping_.load()) return true;
  // Shutting down: retry only if the retry can start before the deadline.
  if (until.time_since_epoch().count() >= stop_deadline_ns_.load()) return false;
  sig.cv.wait_until(lock, until, [] { return false; });
  return true;
}

bool SdkState::Export(SignalExport& sig, const std::string& body) {
  auto backoff = std::chrono::milliseconds(250);
  for (int attempt = 1;; ++attempt) {
    auto timeout = options.export_timeout;
    if (stopping_.load()) {
      int64_t left = stop_deadline_ns_.load() - SteadyNanos();
      if (left <= 0) return false;
      timeout = std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::nanoseconds(left)));
    }
    std::string error;
    std::chrono::milliseconds retry_after;
    PostResult r = sig.client->Post(body, timeout, error, retry_after);
    if (r == PostResult::kOk) return true;
    if (r == PostResult::kPermanent || attempt >= options.max_export_attempts) {
      LogError(sig, error + "; batch dropped");
      return false;
    }
    LogError(sig, error + "; retrying");
    auto wait = retry_after.count() >= 0 ? retry_after : backoff;
    // Full jitter on the backoff keeps many services from retrying in step.
    if (retry_after.count() < 0)
      wait = std::chrono::milliseconds(wait.count() / 2 + RandomU64() % (wait.count() / 2 + 1));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    if (!WaitFor(sig, wait)) return false;
  }
}

template <class T>
void SdkState::RunBatchExport(SignalExport& sig, RecordQueue<T>& queue, size_t batch_size,
                              std::chrono::milliseconds delay) {
  std::vector<T*> batch;
  batch.reserve(batch_size);
  std::string body;
  for (;;) {
    uint64_t flush_target;
    bool stop;
    {
      std::unique_lock lock(sig.mu);
      auto ready = [&] {
        return sig.wake || sig.flush_requested != sig.flush_done || stopping_.load();
      };
      if (!ready()) {
        sig.sleeping.store(true);
        if (!queue.HasBatch()) sig.cv.wait_for(lock, delay, ready);
        sig.sleeping.store(false);
      }
      sig.wake = false;
      flush_target = sig.flush_requested;
      stop = stopping_.load();
    }
    for (;;) {
      batch.clear();
      size_t n = queue.Drain(batch, batch_size);
      if (n == 0) break;
      try {
        if (sig.enabled) {  // exporter "none": recorded and batched, then let go
          if constexpr (std::is_same_v<T, SpanRecord>) {
            EncodeSpans(batch, resource, body);
          } else {
            EncodeLogs(batch, resource, body);
          }
          if (Export(sig, body)) {
            sig.exported.fetch_add(n, std::memory_order_relaxed);
          } else {
            sig.export_dropped.fetch_add(n, std::memory_order_relaxed);
            sig.requests_failed.fetch_add(1, std::memory_order_relaxed);
          }
        }
      } catch (...) {
        sig.export_dropped.fetch_add(n, std::memory_order_relaxed);
      }
      for (T* r : batch) queue.Recycle(r);
      if (n < batch_size) break;
    }
    {
      std::lock_guard lock(sig.mu);
      sig.flush_done = flush_target;
    }
    sig.cv.notify_all();
    if (stop) return;
  }
}

void SdkState::RunMetricExport() {
  SignalExport& sig = metric_export_;
  std::string body;
  for (;;) {
    uint64_t flush_target;
    bool stop;
    {
      std::unique_lock lock(sig.mu);
      auto ready = [&] { return sig.flush_requested != sig.flush_done || stopping_.load(); };
      sig.cv.wait_for(lock, options.metric_export_interval, ready);
      flush_target = sig.flush_requested;
      stop = stopping_.load();
    }
    try {
      size_t points = CollectMetrics(body);
      if (points > 0 && sig.enabled) {
        if (Export(sig, body)) {
          sig.exported.fetch_add(points, std::memory_order_relaxed);
        } else {
          sig.export_dropped.fetch_add(points, std::memory_order_relaxed);
          sig.requests_failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
    } catch (...) {
    }
    {
      std::lock_guard lock(sig.mu);
      sig.flush_done = flush_target;
    }
    sig.cv.notify_all();
    if (stop) return;
  }
}

size_t SdkState::WriteSelfMetrics(WireWriter& w, uint64_t now_ns) {
  static const ScopeInfo kScope{"tributary-sdk", "0.1.0"};
  struct Point {
    const char* signal;
    const char* reason;
    uint64_t value;
  };
  const Point dropped[] = {
      {"spans", "queue_full", spans.dropped()},
      {"spans", "export_failed", span_export_.export_dropped.load()},
      {"logs", "queue_full", logs.dropped()},
      {"logs", "export_failed", log_export_.export_dropped.load()},
      {"metric_points", "export_failed", metric_export_.export_dropped.load()},
  };
  const Point exported[] = {
      {"spans", nullptr, span_export_.exported.load()},
      {"logs", nullptr, log_export_.exported.load()},
      {"metric_points", nullptr, metric_export_.exported.load()},
  };
  size_t sm = w.Open(2);
  WriteScope(w, 1, kScope);
  size_t points = 0;
  auto write = [&](const char* name, const char* description, const auto& list) {
    size_t m = w.Open(2);
    w.Bytes(1, name);
    w.Bytes(2, description);
    w.Bytes(3, "{item}");
    size_t sum = w.Open(7);
    std::vector<OwnedAttribute> attributes;
    for (const Point& p : list) {
      attributes.resize(p.reason != nullptr ? 2 : 1);
      attributes[0].key = "signal";
      attributes[0].value.Assign(AttributeValue(p.signal), 0);
      if (p.reason != nullptr) {
        attributes[1].key = "reason";
        attributes[1].value.Assign(AttributeValue(p.reason), 0);
      }
      WriteNumberPoint(w, attributes, start_ns_, now_ns, true, static_cast<int64_t>(p.value), 0);
      ++points;
    }
    w.UInt64(2, 2);
    w.Bool(3, true);
    w.Close(sum);
    w.Close(m);
  };
  write("tributary.sdk.dropped", "Telemetry the SDK dropped, by signal and reason", dropped);
  write("tributary.sdk.exported", "Telemetry the agent acknowledged, by signal", exported);
  w.Close(sm);
  return points;
}

size_t SdkState::CollectMetrics(std::string& out) {
  out.clear();
  WireWriter w(out);
  uint64_t now = NowNanos();
  size_t rm = w.Open(1);  // ExportMetricsServiceRequest.resource_metrics
  w.BytesAlways(1, resource);
  size_t points = 0;
  std::vector<MeterState*> meters;
  {
    std::lock_guard lock(scopes_mu_);
    for (auto& m : meters_) meters.push_back(m.get());
  }
  for (MeterState* m : meters) points += m->Collect(w, now, options.temporality);
  points += WriteSelfMetrics(w, now);
  w.Close(rm);
  return points;
}

bool SdkState::RequestFlush(SignalExport& sig, std::chrono::steady_clock::time_point deadline) {
  if (!sig.thread.joinable()) return true;
  std::unique_lock lock(sig.mu);
  uint64_t target = ++sig.flush_requested;
  sig.cv.notify_all();
  return sig.cv.wait_until(lock, deadline, [&] { return sig.flush_done >= target; });
}

bool SdkState::ForceFlush(std::chrono::milliseconds timeout) noexcept {
  if (options.disabled || shut_down_.load()) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool ok = RequestFlush(span_export_, deadline);
  ok = RequestFlush(log_export_, deadline) && ok;
  ok = RequestFlush(metric_export_, deadline) && ok;
  return ok;
}

bool SdkState::Shutdown(std::chrono::milliseconds timeout) noexcept {
  if (shut_down_.exchange(true)) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  stop_deadline_ns_.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count());
  for (SignalExport* sig : {&span_export_, &log_export_, &metric_export_}) {
    std::lock_guard lock(sig->mu);
    stopping_.store(true);
    sig->cv.notify_all();
  }
  for (SignalExport* sig : {&span_export_, &log_export_, &metric_export_}) {
    // Every wait and request of the export threads ends by the deadline.
    if (sig->thread.joinable()) sig->thread.join();
  }
  return std::chrono::steady_clock::now() <= deadline && spans.Empty() && logs.Empty() &&
         span_export_.export_dropped.load() == 0 && log_export_.export_dropped.load() == 0;
}

SdkStats SdkState::Stats() noexcept {
  SdkStats s;
  s.spans_exported = span_export_.exported.load();
  s.spans_dropped = spans.dropped() + span_export_.export_dropped.load();
  s.logs_exported = log_export_.exported.load();
  s.logs_dropped = logs.dropped() + log_export_.export_dropped.load();
  s.metric_points_exported = metric_export_.exported.load();
  s.metric_points_dropped = metric_export_.export_dropped.load();
  s.export_requests_failed = span_export_.requests_failed.load() +
                             log_export_.requests_failed.load() +
                             metric_export_.requests_failed.load();
  return s;
}

namespace {
template <class State>
State* FindOrAdd(std::vector<std::unique_ptr<State>>& list, SdkState* sdk, std::string_view name,
                 std::string_view version) {
  for (auto& s : list)
    if (s->scope.name == name && s->scope.version == version) return s.get();
  list.push_back(std::make_unique<State>(sdk, ScopeInfo{std::string(name), std::string(version)}));
  return list.back().get();
}
}  // namespace

TracerState* SdkState::Tracer(std::string_view name, std::string_view version) {
  std::lock_guard lock(scopes_mu_);
  return FindOrAdd(tracers_, this, name, version);
}
MeterState* SdkState::Meter(std::string_view name, std::string_view version) {
  std::lock_guard lock(scopes_mu_);
  return FindOrAdd(meters_, this, name, version);
}
LoggerState* SdkState::Logger(std::string_view name, std::string_view version) {
  std::lock_guard lock(scopes_mu_);
  return FindOrAdd(loggers_, this, name, version);
}

}  // namespace detail

std::unique_ptr<Sdk> Sdk::Create(SdkOptions options) {
  auto state = std::make_unique<detail::SdkState>(std::move(options));
  state->Start();
  return std::unique_ptr<Sdk>(new Sdk(std::move(state)));
}

Sdk::Sdk(std::unique_ptr<detail::SdkState> state) : state_(std::move(state)) {}
Sdk::~Sdk() = default;

namespace {
// A handle on the named scope, or a no-op one (disabled SDK, out of memory).
template <class Handle, class State>
Handle ScopeHandle(detail::SdkState& sdk,
                   State* (detail::SdkState::*get)(std::string_view, std::string_view),
                   std::string_view name, std::string_view version) {
  if (sdk.options.disabled) return Handle();
  try {
    return detail::Access::Make<Handle>((sdk.*get)(name, version));
  } catch (...) {
    return Handle();
  }
}
}  // namespace

Tracer Sdk::GetTracer(std::string_view name, std::string_view version) {
  return ScopeHandle<Tracer>(*state_, &detail::SdkState::Tracer, name, version);
}
Meter Sdk::GetMeter(std::string_view name, std::string_view version) {
  return ScopeHandle<Meter>(*state_, &detail::SdkState::Meter, name, version);
}
Logger Sdk::GetLogger(std::string_view name, std::string_view version) {
  return ScopeHandle<Logger>(*state_, &detail::SdkState::Logger, name, version);
}
bool Sdk::ForceFlush(std::chrono::milliseconds timeout) noexcept {
  return state_->ForceFlush(timeout);
}
bool Sdk::Shutdown(std::chrono::milliseconds timeout) noexcept { return state_->Shutdown(timeout); }
SdkStats Sdk::stats() const noexcept { return state_->Stats(); }
const KeyValues& Sdk::resource() const noexcept { return state_->resource_strings; }

}  // namespace tributary::sdk
