#ifndef TRIBUTARY_CORE_TESTING_TEST_CONSUMER_H_
#define TRIBUTARY_CORE_TESTING_TEST_CONSUMER_H_

#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"
#include "tributary/core/batch.h"
#include "tributary/core/component.h"
#include "tributary/core/telemetry.h"

namespace tributary::core::testing {

// A pipeline end for tests: keeps every batch it is given and settles its
// acks with `ack_status`, or refuses with `refuse_status` when that is set.
class RecordingConsumer : public Consumer {
 public:
  absl::Status Consume(Envelope envelope) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!refuse_status.ok()) return refuse_status;
    batches_.push_back(*envelope.batch);
    envelope.Fail(ack_status);
    cv_.notify_all();
    return absl::OkStatus();
  }
  std::vector<Batch> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  size_t records() {
    std::lock_guard<std::mutex> lock(mu_);
    return RecordsLocked();
  }
  // Waits until at least `n` records arrived; false on timeout.
  bool WaitForRecords(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return RecordsLocked() >= n; });
  }

  absl::Status ack_status;
  absl::Status refuse_status;

 private:
  size_t RecordsLocked() const {
    size_t n = 0;
    for (const Batch& b : batches_) n += b.record_count();
    return n;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Batch> batches_;
};

// A temporary directory removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "tributary-XXXXXX";
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Reads a self-metric's current value from the process registry.
inline double MetricValue(const std::string& name,
                          const std::map<std::string, std::string>& labels) {
  double total = 0;
  for (const auto& family : Telemetry::Get().registry().Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (match) total += m.counter.value + m.gauge.value;
    }
  }
  return total;
}

// A span request with `n` spans of valid ids for tests.
inline TracesRequest MakeSpans(int n, const std::string& service = "test") {
  TracesRequest r;
  auto* rs = r.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("scope");
  for (int i = 0; i < n; ++i) {
    auto* span = ss->add_spans();
    std::string trace(16, '\0'), id(8, '\0');
    trace[0] = static_cast<char>(i + 1);
    trace[15] = static_cast<char>(i >> 8);
    id[0] = static_cast<char>(i + 1);
    id[7] = static_cast<char>(i >> 8);
    span->set_trace_id(trace);
    span->set_span_id(id);
    span->set_name("op" + std::to_string(i));
    span->set_start_time_unix_nano(1700000000000000000ull + i);
    span->set_end_time_unix_nano(1700000000000001000ull + i);
  }
  return r;
}

// Exports `batch` as the exporter runner does, without its waits: up to
// `attempts` calls, each after a retryable failure sending what the exporter
// handed back (ExportReport::retry) or the whole batch again. `report` ends
// with the last attempt's fields and every record refused on the way.
inline absl::Status ExportWithRetries(Exporter& exporter, const Batch& batch, ExportReport& report,
                                      int attempts = 10, int first_attempt = 0) {
  std::optional<Batch> rest;
  absl::Status status;
  ExportReport refused;
  for (int a = first_attempt; a < first_attempt + attempts; ++a) {
    ExportReport attempt;
    attempt.attempt = a;
    status = exporter.Export(rest ? *rest : batch, attempt);
    const bool narrowed = !status.ok() && IsRetryable(status) && attempt.retry;
    if (status.ok() || narrowed) {
      refused.rejected_records += attempt.rejected_records;
      if (refused.rejected_reason.empty()) refused.rejected_reason = attempt.rejected_reason;
      if (attempt.rejected && refused.rejected) {
        refused.rejected->Append(*attempt.rejected);
      } else if (attempt.rejected) {
        refused.rejected = std::move(attempt.rejected);
      }
    }
    report.attempt = a;
    report.retry_after = attempt.retry_after;
    report.retry = attempt.retry;
    if (narrowed) rest = std::move(*attempt.retry);
    if (status.ok() || !IsRetryable(status)) break;
  }
  report.rejected_records = refused.rejected_records;
  report.rejected_reason = refused.rejected_reason;
  report.rejected = std::move(refused.rejected);
  return status;
}

}  // namespace tributary::core::testing

#endif  // TRIBUTARY_CORE_TESTING_TEST_CONSUMER_H_
