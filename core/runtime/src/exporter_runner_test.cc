#include "tributary/core/runtime/exporter_runner.h"

#include <atomic>
#include <future>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core::runtime {
namespace {

// Fails the first `failures` calls with `error`, then succeeds.
class ScriptedExporter : public Exporter {
 public:
  ScriptedExporter(int failures, absl::Status error) : failures_(failures), error_(error) {}
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(Deadline) noexcept override {}
  absl::Status Export(const Batch& batch, ExportReport&) noexcept override {
    calls++;
    if (failures_-- > 0) return error_;
    exported += batch.record_count();
    return absl::OkStatus();
  }
  std::atomic<int> calls{0};
  std::atomic<size_t> exported{0};

 private:
  std::atomic<int> failures_;
  absl::Status error_;
};

RetryConfig FastRetry() {
  RetryConfig r;
  r.initial_interval = std::chrono::milliseconds(1);
  r.max_interval = std::chrono::milliseconds(5);
  r.max_elapsed_time = std::chrono::milliseconds(2000);
  return r;
}

// Sends one batch and returns the status its ack settles with.
std::future<absl::Status> Send(ExporterRunner& runner, int spans, absl::Status* refused = nullptr) {
  auto done = std::make_shared<std::promise<absl::Status>>();
  auto f = done->get_future();
  Envelope e;
  e.batch = std::make_shared<const Batch>(testing::MakeSpans(spans));
  e.acks.push_back(std::make_shared<Ack>([done](const absl::Status& s) { done->set_value(s); }));
  absl::Status s = runner.Consume(std::move(e));
  if (refused != nullptr) *refused = s;
  return f;
}

TEST(ExporterRunnerTest, RetriesRetryableFailuresUntilSuccess) {
  auto exporter = std::make_unique<ScriptedExporter>(3, absl::UnavailableError("down"));
  ScriptedExporter* raw = exporter.get();
  ExporterRunner runner("retry_test", std::move(exporter), QueueConfig{}, FastRetry());
  ASSERT_TRUE(runner.Start().ok());
  double sent_before =
      testing::MetricValue("tributary_exporter_sent_records_total", {{"exporter", "retry_test"}});
  auto ack = Send(runner, 5);
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(ack.get().ok());
  EXPECT_EQ(raw->calls.load(), 4);
  EXPECT_EQ(raw->exported.load(), 5u);
  EXPECT_EQ(
      testing::MetricValue("tributary_exporter_sent_records_total", {{"exporter", "retry_test"}}) -
          sent_before,
      5);
  EXPECT_EQ(testing::MetricValue("tributary_exporter_retried_records_total",
                                 {{"exporter", "retry_test"}}),
            15);
  runner.Shutdown(Clock::now() + std::chrono::seconds(1));
}

// Delivers the first `per_attempt` spans of each batch it is given, refuses
// the next `refuse` for good on the first attempt, and hands the rest back
// (ExportReport::retry) with a retryable error; `attempts_left` attempts,
// then it fails without delivering anything.
class PartialExporter : public Exporter {
 public:
  PartialExporter(size_t per_attempt, size_t refuse, int attempts_left)
      : per_attempt_(per_attempt), refuse_(refuse), attempts_left_(attempts_left) {}
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(Deadline) noexcept override {}
  absl::Status Export(const Batch& batch, ExportReport& report) noexcept override {
    sizes.push_back(batch.record_count());
    if (attempts_left_-- <= 0) return absl::UnavailableError("down");
    std::vector<RecordRef> rejected, rest;
    uint32_t i = 0;
    for (const auto& span : batch.traces().resource_spans(0).scope_spans(0).spans()) {
      static_cast<void>(span);
      if (i < per_attempt_) {
        ++delivered;
      } else if (i < per_attempt_ + refuse_ && report.attempt == 0) {
        rejected.push_back({0, 0, i});
      } else {
        rest.push_back({0, 0, i});
      }
      ++i;
    }
    if (!rejected.empty()) {
      report.rejected_records = rejected.size();
      report.rejected_reason = "mapping";
      report.rejected = SelectRecords(batch, rejected);
    }
    if (rest.empty()) return absl::OkStatus();
    report.retry = SelectRecords(batch, rest);
    return absl::UnavailableError("part delivered");
  }
  std::vector<size_t> sizes;
  size_t delivered = 0;

