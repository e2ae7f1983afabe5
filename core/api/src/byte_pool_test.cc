#include "tributary/core/byte_pool.h"

#include <string>

#include "gtest/gtest.h"

namespace tributary::core::byte_pool {
namespace {

TEST(BytePoolTest, LargeStringsComeBackWithTheirMemory) {
  std::string big = Take(1 << 20);
  ASSERT_EQ(big.size(), 1u << 20);
  big.assign(1 << 20, 'x');
  const char* memory = big.data();
  Give(std::move(big));
  // The smallest pooled string that fits, with its memory and the size asked.
  std::string again = Take(600 << 10);
  EXPECT_EQ(again.data(), memory);
  EXPECT_EQ(again.size(), 600u << 10);
  Give(std::move(again));
  std::string empty = TakeEmpty(900 << 10);
  EXPECT_EQ(empty.data(), memory);
  EXPECT_TRUE(empty.empty());
  EXPECT_GE(empty.capacity(), 900u << 10);
  Give(std::move(empty));
}

}  // namespace
}  // namespace tributary::core::byte_pool
