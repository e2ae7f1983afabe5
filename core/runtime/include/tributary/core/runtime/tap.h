#ifndef TRIBUTARY_CORE_RUNTIME_TAP_H_
#define TRIBUTARY_CORE_RUNTIME_TAP_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tributary/core/component.h"

namespace tributary::core::runtime {

class TapHub;

// Where records pass a component: a receiver's output, a processor's
// output, an exporter's or connector's input. Counts what passes (for the
// status page) and copies it to the taps open on it; with none open that
// copy costs one relaxed atomic load per batch.
class TapPoint : public Consumer {
 public:
  enum class Side { kOutput, kInput };
  TapPoint(TapHub* hub, std::string component, Side side, Signal signal, Consumer* next);
  ~TapPoint() override;
  TapPoint(const TapPoint&) = delete;
  TapPoint& operator=(const TapPoint&) = delete;

  absl::Status Consume(Envelope envelope) noexcept override;

  const std::string& component() const { return component_; }
  Side side() const { return side_; }
  Signal signal() const { return signal_; }
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }

 private:
  friend class TapHub;
  TapHub* const hub_;
  const std::string component_;
  const Side side_;
  const Signal signal_;
  Consumer* const next_;
  std::atomic<uint64_t> records_{0};
  std::atomic<int> open_{0};  // taps reading here
};

// Limits of the taps of one process (service.admin.tap).
struct TapLimits {
  int max_concurrent = 4;
  // Records a tap copies per second, on average (per tap): a batch is
  // copied whole when the tap's allowance is above zero, and its records
  // are taken from it.
  double records_per_second = 1000;
  size_t max_buffered_bytes = 8u << 20;  // per tap, not yet read; a slower reader is cut
  std::chrono::milliseconds max_duration{60000};
};

// One tap asked for: what passes `component` (every component when empty;
// every point of it, or those of `signal`), up to `limit` lines or
// `duration`.
struct TapRequest {
  std::string component;
  std::optional<Signal> signal;
  size_t limit = 100;
  std::chrono::milliseconds duration{10000};
};

// Where a tap's lines go as they come: OTLP/JSON export requests, one per
// line. `write` is called once with none as soon as the tap is open, then
// with each group of lines; false stops the tap (the reader has gone).
// `backlog` tells how many bytes the reader has not taken yet.
struct TapSink {
  std::function<bool(std::string_view lines)> write;
  std::function<size_t()> backlog;
};

struct TapResult {
  size_t count = 0;  // lines written
  bool cut = false;  // the reader fell behind: the tap stopped early
};

// The points of the running pipelines and the taps open on them. Lives as
// long as the process: points come and go with reloads, and the records they
// counted stay in the totals.
class TapHub {
 public:
  explicit TapHub(TapLimits limits = {}) : limits_(limits) {}

  // Opens a tap and hands `sink` what passes until the limit, the
  // duration, the end of the process or the reader's going, on the calling
  // thread. A tap whose reader leaves more than max_buffered_bytes behind is
  // cut. Errors, before anything is written: kNotFound (no such component
  // or signal: the message names the known ones), kResourceExhausted (too
  // many taps open).
  absl::StatusOr<TapResult> Tap(const TapRequest& request, const TapSink& sink);

  // Records that passed each component, by side, since the process started.
  struct Totals {
    std::map<std::string, uint64_t> output;  // receivers, processors, connectors
    std::map<std::string, uint64_t> input;   // exporters, connectors
  };
  Totals totals() const;
  size_t open_taps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_.size();
  }

  // Wakes every open tap (at shutdown).
  void CloseAll();

 private:
  friend class TapPoint;
  struct Session;
  void Register(TapPoint* point);
  void Unregister(TapPoint* point);
  void Publish(TapPoint* point, const Envelope& envelope);
  bool Matches(const Session& s, const TapPoint& p) const;

  const TapLimits limits_;
  mutable std::mutex mu_;
  std::set<TapPoint*> points_;
  std::vector<Session*> sessions_;
  Totals gone_;  // what points no longer registered had counted
  bool closed_ = false;
};

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_TAP_H_
