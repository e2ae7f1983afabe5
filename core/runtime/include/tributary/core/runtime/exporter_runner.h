#ifndef TRIBUTARY_CORE_RUNTIME_EXPORTER_RUNNER_H_
#define TRIBUTARY_CORE_RUNTIME_EXPORTER_RUNNER_H_

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
#include "tributary/core/exporter_config.h"
#include "tributary/core/log.h"
#include "tributary/core/runtime/dead_letter.h"
#include "tributary/core/telemetry.h"

namespace tributary::core::runtime {

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
  size_t queue_capacity() const { return static_cast<size_t>(queue_config_.queue_size); }
  // How the last export attempts went, for the status page.
  struct Health {
    const char* state = "idle";  // idle (nothing sent yet), ok, retrying, failing
    std::string last_error;
    double last_error_at = 0;  // Unix seconds; 0: never
    double last_success_at = 0;
  };
  Health health() const;
  // Whether the exporter takes batches in wire form (Exporter::ReadsWireForm).
  bool ReadsWireForm() const { return exporter_->ReadsWireForm(); }

 private:
  void Work();
  void Deliver(Envelope& envelope);
  // The records `report` says the peer refused: dead-lettered or counted.
  // Returns how many.
  double SettleRejected(const Batch& batch, const ExportReport& report);
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
  void Record(const char* state, const absl::Status& error);
  mutable std::mutex health_mu_;
  Health health_;
};

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_EXPORTER_RUNNER_H_
