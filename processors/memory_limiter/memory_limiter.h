#ifndef TRIBUTARY_PROCESSORS_MEMORY_LIMITER_MEMORY_LIMITER_H_
#define TRIBUTARY_PROCESSORS_MEMORY_LIMITER_MEMORY_LIMITER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"

namespace tributary::processors::memory_limiter {

// The OpenTelemetry Collector's memory_limiter, measured on the process's
// resident memory.
struct MemoryLimiterConfig {
  std::chrono::milliseconds check_interval{1000};
  int64_t limit_mib = 0;
  int64_t spike_limit_mib = 0;
  int64_t limit_percentage = 0;
  int64_t spike_limit_percentage = 0;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("check_interval", check_interval, "how often resident memory is measured");
    v.Optional("limit_mib", limit_mib,
               "resident memory (MiB) above which data is refused with a retryable error; "
               "this or limit_percentage");
    v.Optional("spike_limit_mib", spike_limit_mib,
               "data is accepted again once memory is below limit_mib - spike_limit_mib; "
               "default 20% of limit_mib");
    v.Optional("limit_percentage", limit_percentage,
               "the limit as a percentage of the memory the process may use: its cgroup's "
               "memory limit when one is set (a container's), else the machine's memory");
    v.Optional("spike_limit_percentage", spike_limit_percentage,
               "the spike margin as a percentage of the same; default 20% of the limit");
  }
  absl::Status Validate() const {
    if ((limit_mib > 0) == (limit_percentage > 0)) {
      return absl::InvalidArgumentError("set one of limit_mib and limit_percentage (> 0)");
    }
    if (limit_mib < 0 || limit_percentage < 0 || limit_percentage > 100) {
      return absl::InvalidArgumentError("limit_mib must be > 0, limit_percentage in (0, 100]");
    }
    if (spike_limit_mib < 0 || (limit_mib > 0 && spike_limit_mib >= limit_mib)) {
      return absl::InvalidArgumentError("spike_limit_mib must be in [0, limit_mib)");
    }
    if (spike_limit_percentage < 0 ||
        (limit_percentage > 0 && spike_limit_percentage >= limit_percentage)) {
      return absl::InvalidArgumentError("spike_limit_percentage must be in [0, limit_percentage)");
    }
    if ((limit_mib > 0 && spike_limit_percentage > 0) ||
        (limit_percentage > 0 && spike_limit_mib > 0)) {
      return absl::InvalidArgumentError(
          "spike_limit_mib goes with limit_mib, spike_limit_percentage with limit_percentage");
    }
    if (check_interval.count() <= 0) {
      return absl::InvalidArgumentError("check_interval must be > 0");
    }
    return absl::OkStatus();
  }
};

// Where memory starts to be refused and where it is accepted again, in bytes.
struct Limits {
  uint64_t limit = 0;
  uint64_t resume = 0;
};
// From limit_mib, or from the percentages of `available` bytes.
Limits ResolveLimits(const MemoryLimiterConfig& config, uint64_t available);

// The memory this process may use: the lowest cgroup memory limit on its
// path (cgroup v2 memory.max, or v1 memory.limit_in_bytes) read under
// `root`, else the machine's physical memory.
uint64_t AvailableMemory(const std::string& root = "/");

// Refuses data (kResourceExhausted: receivers answer 429 / RESOURCE_EXHAUSTED,
// tail pauses) while the process holds more memory than its limit, and hands
// freed heap back to the system when it crosses it, so that a surge turns into
// backpressure on the senders before the kernel's OOM killer acts. Put it
// first in a pipeline.
class MemoryLimiter : public core::Processor {
 public:
  using MemoryReader = std::function<uint64_t()>;  // resident bytes
  // `available` is what limit_percentage is a percentage of.
  MemoryLimiter(std::string id, MemoryLimiterConfig config, core::Signal signal,
                core::Consumer* next, MemoryReader reader = ResidentBytes,
                uint64_t available = AvailableMemory());
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
  const Limits limits_;
  std::atomic<bool> refusing_{false};
  prometheus::Gauge* refusing_gauge_;
  prometheus::Counter* refused_records_;
  prometheus::Counter* refused_batches_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread checker_;
};

}  // namespace tributary::processors::memory_limiter

#endif  // TRIBUTARY_PROCESSORS_MEMORY_LIMITER_MEMORY_LIMITER_H_
