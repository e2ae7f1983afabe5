#include "tributary/core/runtime/exporter_runner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tributary/core/telemetry.h"

namespace tributary::core::runtime {

ExporterRunner::ExporterRunner(std::string id, std::unique_ptr<Exporter> exporter,
                               QueueConfig queue, RetryConfig retry,
                               std::optional<DeadLetterConfig> dead_letter)
    : id_(std::move(id)),
      exporter_(std::move(exporter)),
      queue_config_(queue),
      retry_(retry),
      dead_letter_(dead_letter ? std::make_unique<DeadLetterFile>(*dead_letter) : nullptr),
      jitter_(1 - retry.randomization_factor, 1 + retry.randomization_factor),
      queue_size_(Telemetry::Get().QueueSize(id_)),
      export_duration_(Telemetry::Get().ExportDuration(id_)) {
  Telemetry& t = Telemetry::Get();
  for (Signal s : kAllSignals) {
    counters_[static_cast<size_t>(s)] = {&t.ExporterSent(id_, s), &t.ExporterSendFailed(id_, s),
                                         &t.ExporterRetries(id_, s), &t.DeadLettered(id_, s)};
  }
  t.QueueCapacity(id_).Set(static_cast<double>(queue_config_.queue_size));
}

ExporterRunner::~ExporterRunner() { Shutdown(Clock::now()); }

absl::Status ExporterRunner::Start() {
  if (absl::Status s = exporter_->Start(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("exporter ", id_, ": ", s.message()));
  }
  int workers = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>(queue_config_.num_consumers, exporter_->MaxConcurrency())));
  std::lock_guard<std::mutex> lock(mu_);
  started_ = true;
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
  return absl::OkStatus();
}

absl::Status ExporterRunner::Consume(Envelope envelope) noexcept {
  if (envelope.batch == nullptr || envelope.batch->empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return absl::UnavailableError("exporter is shutting down");
  if (queue_.size() >= static_cast<size_t>(queue_config_.queue_size)) {
    return absl::ResourceExhaustedError(absl::StrCat("sending queue of ", id_, " is full"));
  }
  queue_.push_back(std::move(envelope));
  queue_size_.Set(static_cast<double>(queue_.size()));
  cv_.notify_one();
  return absl::OkStatus();
}

size_t ExporterRunner::queue_depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ExporterRunner::Work() {
  for (;;) {
    Envelope envelope;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty() || abort_) return;
      envelope = std::move(queue_.front());
      queue_.pop_front();
      queue_size_.Set(static_cast<double>(queue_.size()));
      if (queue_.empty()) cv_.notify_all();  // Shutdown waits for the queue to drain
    }
    Deliver(envelope);
  }
}

std::chrono::nanoseconds ExporterRunner::NextBackoff(std::chrono::nanoseconds current) {
  double next = static_cast<double>(current.count()) * retry_.multiplier;
  next = std::min(next, static_cast<double>(std::chrono::nanoseconds(retry_.max_interval).count()));
  return std::chrono::nanoseconds(static_cast<int64_t>(next));
}

void ExporterRunner::Deliver(Envelope& envelope) {
  const Signal signal = envelope.batch->signal();
  Telemetry& t = Telemetry::Get();
  const SignalCounters& counters = counters_[static_cast<size_t>(signal)];
  const Clock::time_point first_attempt = Clock::now();
  std::chrono::nanoseconds interval = retry_.initial_interval;
  // What is left to send: the whole batch, then what the exporter hands back.
  std::optional<Batch> rest;
  for (int attempt = 0;; ++attempt) {
    const Batch& batch = rest ? *rest : *envelope.batch;
    const double records = static_cast<double>(batch.record_count());
    ExportReport report;
    report.attempt = attempt;
    Clock::time_point begin = Clock::now();
    absl::Status status = exporter_->Export(batch, report);
    export_duration_.Observe(std::chrono::duration<double>(Clock::now() - begin).count());
    const bool retryable = !status.ok() && IsRetryable(status) && retry_.enabled;
    // With a retry of part of the batch, the records refused so far are
    // settled now; with a retry of all of it, they are refused again then.
    const bool narrowed = retryable && report.retry && !report.retry->empty();
    const double rejected = status.ok() || narrowed ? SettleRejected(batch, report) : 0;
    if (status.ok()) {
      counters.sent->Increment(records - rejected);
      Record("ok", status);
      return;
    }
    if (narrowed) {
      // Delivered in this attempt: all but what is handed back or refused.
      const double left = static_cast<double>(report.retry->record_count());
      counters.sent->Increment(std::max(0.0, records - left - rejected));
    }
    const double pending = narrowed ? static_cast<double>(report.retry->record_count()) : records;
    bool give_up = !retryable;
    bool aborted = false;
    std::chrono::nanoseconds wait{0};
    if (retryable) {
      // Workers retry concurrently; each thread draws jitter from its own generator.
      thread_local std::mt19937_64 rng(std::random_device{}());
      double jitter = std::uniform_real_distribution<double>(jitter_)(rng);
      wait = std::chrono::nanoseconds(static_cast<int64_t>(interval.count() * jitter));
      wait = std::max(wait, report.retry_after);
      interval = NextBackoff(interval);
      if (retry_.max_elapsed_time.count() > 0 &&
          Clock::now() + wait - first_attempt > retry_.max_elapsed_time) {
        give_up = true;
      }
    }
    Record(give_up ? "failing" : "retrying", status);
    if (!give_up) {
      std::unique_lock<std::mutex> lock(mu_);
      aborted = cv_.wait_for(lock, wait, [&] { return abort_; });
      give_up = aborted;
    }
    uint64_t held;
    if (give_up) {
      if (aborted && envelope.durable) {
        // Still in the buffer: the next process sends it.
        envelope.Fail(absl::UnavailableError("exporter shut down; the data stays buffered"));
        return;
      }
      if (!retryable) {
        Reject(batch, status, "permanent_error");
      } else {
        counters.send_failed->Increment(pending);
        const char* reason = aborted ? "shutdown" : "retries_exhausted";
        t.Dropped(id_, signal, reason).Increment(pending);
        if (log_limiter_.Allow(&held)) {
          Log(LogLevel::kError, id_, "dropping batch",
              absl::StrCat("records=", pending, " reason=", reason, " attempts=", attempt + 1,
                           " error=\"", status.ToString(), "\" suppressed=", held));
        }
      }
      envelope.Fail(status);
      return;
    }
    counters.retried->Increment(pending);
    if (log_limiter_.Allow(&held)) {
      Log(LogLevel::kWarn, id_, "export failed, will retry",
          absl::StrCat("records=", pending, " error=\"", status.ToString(),
                       "\" suppressed=", held));
    }
    if (narrowed) rest = std::move(*report.retry);
  }
}

