#include "processors/memory_limiter/memory_limiter.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::processors::memory_limiter {
namespace {

core::Envelope Spans(int n) {
  core::Envelope e;
  e.batch = std::make_shared<const core::Batch>(core::testing::MakeSpans(n));
  return e;
}

TEST(MemoryLimiter, RefusesAboveTheLimitAndResumesBelowTheSpikeMargin) {
  std::atomic<uint64_t> resident{100ull << 20};
  core::testing::RecordingConsumer out;
  MemoryLimiterConfig config;
  config.limit_mib = 200;
  config.spike_limit_mib = 50;
  MemoryLimiter limiter("memory_limiter", config, core::Signal::kTraces, &out,
                        [&] { return resident.load(); });
  limiter.Check();
  EXPECT_TRUE(limiter.Consume(Spans(2)).ok());

  resident = 250ull << 20;
  limiter.Check();
  EXPECT_TRUE(limiter.refusing());
  absl::Status refused = limiter.Consume(Spans(3));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);

  resident = 180ull << 20;  // under the limit, not yet under limit - spike
  limiter.Check();
  EXPECT_TRUE(limiter.refusing());

  resident = 140ull << 20;
  limiter.Check();
  EXPECT_FALSE(limiter.refusing());
  EXPECT_TRUE(limiter.Consume(Spans(4)).ok());
  EXPECT_EQ(out.records(), 6u);
}

TEST(MemoryLimiter, ExportsItsStateAndWhatItRefused) {
  using core::testing::MetricValue;
  std::atomic<uint64_t> resident{100ull << 20};
  core::testing::RecordingConsumer out;
  MemoryLimiterConfig config;
  config.limit_mib = 200;
  config.spike_limit_mib = 50;
  MemoryLimiter limiter("memory_limiter/metrics", config, core::Signal::kLogs, &out,
                        [&] { return resident.load(); });
  const std::map<std::string, std::string> labels = {{"processor", "memory_limiter/metrics"},
                                                     {"signal", "logs"}};
  EXPECT_EQ(MetricValue("tributary_memory_limiter_limit_bytes",
                        {{"processor", "memory_limiter/metrics"}}),
            200.0 * (1 << 20));
  resident = 250ull << 20;
  limiter.Check();
  EXPECT_EQ(MetricValue("tributary_memory_limiter_refusing", labels), 1);
  EXPECT_FALSE(limiter.Consume(Spans(3)).ok());
  EXPECT_FALSE(limiter.Consume(Spans(5)).ok());
  EXPECT_EQ(MetricValue("tributary_memory_limiter_refused_records_total", labels), 8);
  EXPECT_EQ(MetricValue("tributary_memory_limiter_refused_batches_total", labels), 2);
  resident = 100ull << 20;
  limiter.Check();
  // Present and 0: the gauge was 1 above under the same labels.
  EXPECT_EQ(MetricValue("tributary_memory_limiter_refusing", labels), 0);
  EXPECT_TRUE(limiter.Consume(Spans(1)).ok());
  EXPECT_EQ(MetricValue("tributary_memory_limiter_refused_records_total", labels), 8);
}

TEST(MemoryLimiter, ReadsThisProcesssResidentMemory) {
  EXPECT_GT(MemoryLimiter::ResidentBytes(), 1u << 20);
}

TEST(MemoryLimiter, ConfigNeedsALimitAboveTheSpike) {
  MemoryLimiterConfig c;
  EXPECT_FALSE(c.Validate().ok());
  c.limit_mib = 100;
  EXPECT_TRUE(c.Validate().ok());
  c.spike_limit_mib = 100;
  EXPECT_FALSE(c.Validate().ok());
}

TEST(MemoryLimiter, PercentagesAreOfTheAvailableMemory) {
  MemoryLimiterConfig c;
  c.limit_percentage = 80;
  c.spike_limit_percentage = 25;
  ASSERT_TRUE(c.Validate().ok());
  Limits l = ResolveLimits(c, 512ull << 20);
  EXPECT_EQ(l.limit >> 20, 409u);   // 80% of 512 MiB, in whole hundredths
  EXPECT_EQ(l.resume >> 20, 281u);  // less 25%
  c.spike_limit_percentage = 0;
  l = ResolveLimits(c, 1000ull << 20);
  EXPECT_EQ(l.limit, (1000ull << 20) / 100 * 80);
  EXPECT_EQ(l.resume, l.limit - l.limit / 5);
  c.limit_mib = 100;  // both set
  EXPECT_FALSE(c.Validate().ok());
  c.limit_mib = 0;
  c.spike_limit_mib = 10;  // a MiB spike with a percentage limit
  EXPECT_FALSE(c.Validate().ok());
  c.spike_limit_mib = 0;
  c.limit_percentage = 101;
  EXPECT_FALSE(c.Validate().ok());
}

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(MemoryLimiter, AvailableMemoryIsTheLowestCgroupLimitOnTheWay) {
  const uint64_t physical = AvailableMemory("/nonexistent");
  EXPECT_GT(physical, 64ull << 20);
  core::testing::TempDir v2;
  Write(v2.path() + "/proc/self/cgroup", "0::/kubepods/pod1/agent\n");
  Write(v2.path() + "/sys/fs/cgroup/kubepods/pod1/agent/memory.max", "max\n");
  Write(v2.path() + "/sys/fs/cgroup/kubepods/pod1/memory.max", "536870912\n");
  Write(v2.path() + "/sys/fs/cgroup/kubepods/memory.max", "1073741824\n");
  EXPECT_EQ(AvailableMemory(v2.path()), 512ull << 20);

  core::testing::TempDir inside;  // a container's own cgroup namespace
  Write(inside.path() + "/proc/self/cgroup", "0::/\n");
  Write(inside.path() + "/sys/fs/cgroup/memory.max", "268435456\n");
  EXPECT_EQ(AvailableMemory(inside.path()), 256ull << 20);

  core::testing::TempDir v1;
  Write(v1.path() + "/proc/self/cgroup", "12:cpu,cpuacct:/x\n4:memory:/x\n");
  Write(v1.path() + "/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(AvailableMemory(v1.path()), physical);  // v1's "no limit"
  Write(v1.path() + "/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "134217728\n");
  EXPECT_EQ(AvailableMemory(v1.path()), 128ull << 20);

  core::testing::TempDir unlimited;
  Write(unlimited.path() + "/proc/self/cgroup", "0::/a\n");
  Write(unlimited.path() + "/sys/fs/cgroup/a/memory.max", "max\n");
  EXPECT_EQ(AvailableMemory(unlimited.path()), physical);
}

}  // namespace
}  // namespace tributary::processors::memory_limiter