 private:
  const size_t per_attempt_;
  const size_t refuse_;
  int attempts_left_;
};

TEST(ExporterRunnerTest, RetriesOnlyWhatTheExporterHandsBack) {
  auto exporter = std::make_unique<PartialExporter>(4, 2, 100);
  PartialExporter* raw = exporter.get();
  ExporterRunner runner("narrow_test", std::move(exporter), QueueConfig{}, FastRetry());
  ASSERT_TRUE(runner.Start().ok());
  auto ack = Send(runner, 10);
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(ack.get().ok());
  // 10 spans: 4 delivered and 2 refused, then 4 of the 4 left.
  EXPECT_EQ(raw->sizes, (std::vector<size_t>{10, 4}));
  EXPECT_EQ(raw->delivered, 8u);
  const std::map<std::string, std::string> id = {{"exporter", "narrow_test"}};
  EXPECT_EQ(testing::MetricValue("tributary_exporter_sent_records_total", id), 8);
  EXPECT_EQ(testing::MetricValue("tributary_exporter_retried_records_total", id), 4);
  EXPECT_EQ(
      testing::MetricValue("tributary_dropped_records_total",
                           {{"component", "narrow_test"}, {"reason", "rejected_by_destination"}}),
      2);
  runner.Shutdown(Clock::now() + std::chrono::seconds(1));
}

TEST(ExporterRunnerTest, GivingUpDropsOnlyWhatWasLeft) {
  // Two spans a time, then the destination stays down.
  auto exporter = std::make_unique<PartialExporter>(2, 0, 2);
  ExporterRunner runner("narrow_give_up", std::move(exporter), QueueConfig{}, FastRetry());
  ASSERT_TRUE(runner.Start().ok());
  auto ack = Send(runner, 10);
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(ack.get().ok());
  const std::map<std::string, std::string> id = {{"exporter", "narrow_give_up"}};
  EXPECT_EQ(testing::MetricValue("tributary_exporter_sent_records_total", id), 4);
  EXPECT_EQ(
      testing::MetricValue("tributary_dropped_records_total",
                           {{"component", "narrow_give_up"}, {"reason", "retries_exhausted"}}),
      6);
  runner.Shutdown(Clock::now() + std::chrono::seconds(1));
}

TEST(ExporterRunnerTest, PermanentFailureIsNotRetriedAndIsCounted) {
  auto exporter = std::make_unique<ScriptedExporter>(100, absl::InvalidArgumentError("mapping"));
  ScriptedExporter* raw = exporter.get();
  ExporterRunner runner("permanent_test", std::move(exporter), QueueConfig{}, FastRetry());
  ASSERT_TRUE(runner.Start().ok());
  auto ack = Send(runner, 7);
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(ack.get().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(raw->calls.load(), 1);
  EXPECT_EQ(testing::MetricValue("tributary_dropped_records_total",
                                 {{"component", "permanent_test"}, {"reason", "permanent_error"}}),
            7);
  EXPECT_EQ(testing::MetricValue("tributary_exporter_send_failed_records_total",
                                 {{"exporter", "permanent_test"}}),
            7);
  runner.Shutdown(Clock::now() + std::chrono::seconds(1));
}

TEST(ExporterRunnerTest, GivesUpAfterMaxElapsedTime) {
  auto exporter = std::make_unique<ScriptedExporter>(1 << 30, absl::UnavailableError("down"));
  RetryConfig retry = FastRetry();
  retry.max_elapsed_time = std::chrono::milliseconds(50);
  ExporterRunner runner("elapsed_test", std::move(exporter), QueueConfig{}, retry);
  ASSERT_TRUE(runner.Start().ok());
  auto ack = Send(runner, 2);
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(ack.get().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(testing::MetricValue("tributary_dropped_records_total",
                                 {{"component", "elapsed_test"}, {"reason", "retries_exhausted"}}),
            2);
  runner.Shutdown(Clock::now() + std::chrono::seconds(1));
}

TEST(ExporterRunnerTest, FullQueueRefusesWithResourceExhausted) {
  // Not started: nothing drains the queue.
  QueueConfig queue;
  queue.queue_size = 2;
  ExporterRunner runner("full_test", std::make_unique<ScriptedExporter>(0, absl::OkStatus()), queue,
                        FastRetry());
  absl::Status s1, s2, s3;
  auto a1 = Send(runner, 1, &s1);
  auto a2 = Send(runner, 1, &s2);
  auto a3 = Send(runner, 1, &s3);
  EXPECT_TRUE(s1.ok());
  EXPECT_TRUE(s2.ok());
  EXPECT_EQ(s3.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(runner.queue_depth(), 2u);
  // Shutting down an unstarted runner fails what it holds, counted.
  runner.Shutdown(Clock::now());
  EXPECT_EQ(a1.get().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(testing::MetricValue("tributary_dropped_records_total",
                                 {{"component", "full_test"}, {"reason", "shutdown"}}),
            2);
}

TEST(ExporterRunnerTest, ShutdownDrainsQueuedData) {
  auto exporter = std::make_unique<ScriptedExporter>(0, absl::OkStatus());
  ScriptedExporter* raw = exporter.get();
  QueueConfig queue;
  queue.num_consumers = 1;
  ExporterRunner runner("drain_test", std::move(exporter), queue, FastRetry());
  std::vector<std::future<absl::Status>> acks;
  for (int i = 0; i < 50; ++i) acks.push_back(Send(runner, 10));
  ASSERT_TRUE(runner.Start().ok());
  runner.Shutdown(Clock::now() + std::chrono::seconds(10));
  for (auto& a : acks) EXPECT_TRUE(a.get().ok());
  EXPECT_EQ(raw->exported.load(), 500u);
}

}  // namespace
}  // namespace tributary::core::runtime
