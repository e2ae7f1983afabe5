#include "receivers/tail/file_identity.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tributary/core/crc32c.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::tail {
namespace {

TEST(FileIdentityTest, FingerprintCoversTheFirstBytesOrNothing) {
  core::testing::TempDir dir;
  const std::string path = dir.path() + "/a.log";
  const std::string content(2000, 'x');
  std::ofstream(path) << content;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Fingerprint(fd, 10), core::Crc32c(content.data(), 10));
  // Capped at kFingerprintSize, however much is asked.
  EXPECT_EQ(Fingerprint(fd, 5000), core::Crc32c(content.data(), kFingerprintSize));
  close(fd);

  const std::string short_path = dir.path() + "/short.log";
  std::ofstream(short_path) << "abc";
  const int short_fd = open(short_path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(short_fd, 0);
  EXPECT_EQ(Fingerprint(short_fd, 4), std::nullopt);
  EXPECT_EQ(Fingerprint(short_fd, 3), core::Crc32c("abc", 3));
  close(short_fd);
}

TEST(FileIdentityTest, DirAndBaseNames) {
  EXPECT_EQ(DirName("/var/log/app.log"), "/var/log");
  EXPECT_EQ(DirName("/app.log"), "/");
  EXPECT_EQ(DirName("app.log"), ".");
  EXPECT_EQ(BaseName("/var/log/app.log"), "app.log");
  EXPECT_EQ(BaseName("app.log"), "app.log");
}

TEST(FileIdentityTest, CopyNamesExtendTheOriginalInItsDirectory) {
  EXPECT_TRUE(CopyName("/var/log/app.log", "/var/log/app.log.1"));
  EXPECT_TRUE(CopyName("/var/log/app.log", "/var/log/app.log-20261206"));
  EXPECT_FALSE(CopyName("/var/log/app.log", "/var/log/app.log"));
  EXPECT_FALSE(CopyName("/var/log/app.log", "/var/log/other.log"));
  EXPECT_FALSE(CopyName("/var/log/app.log", "/var/old/app.log.1"));
  EXPECT_FALSE(CopyName("/var/log/app.log.1", "/var/log/app.log"));
}

}  // namespace
}  // namespace tributary::receivers::tail
