#include "processors/batch/batch_processor.h"

#include <future>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::processors::batch {
namespace {

using core::testing::MakeSpans;

std::future<absl::Status> Feed(BatchProcessor& p, int spans) {
  auto done = std::make_shared<std::promise<absl::Status>>();
  auto f = done->get_future();
  core::Envelope e;
  e.batch = std::make_shared<const core::Batch>(MakeSpans(spans));
  e.acks.push_back(
      std::make_shared<core::Ack>([done](const absl::Status& s) { done->set_value(s); }));
  EXPECT_TRUE(p.Consume(std::move(e)).ok());
  return f;
}

TEST(BatchProcessorTest, SendsWhenSizeIsReached) {
  core::testing::RecordingConsumer next;
  BatchProcessorConfig config;
  config.send_batch_size = 10;
  config.timeout = std::chrono::hours(1);
  BatchProcessor p("batch", config, core::Signal::kTraces, &next);
  ASSERT_TRUE(p.Start().ok());
  auto a = Feed(p, 4);
  auto b = Feed(p, 4);
  EXPECT_EQ(next.records(), 0u);
  auto c = Feed(p, 4);
  ASSERT_EQ(next.batches().size(), 1u);
  EXPECT_EQ(next.batches()[0].record_count(), 12u);
  EXPECT_TRUE(a.get().ok());
  EXPECT_TRUE(c.get().ok());
  p.Shutdown(core::Clock::now());
}

// Keeps the envelopes themselves, to see whether a batch was copied.
class KeepingConsumer : public core::Consumer {
 public:
  absl::Status Consume(core::Envelope envelope) noexcept override {
    std::lock_guard<std::mutex> lock(mu);
    batches.push_back(envelope.batch);
    return absl::OkStatus();
  }
  std::mutex mu;
  std::vector<std::shared_ptr<const core::Batch>> batches;
};

TEST(BatchProcessorTest, FullBatchWithNothingPendingGoesOnUncopied) {
  KeepingConsumer next;
  BatchProcessorConfig config;
  config.send_batch_size = 10;
  config.timeout = std::chrono::hours(1);
  BatchProcessor p("batch", config, core::Signal::kTraces, &next);
  ASSERT_TRUE(p.Start().ok());
  auto big = std::make_shared<const core::Batch>(MakeSpans(12));
  core::Envelope e;
  e.batch = big;
  ASSERT_TRUE(p.Consume(std::move(e)).ok());
  ASSERT_EQ(next.batches.size(), 1u);
  EXPECT_EQ(next.batches[0].get(), big.get());
  // With records waiting, a full batch joins them, in order.
  auto small = Feed(p, 3);
  e.batch = std::make_shared<const core::Batch>(MakeSpans(12));
  ASSERT_TRUE(p.Consume(std::move(e)).ok());
  ASSERT_EQ(next.batches.size(), 2u);
  EXPECT_EQ(next.batches[1]->record_count(), 15u);
  EXPECT_EQ(next.batches[1]->traces().resource_spans_size(), 2);
  EXPECT_TRUE(small.get().ok());
  p.Shutdown(core::Clock::now());
}

TEST(BatchProcessorTest, SplitsAtTheMaximumSize) {
  KeepingConsumer next;
  BatchProcessorConfig config;
  config.send_batch_size = 10;
  config.send_batch_max_size = 10;
  config.timeout = std::chrono::hours(1);
  BatchProcessor p("batch", config, core::Signal::kTraces, &next);
  ASSERT_TRUE(p.Start().ok());
  auto a = Feed(p, 25);
  ASSERT_EQ(next.batches.size(), 3u);
  EXPECT_EQ(next.batches[0]->record_count(), 10u);
  EXPECT_EQ(next.batches[1]->record_count(), 10u);
  EXPECT_EQ(next.batches[2]->record_count(), 5u);
  EXPECT_TRUE(a.get().ok());
  p.Shutdown(core::Clock::now());
}

TEST(BatchProcessorTest, SendsWhenTimeoutExpires) {
  core::testing::RecordingConsumer next;
  BatchProcessorConfig config;
  config.send_batch_size = 1000;
  config.timeout = std::chrono::milliseconds(20);
  BatchProcessor p("batch", config, core::Signal::kTraces, &next);
  ASSERT_TRUE(p.Start().ok());
  auto a = Feed(p, 3);
  ASSERT_EQ(a.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(a.get().ok());
  EXPECT_EQ(next.records(), 3u);
  p.Shutdown(core::Clock::now());
}

TEST(BatchProcessorTest, RefusalDownstreamFailsEveryAck) {
  core::testing::RecordingConsumer next;
  next.refuse_status = absl::ResourceExhaustedError("full");
  BatchProcessorConfig config;
  config.send_batch_size = 5;
  BatchProcessor p("batch", config, core::Signal::kTraces, &next);
  ASSERT_TRUE(p.Start().ok());
  auto a = Feed(p, 3);
  auto b = Feed(p, 3);
  EXPECT_EQ(a.get().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(b.get().code(), absl::StatusCode::kResourceExhausted);
  p.Shutdown(core::Clock::now());
}

TEST(BatchProcessorTest, ShutdownFlushesPending) {
  core::testing::RecordingConsumer next;
  BatchProcessorConfig config;
  config.timeout = std::chrono::hours(1);
  BatchProcessor p("batch", config, core::Signal::kTraces, &next);
  ASSERT_TRUE(p.Start().ok());
  auto a = Feed(p, 2);
  p.Shutdown(core::Clock::now() + std::chrono::seconds(1));
  EXPECT_TRUE(a.get().ok());
  EXPECT_EQ(next.records(), 2u);
}

}  // namespace
}  // namespace tributary::processors::batch

namespace tributary::processors::batch {
namespace {

TEST(BatchProcessorTest, SplitsBatchesAboveMaxSize) {
  core::testing::RecordingConsumer next;
  BatchProcessorConfig config;
  config.send_batch_size = 10;
  config.send_batch_max_size = 10;
  config.timeout = std::chrono::hours(1);
  BatchProcessor p("batch", config, core::Signal::kTraces, &next);
  ASSERT_TRUE(p.Start().ok());
  auto a = Feed(p, 25);
  EXPECT_TRUE(a.get().ok());
  auto batches = next.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].record_count(), 10u);
  EXPECT_EQ(batches[1].record_count(), 10u);
  EXPECT_EQ(batches[2].record_count(), 5u);
  p.Shutdown(core::Clock::now());
}

}  // namespace
}  // namespace tributary::processors::batch
