#ifndef TRIBUTARY_RECEIVERS_OTLP_DEADLINE_QUEUE_H_
#define TRIBUTARY_RECEIVERS_OTLP_DEADLINE_QUEUE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "tributary/core/component.h"

namespace tributary::receivers::otlp {

// Runs each function at its deadline on one thread for all of them, unless
// it is cancelled first: requests waiting for an acknowledgement hold an
// entry here, not a thread.
class DeadlineQueue {
 public:
  DeadlineQueue() = default;
  // Runs what is still pending, at once, and stops.
  ~DeadlineQueue();
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;

  uint64_t At(core::Deadline when, std::function<void()> fn);
  void Cancel(uint64_t id);
  // Whatever is pending runs by `when` at the latest.
  void Expedite(core::Deadline when);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<core::Deadline, uint64_t>, std::function<void()>> pending_;
  std::unordered_map<uint64_t, core::Deadline> when_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  std::thread thread_;  // started with the first entry
};

}  // namespace tributary::receivers::otlp

#endif  // TRIBUTARY_RECEIVERS_OTLP_DEADLINE_QUEUE_H_
