#include "receivers/tail/tail_receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::tail {
namespace {

using namespace std::chrono_literals;
using core::testing::MetricValue;
using core::testing::TempDir;

// A logs pipeline end that records each line with its file, and can refuse
// batches or hold their acknowledgements.
class LineSink : public core::Consumer {
 public:
  absl::Status Consume(core::Envelope e) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    if (refusals_ > 0) {
      --refusals_;
      return absl::ResourceExhaustedError("full");
    }
    // Batches are written in the wire form, byte for byte what protobuf
    // serializes of the request they parse to, with their records counted.
    const std::string* wire = e.batch->wire();
    if (wire == nullptr || *wire != e.batch->logs().SerializeAsString() ||
        e.batch->record_count() != core::CountRecords(e.batch->logs())) {
      ++unlike_protobuf_;
    }
    for (const auto& rl : e.batch->logs().resource_logs()) {
      std::string path;
      for (const auto& kv : rl.resource().attributes()) {
        if (kv.key() == "log.file.path") path = kv.value().string_value();
      }
      for (const auto& sl : rl.scope_logs()) {
        for (const auto& r : sl.log_records()) {
          lines_.push_back(r.body().string_value());
          paths_.push_back(path);
          records_.push_back(r);
        }
      }
    }
    if (hold_) held_.push_back(std::move(e));
    cv_.notify_all();
    return absl::OkStatus();
  }
  void Refuse(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    refusals_ = n;
  }
  void Hold(bool hold) {
    std::vector<core::Envelope> release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = hold;
      if (!hold) release.swap(held_);
    }
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }
  std::vector<opentelemetry::proto::logs::v1::LogRecord> records() {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  int unlike_protobuf() {
    std::lock_guard<std::mutex> lock(mu_);
    return unlike_protobuf_;
  }
  bool WaitForLines(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return lines_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  std::vector<std::string> paths_;
  std::vector<opentelemetry::proto::logs::v1::LogRecord> records_;
  std::vector<core::Envelope> held_;
  bool hold_ = false;
  int refusals_ = 0;
  int unlike_protobuf_ = 0;
};

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

void Append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

std::string Lines(int from, int to, const std::string& prefix = "line ") {
  std::string out;
  for (int i = from; i < to; ++i) out += prefix + std::to_string(i) + "\n";
  return out;
}

std::vector<std::string> Expected(int from, int to, const std::string& prefix = "line ") {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

class TailReceiverTest : public ::testing::Test {
 protected:
  TailReceiverTest() {
    config_.include = {dir_.path() + "/*.log"};
    config_.start_at = "beginning";
    config_.poll_interval = 50ms;
    config_.checkpoint_interval = 50ms;
    config_.rotate_wait = 100ms;
  }
  std::unique_ptr<TailReceiver> Start(const std::string& id = "tail") {
    auto r = std::make_unique<TailReceiver>(id, config_, &sink_);
    EXPECT_TRUE(r->Start().ok());
    return r;
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  void TearDown() override { EXPECT_EQ(sink_.unlike_protobuf(), 0); }

  TempDir dir_;
  TailReceiverConfig config_;
  LineSink sink_;
};

TEST_F(TailReceiverTest, ReadsWhatIsThereAndWhatIsAppended) {
  Append(Path("a.log"), Lines(0, 3));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(3));
  Append(Path("a.log"), Lines(3, 5));
  ASSERT_TRUE(sink_.WaitForLines(5));
  EXPECT_EQ(sink_.lines(), Expected(0, 5));
  EXPECT_EQ(sink_.paths()[0], Path("a.log"));
  EXPECT_TRUE(WaitUntil([&] {
    return r->CommittedOffset(Path("a.log")) ==
           static_cast<int64_t>(std::filesystem::file_size(Path("a.log")));
  }));
  EXPECT_EQ(r->open_files(), 1u);
}

TEST_F(TailReceiverTest, StartAtEndSkipsOldContentButNotNewFiles) {
  config_.start_at = "end";
  Append(Path("old.log"), Lines(0, 3, "old "));
  auto r = Start();
  ASSERT_TRUE(WaitUntil([&] { return r->open_files() == 1; }));
  Append(Path("old.log"), Lines(3, 4, "old "));
  Append(Path("new.log"), Lines(0, 2, "new "));
  ASSERT_TRUE(sink_.WaitForLines(3));
  std::vector<std::string> got = sink_.lines();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"new 0", "new 1", "old 3"}));
}