void ExporterRunner::Record(const char* state, const absl::Status& error) {
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(health_mu_);
  health_.state = state;
  if (error.ok()) {
    health_.last_success_at = now;
  } else {
    health_.last_error = error.ToString();
    health_.last_error_at = now;
  }
}

ExporterRunner::Health ExporterRunner::health() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return health_;
}

double ExporterRunner::SettleRejected(const Batch& batch, const ExportReport& report) {
  const double rejected =
      static_cast<double>(std::min(report.rejected_records, batch.record_count()));
  if (report.rejected && !report.rejected->empty()) {
    Reject(*report.rejected, absl::InvalidArgumentError(report.rejected_reason),
           "rejected_by_destination");
  } else if (rejected > 0) {
    // The peer did not say which records: they can only be counted.
    Telemetry::Get().Dropped(id_, batch.signal(), "rejected_by_destination").Increment(rejected);
    uint64_t held;
    if (log_limiter_.Allow(&held)) {
      Log(LogLevel::kWarn, id_, "destination rejected part of a batch",
          absl::StrCat("rejected=", rejected, " reason=\"", report.rejected_reason,
                       "\" suppressed=", held));
    }
  }
  return rejected;
}

void ExporterRunner::Reject(const Batch& batch, const absl::Status& error,
                            const char* drop_reason) {
  const SignalCounters& counters = counters_[static_cast<size_t>(batch.signal())];
  const double records = static_cast<double>(batch.record_count());
  absl::Status written = absl::FailedPreconditionError("no dead_letter configured");
  if (dead_letter_) written = dead_letter_->Write(id_, batch, error);
  uint64_t held;
  if (written.ok()) {
    counters.dead_lettered->Increment(records);
    if (log_limiter_.Allow(&held)) {
      Log(LogLevel::kWarn, id_, "destination refused records, dead-lettered",
          absl::StrCat("records=", records, " error=\"", error.ToString(), "\" suppressed=", held));
    }
    return;
  }
  counters.send_failed->Increment(records);
  Telemetry::Get().Dropped(id_, batch.signal(), drop_reason).Increment(records);
  if (log_limiter_.Allow(&held)) {
    Log(LogLevel::kError, id_, "dropping records the destination refused",
        absl::StrCat("records=", records, " reason=", drop_reason, " error=\"", error.ToString(),
                     "\" dead_letter=\"", written.message(), "\" suppressed=", held));
  }
}

void ExporterRunner::Shutdown(Deadline deadline) noexcept {
  std::vector<std::thread> workers;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    cv_.notify_all();
    // Let the workers drain what is queued until the deadline.
    cv_.wait_until(lock, deadline, [&] { return queue_.empty(); });
    abort_ = true;
    cv_.notify_all();
    workers.swap(workers_);
  }
  for (std::thread& w : workers) w.join();
  std::deque<Envelope> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(queue_);
  }
  for (Envelope& e : left) {
    if (!e.durable) {
      Telemetry::Get()
          .Dropped(id_, e.batch->signal(), "shutdown")
          .Increment(static_cast<double>(e.batch->record_count()));
    }
    e.Fail(absl::UnavailableError("shut down before the data could be exported"));
  }
  if (started_) exporter_->Shutdown(deadline);
  started_ = false;
}

}  // namespace tributary::core::runtime
