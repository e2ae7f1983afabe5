// The SDK's internal state: records, scopes, instruments and the Sdk itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "internal.h"
#include "otlp_http.h"
#include "tributary/sdk/sdk.h"
#include "wire.h"

namespace tributary::sdk::detail {

class SdkState;

struct ScopeInfo {
  std::string name;
  std::string version;
};

// ---- Tracing -------------------------------------------------------------

struct SpanEvent {
  std::string name;
  uint64_t time_ns = 0;
  AttributeStore attributes;
};

struct SpanLink {
  SpanContext context;
  AttributeStore attributes;
};

struct SpanRecord {
  void* owner = nullptr;
  const TracerState* scope = nullptr;
  SpanContext context;
  SpanId parent_span_id{};
  bool has_parent = false;
  bool parent_remote = false;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  AttributeStore attributes;
  std::vector<SpanEvent> events;
  uint32_t event_count = 0;
  uint32_t dropped_events = 0;
  std::vector<SpanLink> links;
  uint32_t link_count = 0;
  uint32_t dropped_links = 0;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
};

class TracerState {
 public:
  TracerState(SdkState* sdk, ScopeInfo scope) : sdk(sdk), scope(std::move(scope)) {}
  SdkState* const sdk;
  const ScopeInfo scope;
};

// ---- Logs ----------------------------------------------------------------

struct LogRecordData {
  void* owner = nullptr;
  const LoggerState* scope = nullptr;
  uint64_t time_ns = 0;
  Severity severity = Severity::kInfo;
  std::string body;
  AttributeStore attributes;
  TraceId trace_id{};
  SpanId span_id{};
  uint8_t trace_flags = 0;
};

class LoggerState {
 public:
  LoggerState(SdkState* sdk, ScopeInfo scope) : sdk(sdk), scope(std::move(scope)) {}
  SdkState* const sdk;
  const ScopeInfo scope;
};

// ---- Metrics -------------------------------------------------------------

enum class InstrumentKind : uint8_t {
  kCounter,
  kUpDownCounter,
  kHistogram,
  kGauge,
  kObservableCounter,
  kObservableUpDownCounter,
  kObservableGauge,
};

// Threads get one of kExclusiveStripes cells of every series to themselves
// (written without read-modify-write atomics); beyond that many live
// threads, the rest share the last cell with atomic read-modify-writes.
constexpr int kExclusiveStripes = 8;
constexpr int kSharedStripe = kExclusiveStripes;
constexpr int kStripes = kExclusiveStripes + 1;
int ThisThreadStripe() noexcept;

struct alignas(64) CellLine {
  std::atomic<uint64_t> word[8];
};

struct InstrumentOptions {
  std::string_view unit;
  std::string_view description;
  std::vector<double> boundaries;
};

struct Series {
  class Instrument* instrument = nullptr;
  uint64_t hash = 0;
  std::vector<OwnedAttribute> attributes;  // unique keys, in first-seen order
  uint64_t start_ns = 0;
  size_t lines_per_stripe = 1;
  std::unique_ptr<CellLine[]> cells;
  // Collection thread only: the values last reported, for delta temporality.
  std::vector<uint64_t> last;
  uint64_t last_collect_ns = 0;

  std::atomic<uint64_t>& Word(int stripe, size_t i) noexcept {
    return cells[static_cast<size_t>(stripe) * lines_per_stripe + i / 8].word[i % 8];
  }
  bool Matches(AttributeList list) const noexcept;
};

class Instrument {
 public:
  Instrument(MeterState* meter, InstrumentKind kind, std::string name,
             const InstrumentOptions& options, ObservableCallback callback);
  // The series for these attributes; lock-free when it exists. Never null.
  Series* Find(AttributeList attributes) noexcept;

  void Add(Series* s, int64_t v) noexcept;
  void Record(Series* s, double v) noexcept;
  void Set(Series* s, double v) noexcept;

  // Writes this instrument's Metric message; returns the data points written.
  size_t Collect(WireWriter& w, uint64_t now_ns, Temporality temporality);

  MeterState* const meter;
  const InstrumentKind kind;
  const std::string name;
  const std::string unit;
  const std::string description;
  const std::vector<double> boundaries;
  const ObservableCallback callback;

 private:
  Series* Insert(AttributeList attributes) noexcept;
  Series* Overflow() noexcept;
  std::unique_ptr<Series> NewSeries(std::vector<OwnedAttribute> attributes, uint64_t hash);
  size_t WordsPerStripe() const noexcept;

  const uint64_t created_ns_;
  size_t limit_;
  size_t slot_mask_;
  std::unique_ptr<std::atomic<Series*>[]> slots_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Series>> series_;  // guarded by mu_; never shrinks
  std::unique_ptr<Series> overflow_;             // otel.metric.overflow=true
  std::atomic<bool> overflow_used_{false};
};

class MeterState {
 public:
  MeterState(SdkState* sdk, ScopeInfo scope) : sdk(sdk), scope(std::move(scope)) {}
  Instrument* GetOrCreate(InstrumentKind kind, std::string_view name,
                          const InstrumentOptions& options, ObservableCallback callback);
  // Writes a ScopeMetrics message (if any point); returns the points written.
  size_t Collect(WireWriter& w, uint64_t now_ns, Temporality temporality);