TEST_F(TailReceiverTest, RenameAndCreateIsFollowedToTheEndOfTheOldFile) {
  const std::string path = Path("0.log");
  Append(path, Lines(0, 10));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(10));
  // The writer still holds the old file: its last lines land after the rename.
  std::ofstream old_writer(path, std::ios::app);
  std::filesystem::rename(path, Path("0.log.20240101-000000"));
  old_writer << Lines(10, 20) << std::flush;
  Append(path, Lines(20, 30));
  ASSERT_TRUE(sink_.WaitForLines(30));
  std::vector<std::string> got = sink_.lines();
  std::sort(got.begin(), got.end());
  std::vector<std::string> want = Expected(0, 30);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  // The rotated file is closed once read and quiet.
  EXPECT_TRUE(WaitUntil([&] { return r->open_files() == 1; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink_.lines().size(), 30u);
  EXPECT_GE(
      MetricValue("tributary_tail_rotations_total", {{"receiver", "tail"}, {"kind", "rename"}}), 1);
}

TEST_F(TailReceiverTest, CopyTruncateIsReadAgainFromTheStart) {
  const std::string path = Path("app.log");
  Append(path, Lines(0, 10, "before "));
  auto r = Start("tail/truncate");
  ASSERT_TRUE(sink_.WaitForLines(10));
  std::filesystem::resize_file(path, 0);
  Append(path, Lines(0, 3, "after "));
  ASSERT_TRUE(sink_.WaitForLines(13));
  std::vector<std::string> got = sink_.lines();
  EXPECT_EQ(std::vector<std::string>(got.begin() + 10, got.end()), Expected(0, 3, "after "));
  EXPECT_GE(MetricValue("tributary_tail_rotations_total",
                        {{"receiver", "tail/truncate"}, {"kind", "truncate"}}),
            1);
}

TEST_F(TailReceiverTest, TruncatedAndRegrownBetweenScansIsCaughtByTheFingerprint) {
  const std::string path = Path("app.log");
  Append(path, Lines(0, 5, "first generation "));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(5));
  std::ofstream(path, std::ios::trunc) << Lines(0, 50, "second ");
  ASSERT_TRUE(sink_.WaitForLines(55));
  std::vector<std::string> got = sink_.lines();
  EXPECT_EQ(std::vector<std::string>(got.begin() + 5, got.end()), Expected(0, 50, "second "));
}

TEST_F(TailReceiverTest, AFileDeletedWhileOpenIsReadToItsEnd) {
  const std::string path = Path("gone.log");
  std::ofstream writer(path, std::ios::app);
  writer << Lines(0, 5) << std::flush;
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(5));
  writer << Lines(5, 10) << std::flush;
  std::filesystem::remove(path);
  writer << Lines(10, 12) << std::flush;
  ASSERT_TRUE(sink_.WaitForLines(12));
  EXPECT_EQ(sink_.lines(), Expected(0, 12));
  writer.close();
  EXPECT_TRUE(WaitUntil([&] { return r->open_files() == 0; }));
}

TEST_F(TailReceiverTest, FilesBeyondMaxOpenFilesWaitForAPlace) {
  config_.max_open_files = 2;
  for (const char* name : {"a", "b", "c"}) {
    Append(Path(std::string(name) + ".log"), Lines(0, 2, std::string(name) + " "));
  }
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(4));
  std::this_thread::sleep_for(500ms);  // scans enough to open a third file, were it allowed
  EXPECT_EQ(sink_.lines().size(), 4u);
  EXPECT_EQ(r->open_files(), 2u);
  const std::vector<std::string> paths = sink_.paths();
  const std::set<std::string> read(paths.begin(), paths.end());
  ASSERT_EQ(read.size(), 2u);
  std::string waiting;
  for (const char* name : {"a", "b", "c"}) {
    if (!read.count(Path(std::string(name) + ".log"))) waiting = Path(std::string(name) + ".log");
  }
  // A file read to its end and deleted is closed; the waiting one takes its place.
  std::filesystem::remove(*read.begin());
  ASSERT_TRUE(sink_.WaitForLines(6));
  EXPECT_EQ(sink_.paths()[4], waiting);
  EXPECT_EQ(sink_.paths()[5], waiting);
  EXPECT_TRUE(WaitUntil([&] { return r->open_files() == 2u; }));
}

