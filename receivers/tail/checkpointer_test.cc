#include "receivers/tail/checkpointer.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::tail {
namespace {

Checkpoint Of(const std::string& path, uint64_t offset) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return Checkpoint{st.st_dev, st.st_ino, 0, 0, offset, path};
}

TEST(CheckpointerTest, LoadedCheckpointsAreClaimedOnce) {
  core::testing::TempDir dir;
  const std::string a = dir.path() + "/a.log";
  std::ofstream(a) << "x\n";
  const Checkpoint saved = Of(a, 2);
  ASSERT_TRUE(CheckpointStore(dir.path(), "tail").Save({saved}).ok());

  Checkpointer checkpoints(std::make_unique<CheckpointStore>(dir.path(), "tail"));
  ASSERT_TRUE(checkpoints.Load().ok());
  EXPECT_EQ(checkpoints.loaded(), std::vector<Checkpoint>{saved});
  EXPECT_EQ(checkpoints.Claim(saved.device, saved.inode + 1), std::nullopt);
  EXPECT_EQ(checkpoints.Claim(saved.device, saved.inode), saved);
  EXPECT_EQ(checkpoints.Claim(saved.device, saved.inode), std::nullopt);
  // Loaded stays known for the copies the first scan may find.
  EXPECT_EQ(checkpoints.loaded().size(), 1u);
  checkpoints.FirstScanDone();
  EXPECT_TRUE(checkpoints.loaded().empty());
}

TEST(CheckpointerTest, AFileRenamedWhileDownIsFoundByItsInode) {
  core::testing::TempDir dir;
  const std::string a = dir.path() + "/a.log";
  std::ofstream(a) << "x\n";
  const std::string gone = dir.path() + "/gone.log";
  std::ofstream(gone) << "y\n";
  const Checkpoint renamed = Of(a, 2);
  const Checkpoint deleted = Of(gone, 1);
  ASSERT_TRUE(CheckpointStore(dir.path(), "tail").Save({renamed, deleted}).ok());
  std::filesystem::rename(a, a + ".1");
  std::filesystem::remove(gone);

  Checkpointer checkpoints(std::make_unique<CheckpointStore>(dir.path(), "tail"));
  ASSERT_TRUE(checkpoints.Load().ok());
  const auto moved = checkpoints.ClaimMoved();
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].path, a + ".1");
  EXPECT_EQ(moved[0].checkpoint, renamed);
  // The deleted file's checkpoint is forgotten with the rest.
  ASSERT_TRUE(checkpoints.Save({}, false).ok());
  EXPECT_TRUE(CheckpointStore(dir.path(), "tail").Load()->empty());
}

TEST(CheckpointerTest, SavesOnlyWhatChangedUnlessForced) {
  core::testing::TempDir dir;
  Checkpointer checkpoints(std::make_unique<CheckpointStore>(dir.path(), "tail"));
  ASSERT_TRUE(checkpoints.Load().ok());
  const Checkpoint b{1, 9, 0, 0, 5, "/b"};
  const Checkpoint a{1, 3, 0, 0, 7, "/a"};
  ASSERT_TRUE(checkpoints.Save({b, a}, false).ok());
  EXPECT_EQ(checkpoints.saves(), 1);
  ASSERT_TRUE(checkpoints.Save({a, b}, false).ok());
  EXPECT_EQ(checkpoints.saves(), 1);
  ASSERT_TRUE(checkpoints.Save({a, b}, true).ok());
  EXPECT_EQ(checkpoints.saves(), 2);
  // Stored by device and inode.
  EXPECT_EQ(*CheckpointStore(dir.path(), "tail").Load(), (std::vector<Checkpoint>{a, b}));
}

TEST(CheckpointerTest, ADamagedStoreStopsTheStart) {
  core::testing::TempDir dir;
  CheckpointStore store(dir.path(), "tail");
  std::ofstream(store.path()) << "not a checkpoint file\n";
  Checkpointer checkpoints(std::make_unique<CheckpointStore>(dir.path(), "tail"));
  const absl::Status status = checkpoints.Load();
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("move it away"), std::string_view::npos) << status;
}

TEST(CheckpointerTest, WithoutAStoreNothingIsKept) {
  Checkpointer checkpoints(nullptr);
  EXPECT_TRUE(checkpoints.Load().ok());
  EXPECT_TRUE(checkpoints.Save({{1, 2, 0, 0, 3, "/a"}}, true).ok());
  EXPECT_EQ(checkpoints.saves(), 0);
}

}  // namespace
}  // namespace tributary::receivers::tail
