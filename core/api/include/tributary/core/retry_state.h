#ifndef TRIBUTARY_CORE_RETRY_STATE_H_
#define TRIBUTARY_CORE_RETRY_STATE_H_

#include <chrono>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "tributary/core/batch.h"
#include "tributary/core/component.h"

namespace tributary::core {

// What an exporter keeps of a batch it delivered in part, so that the retry
// of the same batch (the runner calls Export again with the same Batch and
// ExportReport::attempt > 0) sends only the rest. Thread-safe.
template <class State>
class RetryStates {
 public:
  // The state kept for `batch` when this is a retry of it; else a new one.
  State Take(const Batch& batch, int attempt) {
    std::lock_guard lock(mu_);
    State state{};
    auto it = kept_.find(&batch);
    if (it != kept_.end()) {
      if (attempt > 0) state = std::move(it->second.state);
      kept_.erase(it);
    }
    // A batch the runner gave up on leaves its state behind: it goes after
    // an hour.
    if (kept_.size() > 64) {
      const auto old = Clock::now() - std::chrono::hours(1);
      absl::erase_if(kept_, [old](const auto& kv) { return kv.second.kept < old; });
    }
    return state;
  }

  void Keep(const Batch& batch, State state) {
    std::lock_guard lock(mu_);
    kept_[&batch] = Entry{std::move(state), Clock::now()};
  }

 private:
  struct Entry {
    State state;
    Clock::time_point kept;
  };
  std::mutex mu_;
  absl::flat_hash_map<const Batch*, Entry> kept_;
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_RETRY_STATE_H_
