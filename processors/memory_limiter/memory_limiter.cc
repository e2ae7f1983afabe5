#include "processors/memory_limiter/memory_limiter.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::processors::memory_limiter {

uint64_t MemoryLimiter::ResidentBytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

MemoryLimiter::MemoryLimiter(std::string id, MemoryLimiterConfig config, core::Signal,
                             core::Consumer* next, MemoryReader reader)
    : id_(std::move(id)),
      config_(config),
      next_(next),
      reader_(std::move(reader)),
      limit_(static_cast<uint64_t>(config.limit_mib) << 20),
      resume_(static_cast<uint64_t>(config.limit_mib - (config.spike_limit_mib > 0
                                                            ? config.spike_limit_mib
                                                            : config.limit_mib / 5))
              << 20) {}

MemoryLimiter::~MemoryLimiter() { Shutdown(core::Clock::now()); }

absl::Status MemoryLimiter::Start() {
  Check();
  checker_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void MemoryLimiter::Check() {
  const uint64_t resident = reader_();
  const bool was = refusing_.load();
  if (!was && resident > limit_) {
    // Give freed heap back first: fragmentation alone can cross the line.
    malloc_trim(0);
    const uint64_t after = reader_();
    if (after > limit_) {
      refusing_ = true;
      core::Log(core::LogLevel::kWarn, id_, "memory above the limit, refusing data",
                absl::StrCat("resident_mib=", after >> 20, " limit_mib=", limit_ >> 20));
    }
  } else if (was && resident < resume_) {
    refusing_ = false;
    core::Log(core::LogLevel::kInfo, id_, "memory back under the limit, accepting data",
              absl::StrCat("resident_mib=", resident >> 20));
  } else if (was) {
    malloc_trim(0);
  }
}

void MemoryLimiter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, config_.check_interval, [&] { return stopping_; })) {
    lock.unlock();
    Check();
    lock.lock();
  }
}

absl::Status MemoryLimiter::Consume(core::Envelope envelope) noexcept {
  if (refusing_.load(std::memory_order_relaxed)) {
    return absl::ResourceExhaustedError("memory limit reached; retry later");
  }
  return next_->Consume(std::move(envelope));
}

void MemoryLimiter::Shutdown(core::Deadline) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (checker_.joinable()) checker_.join();
}

}  // namespace tributary::processors::memory_limiter

namespace tributary {
void RegisterProcessorMemoryLimiter(core::Registry& registry) {
  using processors::memory_limiter::MemoryLimiterConfig;
  registry.Add(
      core::MakeFactory<core::Processor, MemoryLimiterConfig, core::Signal, core::Consumer*>(
          "memory_limiter", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
          "Refuses data with a retryable error while the process's resident memory is above a "
          "limit, so a surge becomes backpressure instead of an OOM kill.",
          [](const core::CreateContext& ctx, const MemoryLimiterConfig& config, core::Signal signal,
             core::Consumer* next) -> absl::StatusOr<std::unique_ptr<core::Processor>> {
            return std::make_unique<processors::memory_limiter::MemoryLimiter>(
                ctx.id.ToString(), config, signal, next);
          }));
}
}  // namespace tributary