  SdkState* const sdk;
  const ScopeInfo scope;

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Instrument>> instruments_;
};

uint64_t HashAttributes(AttributeList list) noexcept;
std::vector<OwnedAttribute> CanonicalAttributes(AttributeList list, size_t length_limit);

// ---- Encoding ------------------------------------------------------------

void WriteAnyValue(WireWriter& w, uint32_t field, const OwnedValue& v);
void WriteKeyValue(WireWriter& w, uint32_t field, std::string_view key, const OwnedValue& v);
void WriteAttributes(WireWriter& w, uint32_t field, const AttributeStore& a);
void WriteAttributes(WireWriter& w, uint32_t field, const std::vector<OwnedAttribute>& a);
void WriteScope(WireWriter& w, uint32_t field, const ScopeInfo& scope);
// A NumberDataPoint (field 1 of Sum and Gauge): as_int when is_int, else as_double.
void WriteNumberPoint(WireWriter& w, const std::vector<OwnedAttribute>& attributes,
                      uint64_t start_ns, uint64_t now_ns, bool is_int, int64_t int_value,
                      double double_value);
// ExportTraceServiceRequest / ExportLogsServiceRequest bodies.
void EncodeSpans(const std::vector<SpanRecord*>& spans, const std::string& resource,
                 std::string& out);
void EncodeLogs(const std::vector<LogRecordData*>& logs, const std::string& resource,
                std::string& out);

// ---- The Sdk -------------------------------------------------------------

// One signal's export thread and its endpoint.
struct SignalExport {
  const char* name = "";
  bool enabled = true;  // false: exporter "none"
  std::unique_ptr<OtlpHttpClient> client;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool wake = false;             // guarded by mu
  uint64_t flush_requested = 0;  // guarded by mu
  uint64_t flush_done = 0;       // guarded by mu
  std::atomic<bool> sleeping{false};
  std::atomic<uint64_t> exported{0};
  std::atomic<uint64_t> export_dropped{0};   // records lost to failed exports
  std::atomic<uint64_t> requests_failed{0};  // export requests finally given up
  uint64_t last_error_log_ns = 0;            // export thread only

  void Wake() noexcept;
};

class SdkState {
 public:
  explicit SdkState(SdkOptions options);
  ~SdkState();

  void Start();
  bool ForceFlush(std::chrono::milliseconds timeout) noexcept;
  bool Shutdown(std::chrono::milliseconds timeout) noexcept;

  TracerState* Tracer(std::string_view name, std::string_view version);
  MeterState* Meter(std::string_view name, std::string_view version);
  LoggerState* Logger(std::string_view name, std::string_view version);

  bool ShouldSample(const SpanContext* parent, const TraceId& trace_id) const noexcept;
  void SubmitSpan(SpanRecord* r) noexcept;
  void SubmitLog(LogRecordData* r) noexcept;
  SdkStats Stats() noexcept;

  // Writes a whole ExportMetricsServiceRequest; returns the points in it.
  size_t CollectMetrics(std::string& out);

  const SdkOptions options;
  KeyValues resource_strings;
  std::string resource;  // the encoded Resource message body
  RecordQueue<SpanRecord> spans;
  RecordQueue<LogRecordData> logs;

 private:
  template <class T>
  void RunBatchExport(SignalExport& sig, RecordQueue<T>& queue, size_t batch_size,
                      std::chrono::milliseconds delay);
  void RunMetricExport();
  // Posts with retries; false if the request was finally given up.
  bool Export(SignalExport& sig, const std::string& body);
  bool WaitFor(SignalExport& sig, std::chrono::nanoseconds d);
  void LogError(SignalExport& sig, const std::string& message);
  size_t WriteSelfMetrics(WireWriter& w, uint64_t now_ns);
  bool RequestFlush(SignalExport& sig, std::chrono::steady_clock::time_point deadline);

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> stop_deadline_ns_{
      0};  // steady clock; the export threads stop retrying after it
  std::atomic<bool> shut_down_{false};
  uint64_t start_ns_;
  std::atomic<uint64_t> metric_points_dropped_{0};

  std::mutex scopes_mu_;
  std::vector<std::unique_ptr<TracerState>> tracers_;
  std::vector<std::unique_ptr<MeterState>> meters_;
  std::vector<std::unique_ptr<LoggerState>> loggers_;

  SignalExport span_export_;
  SignalExport log_export_;
  SignalExport metric_export_;
};

}  // namespace tributary::sdk::detail

namespace tributary::sdk::detail {
// Reaches the state behind the public handles (tests and benchmarks).
struct Access {
  static SdkState& State(Sdk& sdk) { return *sdk.state_; }
  // A Tracer, Meter or Logger on its state.
  template <class Handle, class State>
  static Handle Make(State* s) {
    return Handle(s);
  }
};
}  // namespace tributary::sdk::detail
