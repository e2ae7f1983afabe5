#ifndef TRIBUTARY_CORE_EXPORTER_CONFIG_H_
#define TRIBUTARY_CORE_EXPORTER_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "tributary/core/config.h"

// The blocks every exporter's config may carry; the runtime reads them
// through the exporter's factory and runs the queue, retries and dead letter.
namespace tributary::core {

// The OpenTelemetry Collector's `retry_on_failure` block.
struct RetryConfig {
  bool enabled = true;
  std::chrono::milliseconds initial_interval{200};
  std::chrono::milliseconds max_interval{5000};
  std::chrono::milliseconds max_elapsed_time{300000};
  double multiplier = 1.5;
  double randomization_factor = 0.5;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("enabled", enabled, "retry retryable failures");
    v.Optional("initial_interval", initial_interval, "first wait before a retry");
    v.Optional("max_interval", max_interval, "longest wait between retries");
    v.Optional("max_elapsed_time", max_elapsed_time,
               "give up (and count the records as dropped) after this long; 0 retries forever");
    v.Optional("multiplier", multiplier, "growth of the wait between retries");
    v.Optional("randomization_factor", randomization_factor,
               "jitter: each wait is drawn from [1-f, 1+f] times the interval");
  }
  absl::Status Validate() const;
};

// The OpenTelemetry Collector's `sending_queue` block.
// Its other keys are read where Tributary behaves as they ask, and refused
// where it cannot.
struct QueueConfig {
  int64_t queue_size = 1000;
  int64_t num_consumers = 4;
  bool enabled = true;
  std::string sizer = "requests";
  bool block_on_overflow = false;
  bool wait_for_result = true;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("queue_size", queue_size,
               "batches held in memory; when full, senders are answered with a retryable error");
    v.Optional("num_consumers", num_consumers,
               "concurrent exports (capped at what the exporter supports)");
    v.Optional("enabled", enabled, "must stay true: every exporter has its queue");
    v.Optional("sizer", sizer, "must stay `requests`: queue_size counts batches");
    v.Optional("block_on_overflow", block_on_overflow,
               "must stay false: a full queue answers senders with a retryable error");
    v.Optional("wait_for_result", wait_for_result,
               "must stay true: a sender is answered once its data is exported (or written to "
               "the write-ahead buffer)");
    v.Unsupported("storage",
                  "batches outlive a restart in the write-ahead buffer (`service.buffer`)");
    v.Unsupported("batch", "batches are made by the `batch` processor");
  }
  absl::Status Validate() const;
};

// An exporter's `dead_letter` block: where records its destination refuses
// for good are kept, with the error, for an operator to inspect or replay.
struct DeadLetterConfig {
  std::string path;
  ByteSize max_size{100ull << 20};
  template <class V>
  void VisitFields(V&& v) {
    v.Required("path", path,
               "file that receives one JSON line per refused batch: time, exporter, signal, "
               "record count, error and the OTLP/JSON data");
    v.Optional("max_size", max_size,
               "size at which the file is moved to `<path>.1` (replacing the previous one)");
  }
  absl::Status Validate() const {
    if (path.empty()) return absl::InvalidArgumentError("path must not be empty");
    return absl::OkStatus();
  }
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_EXPORTER_CONFIG_H_
