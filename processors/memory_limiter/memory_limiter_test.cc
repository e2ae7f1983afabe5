#include "processors/memory_limiter/memory_limiter.h"

#include <atomic>

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

}  // namespace
}  // namespace tributary::processors::memory_limiter
