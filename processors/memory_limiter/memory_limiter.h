#ifndef TRIBUTARY_PROCESSORS_MEMORY_LIMITER_MEMORY_LIMITER_H_
#define TRIBUTARY_PROCESSORS_MEMORY_LIMITER_MEMORY_LIMITER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "tributary/core/component.h"
#include "tributary/core/config.h"

namespace tributary::processors::memory_limiter {

// The OpenTelemetry Collector's memory_limiter, measured on the process's
// resident memory.
struct MemoryLimiterConfig {
  std::chrono::milliseconds check_interval{1000};
  int64_t limit_mib = 0;
  int64_t spike_limit_mib = 0;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("check_interval", check_interval, "how often resident memory is measured");
    v.Required("limit_mib", limit_mib,
               "resident memory (MiB) above which data is refused with a retryable error");
    v.Optional("spike_limit_mib", spike_limit_mib,
               "data is accepted again once memory is below limit_mib - spike_limit_mib; "
               "default 20% of limit_mib");
  }
  absl::Status Validate() const {
    if (limit_mib <= 0) return absl::InvalidArgumentError("limit_mib must be > 0");
    if (spike_limit_mib < 0 || spike_limit_mib >= limit_mib) {
      return absl::InvalidArgumentError("spike_limit_mib must be in [0, limit_mib)");
    }
    if (check_interval.count() <= 0) {
      return absl::InvalidArgumentError("check_interval must be > 0");
    }
    return absl::OkStatus();
  }
};

// Refuses data (kResourceExhausted: receivers answer 429 / RESOURCE_EXHAUSTED,
// tail pauses) while the process holds more memory than its limit, and hands
// freed heap back to the system when it crosses it, so that a surge turns into
// backpressure on the senders before the kernel's OOM killer acts. Put it
// first in a pipeline.
class MemoryLimiter : public core::Processor {
 public:
  using MemoryReader = std::function<uint64_t()>;  // resident bytes
  MemoryLimiter(std::string id, MemoryLimiterConfig config, core::Signal signal,
                core::Consumer* next, MemoryReader reader = ResidentBytes);
  ~MemoryLimiter() override;

  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Consume(core::Envelope envelope) noexcept override;

  // Measures once and updates the refusing state; the checker thread calls it.
  void Check();
  bool refusing() const { return refusing_.load(); }
  static uint64_t ResidentBytes();

 private:
  void Run();

  const std::string id_;
  const MemoryLimiterConfig config_;
  core::Consumer* const next_;
  const MemoryReader reader_;
  const uint64_t limit_;
  const uint64_t resume_;
  std::atomic<bool> refusing_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread checker_;
};

}  // namespace tributary::processors::memory_limiter

#endif  // TRIBUTARY_PROCESSORS_MEMORY_LIMITER_MEMORY_LIMITER_H_
