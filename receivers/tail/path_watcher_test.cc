#include "receivers/tail/path_watcher.h"

#include <poll.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::tail {
namespace {

// Waits up to 10 s for an event that changes what the patterns match.
bool WaitForChange(PathWatcher& watcher) {
  for (int i = 0; i < 100; ++i) {
    pollfd p{watcher.fd(), POLLIN, 0};
    if (poll(&p, 1, 100) > 0 && watcher.ReadEvents()) return true;
  }
  return false;
}

TEST(PathWatcherTest, IncludeMinusExclude) {
  core::testing::TempDir dir;
  for (const char* name : {"a.log", "b.log", "b.log.gz", "c.txt"}) {
    std::ofstream(dir.path() + "/" + name) << "x\n";
  }
  PathWatcher watcher({dir.path() + "/*.log*", dir.path() + "/{c,d}.txt"}, {"*.gz"});
  EXPECT_EQ(watcher.Paths(), (std::set<std::string>{dir.path() + "/a.log", dir.path() + "/b.log",
                                                    dir.path() + "/c.txt"}));
}

TEST(PathWatcherTest, WatchesEveryDirectoryAWildcardReaches) {
  core::testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/pods/a");
  std::filesystem::create_directories(dir.path() + "/pods/b");
  PathWatcher watcher({dir.path() + "/pods/*/*.log"}, {});
  ASSERT_TRUE(watcher.StartInotify().ok());
  EXPECT_TRUE(watcher.WatchDirectories());
  EXPECT_EQ(watcher.watched(), 3u);  // pods, pods/a, pods/b
  EXPECT_FALSE(watcher.WatchDirectories());

  std::ofstream(dir.path() + "/pods/b/new.log") << "x\n";
  EXPECT_TRUE(WaitForChange(watcher));
  // A new pod directory is seen in pods/, and watched on the next call.
  std::filesystem::create_directories(dir.path() + "/pods/c");
  EXPECT_TRUE(WaitForChange(watcher));
  EXPECT_TRUE(watcher.WatchDirectories());
  EXPECT_EQ(watcher.watched(), 4u);
}

TEST(PathWatcherTest, AMissingDirectoryIsWaitedForInItsNearestParent) {
  core::testing::TempDir dir;
  PathWatcher watcher({dir.path() + "/later/app/*.log"}, {});
  ASSERT_TRUE(watcher.StartInotify().ok());
  EXPECT_TRUE(watcher.WatchDirectories());
  EXPECT_EQ(watcher.watched(), 1u);
  std::filesystem::create_directories(dir.path() + "/later/app");
  EXPECT_TRUE(WaitForChange(watcher));
  EXPECT_TRUE(watcher.WatchDirectories());
}

TEST(PathWatcherTest, GrowingFilesAreNotAChange) {
  core::testing::TempDir dir;
  const std::string path = dir.path() + "/a.log";
  std::ofstream(path) << "x\n";
  PathWatcher watcher({dir.path() + "/*.log"}, {});
  ASSERT_TRUE(watcher.StartInotify().ok());
  watcher.WatchDirectories();
  std::ofstream(path, std::ios::app) << "more\n";
  pollfd p{watcher.fd(), POLLIN, 0};
  ASSERT_GT(poll(&p, 1, 10000), 0);
  EXPECT_FALSE(watcher.ReadEvents());
}

TEST(PathWatcherTest, WithoutInotifyNothingIsWatched) {
  core::testing::TempDir dir;
  PathWatcher watcher({dir.path() + "/*.log"}, {});
  EXPECT_FALSE(watcher.inotify());
  EXPECT_FALSE(watcher.WatchDirectories());
  EXPECT_FALSE(watcher.ReadEvents());
}

}  // namespace
}  // namespace tributary::receivers::tail
