#include "processors/memory_limiter/memory_limiter.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

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

Limits ResolveLimits(const MemoryLimiterConfig& config, uint64_t available) {
  Limits l;
  if (config.limit_mib > 0) {
    l.limit = static_cast<uint64_t>(config.limit_mib) << 20;
    const uint64_t spike = config.spike_limit_mib > 0
                               ? static_cast<uint64_t>(config.spike_limit_mib) << 20
                               : l.limit / 5;
    l.resume = l.limit - spike;
    return l;
  }
  l.limit = available / 100 * static_cast<uint64_t>(config.limit_percentage);
  const uint64_t spike =
      config.spike_limit_percentage > 0
          ? available / 100 * static_cast<uint64_t>(config.spike_limit_percentage)
          : l.limit / 5;
  l.resume = l.limit - std::min(spike, l.limit);
  return l;
}

namespace {

// The first number in a file; nullopt when it is absent, unreadable or "max".
std::optional<uint64_t> ReadLimit(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return std::nullopt;
  uint64_t value = 0;
  if (!absl::SimpleAtoi(word, &value)) return std::nullopt;
  return value;
}

// The lowest limit in `file` from `dir` up to `top`.
std::optional<uint64_t> LowestOnPath(std::string top, std::string dir, const std::string& file) {
  std::optional<uint64_t> lowest;
  while (true) {
    if (auto v = ReadLimit(dir + "/" + file); v && (!lowest || *v < *lowest)) lowest = v;
    if (dir.size() <= top.size()) break;
    dir = dir.substr(0, dir.rfind('/'));
  }
  return lowest;
}

}  // namespace

uint64_t AvailableMemory(const std::string& root) {
  const uint64_t physical =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::optional<uint64_t> limit;
  std::ifstream cgroups(root + "/proc/self/cgroup");
  std::string line;
  while (std::getline(cgroups, line)) {
    // "0::/path" (v2), or "N:memory:/path" (v1).
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (path == "/") path.clear();
    std::optional<uint64_t> found;
    if (controllers.empty()) {
      const std::string top = root + "/sys/fs/cgroup";
      found = LowestOnPath(top, top + path, "memory.max");
    } else if (absl::StrContains(controllers, "memory")) {
      const std::string top = root + "/sys/fs/cgroup/memory";
      found = LowestOnPath(top, top + path, "memory.limit_in_bytes");
    }
    if (found && (!limit || *found < *limit)) limit = found;
  }
  // cgroup v1 writes "no limit" as a number near 2^63.
  if (limit && *limit > 0 && *limit < physical) return *limit;
  return physical;
}

namespace {

// This component's self-metric families.
const struct {
  core::MetricFamily<prometheus::Gauge> refusing{
      "tributary_memory_limiter_refusing",
      "1 while the memory limiter refuses data because memory is above its limit"};
  core::MetricFamily<prometheus::Gauge> limit{"tributary_memory_limiter_limit_bytes",
                                              "Resident memory above which data is refused"};
  core::MetricFamily<prometheus::Counter> refused_records{
      "tributary_memory_limiter_refused_records_total",
      "Records refused with a retryable error while memory was above the limit"};
  core::MetricFamily<prometheus::Counter> refused_batches{
      "tributary_memory_limiter_refused_batches_total",
      "Batches refused with a retryable error while memory was above the limit"};
} kFamilies;

}  // namespace

MemoryLimiter::MemoryLimiter(std::string id, MemoryLimiterConfig config, core::Signal signal,
                             core::Consumer* next, MemoryReader reader, uint64_t available)
    : id_(std::move(id)),
      config_(config),
      next_(next),
      reader_(std::move(reader)),
      limits_(ResolveLimits(config, available)) {
  const prometheus::Labels labels = {{"processor", id_},
                                     {"signal", std::string(core::SignalName(signal))}};
  refusing_gauge_ = &kFamilies.refusing.Add(labels);
  refused_records_ = &kFamilies.refused_records.Add(labels);
  refused_batches_ = &kFamilies.refused_batches.Add(labels);
  kFamilies.limit.Add({{"processor", id_}}).Set(static_cast<double>(limits_.limit));
}

MemoryLimiter::~MemoryLimiter() { Shutdown(core::Clock::now()); }

absl::Status MemoryLimiter::Start() {
  core::Log(core::LogLevel::kInfo, id_, "memory limit",
            absl::StrCat("limit_mib=", limits_.limit >> 20, " resume_mib=", limits_.resume >> 20));
  Check();
  checker_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void MemoryLimiter::Check() {
  const uint64_t resident = reader_();
  const bool was = refusing_.load();
  if (!was && resident > limits_.limit) {
    // Give freed heap back first: fragmentation alone can cross the line.
    malloc_trim(0);
    const uint64_t after = reader_();
    if (after > limits_.limit) {
      refusing_ = true;
      refusing_gauge_->Set(1);
      core::Log(core::LogLevel::kWarn, id_, "memory above the limit, refusing data",
                absl::StrCat("resident_mib=", after >> 20, " limit_mib=", limits_.limit >> 20));
    }
  } else if (was && resident < limits_.resume) {
    refusing_ = false;
    refusing_gauge_->Set(0);
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
    refused_batches_->Increment();
    if (envelope.batch)
      refused_records_->Increment(static_cast<double>(envelope.batch->record_count()));
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
