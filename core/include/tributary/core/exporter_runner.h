#ifndef TRIBUTARY_CORE_EXPORTER_RUNNER_H_
#define TRIBUTARY_CORE_EXPORTER_RUNNER_H_

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/dead_letter.h"
#include "tributary/core/log.h"
#include "tributary/core/telemetry.h"

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
struct QueueConfig {
  int64_t queue_size = 1000;
  int64_t num_consumers = 4;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("queue_size", queue_size,
               "batches held in memory; when full, senders are answered with a retryable error");
    v.Optional("num_consumers", num_consumers,
               "concurrent exports (capped at what the exporter supports)");
  }
  absl::Status Validate() const;
};

// Owns one exporter's bounded queue and worker threads: takes envelopes from
// the pipeline, calls Export, retries with exponential backoff and jitter,
// counts every record as sent, failed or dropped, and settles the acks.
class ExporterRunner : public Consumer {
 public:
  ExporterRunner(std::string id, std::unique_ptr<Exporter> exporter, QueueConfig queue,
                 RetryConfig retry, std::optional<DeadLetterConfig> dead_letter = std::nullopt);
  ~ExporterRunner() override;

  absl::Status Start();
  absl::Status Consume(Envelope envelope) noexcept override;
  // Stops taking new data, drains the queue until the deadline, then fails
  // what is left with kUnavailable: counted as dropped{reason="shutdown"},
  // unless it came from a write-ahead buffer, which keeps it.
  void Shutdown(Deadline deadline) noexcept;

  const std::string& id() const { return id_; }
  size_t queue_depth() const;

 private:
  void Work();
  void Deliver(Envelope& envelope);
  // Records refused for good: to the dead-letter file when there is one,
  // else dropped; counted either way.
  void Reject(const Batch& batch, const absl::Status& error, const char* drop_reason);
  std::chrono::nanoseconds NextBackoff(std::chrono::nanoseconds current);

  const std::string id_;
  std::unique_ptr<Exporter> exporter_;
  const QueueConfig queue_config_;
  const RetryConfig retry_;
  std::unique_ptr<DeadLetterFile> dead_letter_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Envelope> queue_;
  bool stopping_ = false;
  bool abort_ = false;
  bool started_ = false;
  std::vector<std::thread> workers_;
  const std::uniform_real_distribution<double>::param_type jitter_;

  // Self-metrics resolved once; indexed by Signal.
  struct SignalCounters {
    prometheus::Counter* sent;
    prometheus::Counter* send_failed;
    prometheus::Counter* retried;
    prometheus::Counter* dead_lettered;
  };
  std::array<SignalCounters, 3> counters_;
  prometheus::Gauge& queue_size_;
  prometheus::Histogram& export_duration_;
  LogLimiter log_limiter_;
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_EXPORTER_RUNNER_H_
