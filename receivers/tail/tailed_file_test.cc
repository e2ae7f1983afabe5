#include "receivers/tail/tailed_file.h"

#include <fcntl.h>

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::tail {
namespace {

// A file of `content` opened for reading, whose records land in `records`.
class TailedFileTest : public ::testing::Test {
 protected:
  void Open(const std::string& content) {
    path_ = dir_.path() + "/app.log";
    std::ofstream(path_) << content;
    file_.fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(file_.fd, 0);
    file_.path = path_;
    file_.assembler =
        std::make_unique<RecordAssembler>(&options_, [this] { return scope_.add_log_records(); });
  }
  // Reads and frames everything there is; false if after_line stopped it.
  bool ReadAll(size_t max_record, absl::FunctionRef<bool()> after_line) {
    std::vector<char> buf(1 << 16);
    size_t len = 0;
    while (file_.Fill(buf.data(), buf.size(), &len) > 0) {
      if (!file_.Frame(buf.data(), len, max_record, SteadyTime(), 0, after_line)) return false;
    }
    return true;
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    for (const auto& r : scope_.log_records()) lines.push_back(r.body().string_value());
    return lines;
  }

  core::testing::TempDir dir_;
  std::string path_;
  AssemblerOptions options_;
  opentelemetry::proto::logs::v1::ScopeLogs scope_;
  TailedFile file_;
};

TEST_F(TailedFileTest, FramesCompleteLinesAndCarriesTheRest) {
  Open("one\ntwo\nthr");
  EXPECT_TRUE(ReadAll(1024, [] { return true; }));
  EXPECT_EQ(Lines(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(file_.consumed, 8u);
  EXPECT_EQ(file_.read_offset, 11u);
  EXPECT_EQ(file_.carry, "thr");
  std::ofstream(path_, std::ios::app) << "ee\n";
  EXPECT_TRUE(ReadAll(1024, [] { return true; }));
  EXPECT_EQ(Lines(), (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(file_.consumed, 14u);
  EXPECT_TRUE(file_.carry.empty());
}

TEST_F(TailedFileTest, AnOverLongLineIsCutAndItsRestSkipped) {
  options_.max_record_bytes = 64;
  // No newline yet, and already longer than a record may be.
  Open(std::string(100, 'a'));
  EXPECT_TRUE(ReadAll(64, [] { return true; }));
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_EQ(Lines()[0], std::string(64, 'a'));
  EXPECT_TRUE(file_.skipping);
  EXPECT_EQ(file_.consumed, 100u);
  std::ofstream(path_, std::ios::app) << "aaa\nnext\n";
  EXPECT_TRUE(ReadAll(64, [] { return true; }));
  EXPECT_EQ(Lines(), (std::vector<std::string>{std::string(64, 'a'), "next"}));
  EXPECT_FALSE(file_.skipping);
  EXPECT_EQ(file_.consumed, 109u);
}

TEST_F(TailedFileTest, StoppingAfterALineLeavesTheRestToReadAgain) {
  Open("one\ntwo\nthree\n");
  int lines = 0;
  EXPECT_FALSE(ReadAll(1024, [&] { return ++lines < 2; }));
  EXPECT_EQ(Lines(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(file_.read_offset, 8u);
  EXPECT_TRUE(ReadAll(1024, [] { return true; }));
  EXPECT_EQ(Lines(), (std::vector<std::string>{"one", "two", "three"}));
}

TEST_F(TailedFileTest, CommitsOnlyTheAcknowledgedPrefix) {
  Open("");
  const auto first = file_.Hand(10);
  const auto second = file_.Hand(20);
  file_.Settle(second.first, second.second, true);
  EXPECT_EQ(file_.Committed(), 0u);
  file_.Settle(first.first, first.second, true);
  EXPECT_EQ(file_.Committed(), 20u);
  EXPECT_EQ(file_.Refused(), std::nullopt);
}

TEST_F(TailedFileTest, ARefusalRewindsAndOlderAcknowledgementsNoLongerCount) {
  Open("one\ntwo\n");
  EXPECT_TRUE(ReadAll(1024, [] { return true; }));
  file_.sent = file_.consumed;
  const auto first = file_.Hand(4);
  const auto second = file_.Hand(8);
  file_.Settle(first.first, first.second, true);
  file_.Settle(second.first, second.second, false);
  EXPECT_FALSE(file_.Settled());
  ASSERT_EQ(file_.Refused(), 4u);
  const SteadyTime now = std::chrono::steady_clock::now();
  EXPECT_EQ(file_.Rewind(4, now), 4u);
  EXPECT_EQ(file_.read_offset, 4u);
  EXPECT_EQ(file_.failures, 1);
  EXPECT_GT(file_.retry_at, now);
  EXPECT_EQ(file_.Refused(), std::nullopt);
  // An acknowledgement of a batch handed on before the rewind is ignored.
  file_.Settle(second.first, second.second, true);
  EXPECT_EQ(file_.Committed(), 4u);
  EXPECT_TRUE(ReadAll(1024, [] { return true; }));
  EXPECT_EQ(Lines(), (std::vector<std::string>{"one", "two", "two"}));
}

TEST_F(TailedFileTest, ARestartBeginsAgainFromTheStart) {
  Open("one\ntwo\n");
  EXPECT_TRUE(ReadAll(1024, [] { return true; }));
  const auto batch = file_.Hand(8);
  file_.Settle(batch.first, batch.second, true);
  EXPECT_EQ(file_.Committed(), 8u);
  std::ofstream(path_, std::ios::trunc) << "new\n";
  file_.Restart(4);
  EXPECT_EQ(file_.Committed(), 0u);
  EXPECT_EQ(file_.read_offset, 0u);
  EXPECT_EQ(file_.fingerprint_size, 4u);
  EXPECT_TRUE(ReadAll(1024, [] { return true; }));
  EXPECT_EQ(Lines().back(), "new");
}

}  // namespace
}  // namespace tributary::receivers::tail