TEST_F(TailReceiverTest, AReusedInodeIsANewFile) {
  config_.checkpoint_dir = dir_.path() + "/state";
  config_.start_at = "end";
  const std::string path = Path("reused.log");
  Append(path, Lines(0, 4));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  // A checkpoint for this inode, left by a file with other first bytes.
  CheckpointStore store(config_.checkpoint_dir, "tail");
  ASSERT_TRUE(store.Save({{st.st_dev, st.st_ino, 16, 0x12345678, 14, "/elsewhere/old.log"}}).ok());
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(4));
  EXPECT_EQ(sink_.lines(), Expected(0, 4));
}

TEST_F(TailReceiverTest, RotatedSiblingsMatchingTheGlobAreNotReadAgain) {
  config_.include = {dir_.path() + "/*.log*"};
  const std::string path = Path("0.log");
  Append(path, Lines(0, 10));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(10));
  std::filesystem::rename(path, Path("0.log.1"));
  Append(path, Lines(10, 15));
  ASSERT_TRUE(sink_.WaitForLines(15));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink_.lines(), Expected(0, 15));
  EXPECT_EQ(r->open_files(), 2u);
}

TEST_F(TailReceiverTest, CopiesOfARotatingFileStartWhereTheOriginalStood) {
  config_.include = {dir_.path() + "/*.log*"};
  const std::string path = Path("app.log");
  Append(path, Lines(0, 20));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(20));
  std::filesystem::copy_file(path, Path("app.log.1"));
  std::filesystem::resize_file(path, 0);
  Append(path, Lines(20, 25));
  ASSERT_TRUE(sink_.WaitForLines(25));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(sink_.lines(), Expected(0, 25));
}

class DiscoveryTest : public TailReceiverTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(DiscoveryTest, FindsFilesInDirectoriesThatAppearLater) {
  config_.discovery = GetParam();
  config_.include = {dir_.path() + "/pods/*/*/*.log"};
  // With inotify the scan interval is far longer than the test waits.
  config_.poll_interval = GetParam() == "inotify" ? 60s : 100ms;
  auto r = Start();
  std::this_thread::sleep_for(100ms);
  std::filesystem::create_directories(dir_.path() + "/pods/ns_pod_uid/app");
  Append(dir_.path() + "/pods/ns_pod_uid/app/0.log", Lines(0, 3));
  ASSERT_TRUE(sink_.WaitForLines(3, 5s));
  Append(dir_.path() + "/pods/ns_pod_uid/app/0.log", Lines(3, 5));
  ASSERT_TRUE(sink_.WaitForLines(5, 5s));
  EXPECT_EQ(sink_.lines(), Expected(0, 5));
}

INSTANTIATE_TEST_SUITE_P(Modes, DiscoveryTest, ::testing::Values("inotify", "poll"));

TEST_F(TailReceiverTest, ARestartResumesFromTheCheckpoint) {
  config_.checkpoint_dir = dir_.path() + "/state";
  const std::string path = Path("app.log");
  Append(path, Lines(0, 10));
  {
    auto r = Start();
    ASSERT_TRUE(sink_.WaitForLines(10));
    r->Shutdown(core::Clock::now() + 1s);
  }
  Append(path, Lines(10, 15));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(15));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink_.lines(), Expected(0, 15));
}

TEST_F(TailReceiverTest, AFileRotatedAwayWhileStoppedIsFinishedAfterTheRestart) {
  config_.checkpoint_dir = dir_.path() + "/state";
  const std::string path = Path("0.log");
  Append(path, Lines(0, 10));
  {
    auto r = Start();
    ASSERT_TRUE(sink_.WaitForLines(10));
    r->Shutdown(core::Clock::now() + 1s);
  }
  Append(path, Lines(10, 15));
  std::filesystem::rename(path, Path("0.log.20240101-000000"));
  Append(path, Lines(15, 20));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(20));
  std::vector<std::string> got = sink_.lines();
  std::sort(got.begin(), got.end());
  std::vector<std::string> want = Expected(0, 20);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST_F(TailReceiverTest, RefusedBatchesAreReadAgainWithoutLoss) {
  Append(Path("app.log"), Lines(0, 100));
  sink_.Refuse(3);
  auto r = Start("tail/refused");
  ASSERT_TRUE(sink_.WaitForLines(100));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(sink_.lines(), Expected(0, 100));
  EXPECT_GT(MetricValue("tributary_tail_reread_bytes_total", {{"receiver", "tail/refused"}}), 0);
}

