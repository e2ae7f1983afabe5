#include "tributary/core/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace tributary::core {
namespace {

TEST(Crc32c, KnownVectors) {
  // RFC 3720 (iSCSI), appendix B.4.
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32c, ContinuesAcrossPieces) {
  std::string data = "the quick brown fox jumps over the lazy dog, twice over and again";
  const uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    uint32_t crc = Crc32c(data.data(), cut);
    EXPECT_EQ(Crc32c(data.data() + cut, data.size() - cut, crc), whole) << cut;
  }
}

}  // namespace
}  // namespace tributary::core
