#include "receivers/tail/checkpoint_store.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::tail {
namespace {

TEST(CheckpointStore, SavesAndLoads) {
  core::testing::TempDir dir;
  CheckpointStore store(dir.path() + "/sub/dir", "tail/pods");
  auto empty = store.Load();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  std::vector<Checkpoint> saved = {{1, 2, 1024, 0xdeadbeef, 12345, "/var/log/a b.log"},
                                   {1, 3, 10, 7, 0, "/odd%name\nwith newline"}};
  ASSERT_TRUE(store.Save(saved).ok());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, saved);
  EXPECT_EQ(store.path(), dir.path() + "/sub/dir/tail_pods.checkpoints");
}

TEST(CheckpointStore, ADamagedStoreIsAnError) {
  core::testing::TempDir dir;
  CheckpointStore store(dir.path(), "tail");
  ASSERT_TRUE(store.Save({{1, 2, 3, 4, 5, "/x"}}).ok());
  std::string text;
  {
    std::ifstream in(store.path());
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  text[text.find("/x")] = '?';
  std::ofstream(store.path()) << text;
  auto loaded = store.Load();
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tributary::receivers::tail
