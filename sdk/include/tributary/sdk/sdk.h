// The instrumentation SDK: one Sdk per process, configured by code or by the
// standard OpenTelemetry environment variables, exporting OTLP/HTTP protobuf
// to the node's agent from background threads.
//
//   auto sdk = tributary::sdk::Sdk::Create();          // from OTEL_* variables
//   auto tracer = sdk->GetTracer("checkout");
//   auto span = tracer.StartSpan("charge", {{"amount", 12}});
//
// Nothing here blocks the caller, throws, or grows without bound: every queue
// has a capacity, and what does not fit is dropped and counted (the counts are
// exported as the metric tributary.sdk.dropped).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tributary/sdk/common.h"
#include "tributary/sdk/logs.h"
#include "tributary/sdk/metrics.h"
#include "tributary/sdk/propagation.h"
#include "tributary/sdk/trace.h"

namespace tributary::sdk {
namespace detail {
struct Access;
class SdkState;
}  // namespace detail

enum class Sampler : uint8_t {
  kAlwaysOn,
  kAlwaysOff,
  kTraceIdRatio,
  kParentBasedAlwaysOn,
  kParentBasedAlwaysOff,
  kParentBasedTraceIdRatio,
};

enum class Temporality : uint8_t { kCumulative, kDelta };

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct TRIBUTARY_SDK_API SdkOptions {
  // OTEL_SDK_DISABLED: every API call is a no-op and no thread starts.
  bool disabled = false;
  // OTEL_SERVICE_NAME; empty: OTEL_RESOURCE_ATTRIBUTES' service.name, else
  // unknown_service:<executable>.
  std::string service_name;
  // OTEL_RESOURCE_ATTRIBUTES, added to the detected resource (and winning over it).
  KeyValues resource_attributes;
  // OTEL_EXPORTER_OTLP_ENDPOINT: /v1/traces, /v1/metrics, /v1/logs are appended.
  std::string endpoint = "http://localhost:4318";
  // OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT: full URLs, used as given.
  std::string traces_endpoint;
  std::string metrics_endpoint;
  std::string logs_endpoint;
  // OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER: "otlp",
  // or "none" to record and batch but send nothing.
  bool export_traces = true;
  bool export_metrics = true;
  bool export_logs = true;
  // OTEL_EXPORTER_OTLP_HEADERS, e.g. an authorization header.
  KeyValues headers;
  // OTEL_EXPORTER_OTLP_TIMEOUT: one export request.
  std::chrono::milliseconds export_timeout{10000};
  // OTEL_EXPORTER_OTLP_COMPRESSION=gzip.
  bool gzip = false;
  // Attempts per batch on retryable answers (429, 502, 503, 504, no
  // connection), with exponential backoff from 250 ms; then it is dropped.
  int max_export_attempts = 5;

  // OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG.
  Sampler sampler = Sampler::kParentBasedAlwaysOn;
  double sampler_ratio = 1.0;
  // OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY.
  size_t span_queue_size = 2048;
  size_t span_batch_size = 512;
  std::chrono::milliseconds span_schedule_delay{5000};
  // OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT,
  // OTEL_SPAN_LINK_COUNT_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (0: none).
  size_t span_attribute_count_limit = 128;
  size_t span_event_count_limit = 128;
  size_t span_link_count_limit = 128;
  size_t attribute_value_length_limit = 0;

  // OTEL_BLRP_MAX_QUEUE_SIZE, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, OTEL_BLRP_SCHEDULE_DELAY.
  size_t log_queue_size = 2048;
  size_t log_batch_size = 512;
  std::chrono::milliseconds log_schedule_delay{1000};
  // TRIBUTARY_LOG_LEVEL (trace, debug, info, warn, error, fatal).
  Severity min_log_severity = Severity::kTrace;

  // OTEL_METRIC_EXPORT_INTERVAL.
  std::chrono::milliseconds metric_export_interval{60000};
  // OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (cumulative, delta):
  // delta applies to counters and histograms.
  Temporality temporality = Temporality::kCumulative;
  // Series per instrument; further attribute sets go to one series labelled
  // otel.metric.overflow=true.
  size_t cardinality_limit = 2000;

  // The defaults above, overridden by the OTEL_* environment variables.
  // Unparsable values are reported on stderr and ignored.
  static SdkOptions FromEnvironment();
};

struct SdkStats {
  uint64_t spans_exported = 0;
  uint64_t spans_dropped = 0;  // queue full, or export failed
  uint64_t logs_exported = 0;
  uint64_t logs_dropped = 0;
  uint64_t metric_points_exported = 0;
  uint64_t metric_points_dropped = 0;
  uint64_t export_requests_failed =
      0;  // requests given up: refused, out of attempts or past the deadline
};

class TRIBUTARY_SDK_API Sdk {
 public:
  // Never fails: a bad option is reported on stderr and its default used.
  static std::unique_ptr<Sdk> Create(SdkOptions options = SdkOptions::FromEnvironment());
  // Shuts down with a 5 s deadline if Shutdown was not called.
  ~Sdk();
  Sdk(const Sdk&) = delete;
  Sdk& operator=(const Sdk&) = delete;

  // The name (and version) of the instrumentation scope.
  Tracer GetTracer(std::string_view name, std::string_view version = {});
  Meter GetMeter(std::string_view name, std::string_view version = {});
  Logger GetLogger(std::string_view name, std::string_view version = {});

  // Exports everything recorded so far; false if the deadline passed first.
  bool ForceFlush(std::chrono::milliseconds timeout) noexcept;
  // Flushes, then stops the export threads; returns within the timeout.
  // Idempotent. What is recorded afterwards is accepted and never exported.
  bool Shutdown(std::chrono::milliseconds timeout) noexcept;

  SdkStats stats() const noexcept;
  // The resource attributes every export carries.
  const KeyValues& resource() const noexcept;

 private:
  friend struct detail::Access;
  explicit Sdk(std::unique_ptr<detail::SdkState> state);
  std::unique_ptr<detail::SdkState> state_;
};

}  // namespace tributary::sdk
