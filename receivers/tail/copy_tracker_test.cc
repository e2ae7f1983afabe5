#include "receivers/tail/copy_tracker.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "receivers/tail/file_identity.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::tail {
namespace {

class CopyTrackerTest : public ::testing::Test {
 protected:
  // A file of `content` at dir/name, open for reading.
  int Write(const std::string& name, const std::string& content) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << content;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }
  CopyTracker::Origin OriginOf(const std::string& name, const std::string& content,
                               uint64_t offset) {
    const int fd = Write(name, content);
    const auto size = static_cast<uint32_t>(content.size());
    return {path(name), size, *Fingerprint(fd, size), offset, 7};
  }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  ~CopyTrackerTest() override {
    for (int fd : fds_) close(fd);
  }

  core::testing::TempDir dir_;
  std::vector<int> fds_;
  CopyTracker tracker_;
  const std::string lines_ = std::string(200, 'x') + "\n";
};

TEST_F(CopyTrackerTest, ACopyIsKnownByNameAndFirstBytes) {
  const auto original = OriginOf("app.log", lines_, 150);
  const int copy = Write("app.log.1", lines_ + "more\n");
  const auto found = tracker_.CopyOf(copy, path("app.log.1"), lines_.size() + 5, {original});
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->offset, 150u);
  EXPECT_EQ(found->order, 7u);

  // Another name, or other content, is no copy.
  const int other = Write("other.log", lines_);
  EXPECT_FALSE(tracker_.CopyOf(other, path("other.log"), lines_.size(), {original}));
  const int different = Write("app.log.2", std::string(200, 'y') + "\n");
  EXPECT_FALSE(tracker_.CopyOf(different, path("app.log.2"), lines_.size(), {original}));
}

TEST_F(CopyTrackerTest, AFewSameBytesAreNotEnoughEvidence) {
  const auto original = OriginOf("app.log", "short\n", 6);
  const int copy = Write("app.log.1", "short\n");
  EXPECT_FALSE(tracker_.CopyOf(copy, path("app.log.1"), 6, {original}));
}

TEST_F(CopyTrackerTest, TruncatedFilesAreRememberedForAWhile) {
  const auto original = OriginOf("app.log", lines_, 201);
  const SteadyTime now = std::chrono::steady_clock::now();
  tracker_.Truncated(original, now);
  const int copy = Write("app.log.1", lines_);
  EXPECT_TRUE(tracker_.CopyOf(copy, path("app.log.1"), lines_.size(), {}));
  tracker_.Expire(now + CopyTracker::kTruncationMemory / 2);
  EXPECT_TRUE(tracker_.CopyOf(copy, path("app.log.1"), lines_.size(), {}));
  tracker_.Expire(now + CopyTracker::kTruncationMemory + std::chrono::seconds(1));
  EXPECT_FALSE(tracker_.CopyOf(copy, path("app.log.1"), lines_.size(), {}));
}

TEST_F(CopyTrackerTest, AShortCopyWaitsAWhileThenIsReadAsNew) {
  const auto original = OriginOf("app.log", lines_, 201);
  const SteadyTime now = std::chrono::steady_clock::now();
  EXPECT_TRUE(tracker_.InProgress(path("app.log.1"), 10, {original}, now));
  EXPECT_TRUE(tracker_.waiting());
  EXPECT_TRUE(
      tracker_.InProgress(path("app.log.1"), 10, {original}, now + std::chrono::seconds(1)));
  EXPECT_FALSE(tracker_.InProgress(path("app.log.1"), 10, {original},
                                   now + CopyTracker::kCopyWait + std::chrono::seconds(1)));
  EXPECT_FALSE(tracker_.waiting());
  // Long enough to tell, or not named like a copy: no wait.
  EXPECT_FALSE(tracker_.InProgress(path("app.log.1"), 300, {original}, now));
  EXPECT_FALSE(tracker_.InProgress(path("new.log"), 10, {original}, now));
  EXPECT_FALSE(tracker_.waiting());
}

}  // namespace
}  // namespace tributary::receivers::tail