TEST_F(TailReceiverTest, ReadingPausesWhileAcknowledgementsAreOutstanding) {
  config_.max_inflight_bytes.bytes = 64 << 10;
  config_.max_batch_records = 100;
  const std::string path = Path("big.log");
  Append(path, Lines(0, 100000));
  sink_.Hold(true);
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(100));
  std::this_thread::sleep_for(300ms);
  // One batch may pass the bound; nothing beyond it is read.
  EXPECT_LT(sink_.lines().size(), 8000u);
  EXPECT_EQ(r->CommittedOffset(path), 0);
  sink_.Hold(false);
  ASSERT_TRUE(sink_.WaitForLines(100000, 30s));
  EXPECT_TRUE(WaitUntil([&] {
    return r->CommittedOffset(path) == static_cast<int64_t>(std::filesystem::file_size(path));
  }));
}

TEST_F(TailReceiverTest, RotationWhileReadingIsPausedLosesNothing) {
  config_.max_inflight_bytes.bytes = 4 << 10;
  config_.max_batch_records = 50;
  const std::string path = Path("0.log");
  Append(path, Lines(0, 5000));
  sink_.Hold(true);
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(50));
  // Downstream is stuck; the file is rotated away and a new one begins.
  std::filesystem::rename(path, Path("0.log.20240101-000000"));
  Append(path, Lines(5000, 6000));
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(sink_.lines().size(), 1000u);
  sink_.Hold(false);
  ASSERT_TRUE(sink_.WaitForLines(6000, 30s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink_.lines(), Expected(0, 6000));
}

TEST_F(TailReceiverTest, OversizedLinesAreCutAndTheFileStaysTracked) {
  config_.max_record_bytes.bytes = 1024;
  const std::string path = Path("long.log");
  Append(path, "short\n" + std::string(5 << 20, 'x') + "\nafter\n");
  auto r = Start("tail/long");
  ASSERT_TRUE(sink_.WaitForLines(3));
  std::vector<std::string> got = sink_.lines();
  EXPECT_EQ(got[0], "short");
  EXPECT_EQ(got[1], std::string(1024, 'x'));
  EXPECT_EQ(got[2], "after");
  EXPECT_EQ(MetricValue("tributary_tail_truncated_records_total", {{"receiver", "tail/long"}}), 1);
  Append(path, "later\n");
  ASSERT_TRUE(sink_.WaitForLines(4));
  EXPECT_EQ(sink_.lines()[3], "later");
}

TEST_F(TailReceiverTest, CriFilesKeepStreamsAndJoinPartials) {
  config_.format = "cri";
  const std::string path = Path("0.log");
  Append(path,
         "2024-03-01T12:00:00.000000001Z stdout P first half \n"
         "2024-03-01T12:00:00.000000002Z stderr F an error\n"
         "2024-03-01T12:00:00.000000003Z stdout F second half\n");
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(2));
  auto records = sink_.records();
  EXPECT_EQ(records[0].body().string_value(), "an error");
  EXPECT_EQ(records[1].body().string_value(), "first half second half");
  EXPECT_EQ(records[1].time_unix_nano(), 1709294400000000001u);
}

TEST_F(TailReceiverTest, FilesWithoutRecordsLeaveNoResourceInTheBatch) {
  config_.format = "json";
  Append(Path("a.log"), "{\"message\":\"a 0\",\"level\":\"warn\"}\n{\"message\":\"a 1\"}\n");
  Append(Path("blank.log"), "\n\n\n");
  Append(Path("c.log"), "{\"message\":\"c 0\",\"k\":[1,{\"x\":true}]}\n");
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(3));
  EXPECT_TRUE(WaitUntil([&] { return r->CommittedOffset(Path("blank.log")) == 3; }));
  std::vector<std::string> got = sink_.lines();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a 0", "a 1", "c 0"}));
  for (const std::string& path : sink_.paths()) EXPECT_NE(path, Path("blank.log"));
  for (const auto& record : sink_.records()) {
    EXPECT_EQ(record.severity_number(), record.body().string_value() == "a 0" ? 13 : 0);
  }
}

TEST_F(TailReceiverTest, ExcludedFilesAreLeftAlone) {
  config_.exclude = {"*/skip*"};
  Append(Path("skip.log"), Lines(0, 2, "skip "));
  Append(Path("keep.log"), Lines(0, 2, "keep "));
  auto r = Start();
  ASSERT_TRUE(sink_.WaitForLines(2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink_.lines(), Expected(0, 2, "keep "));
}

}  // namespace
}  // namespace tributary::receivers::tail
