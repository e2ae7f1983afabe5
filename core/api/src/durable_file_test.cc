#include "tributary/core/durable_file.h"

#include <sys/stat.h>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core {
namespace {

TEST(DurableFile, ReplacesContentWholeAtEitherDurability) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/a/b/c";
  ASSERT_TRUE(MakeDirectories(dir).ok());
  const std::string path = dir + "/state";
  for (Durability d : {Durability::kAtomic, Durability::kSynced}) {
    ASSERT_TRUE(ReplaceFile(path, "first version, longer", d).ok());
    ASSERT_TRUE(ReplaceFile(path, "second", d).ok());
    std::string got;
    ASSERT_TRUE(ReadWholeFile(path, &got).ok());
    EXPECT_EQ(got, "second");
    struct stat st;
    EXPECT_NE(stat((path + ".tmp").c_str(), &st), 0) << "the temporary file is renamed away";
  }
}

TEST(DurableFile, ReportsWhatItCannotDo) {
  testing::TempDir tmp;
  std::string got = "untouched";
  absl::Status missing = ReadWholeFile(tmp.path() + "/none", &got);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(got, "untouched");
  EXPECT_FALSE(ReplaceFile(tmp.path() + "/no/such/dir/file", "x", Durability::kSynced).ok());
  EXPECT_FALSE(MakeDirectories("/proc/self/forbidden/dir").ok());
}

}  // namespace
}  // namespace tributary::core
