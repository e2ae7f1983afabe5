#include "exporters/elasticsearch/murmur3.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace tributary::exporters::elasticsearch {
namespace {

TEST(Murmur3Hash128, EmptyInputWithSeedZeroIsZero) {
  EXPECT_EQ(Murmur3Hash128("", 0), std::make_pair(uint64_t{0}, uint64_t{0}));
}

TEST(Murmur3Hash128, MatchesTheReferenceImplementation) {
  // MurmurHash3_x64_128 of this sentence with seed 0 is the byte string
  // 6c1b07bc7bbc4be347939ac4a93c437a, i.e. these two little-endian halves.
  const auto [h1, h2] = Murmur3Hash128("The quick brown fox jumps over the lazy dog", 0);
  EXPECT_EQ(h1, 0xe34bbc7bbc071b6cull);
  EXPECT_EQ(h2, 0x7a433ca9c49a9347ull);
}

TEST(Murmur3Hash128, EveryTailLengthAndTheSeedChangeTheHash) {
  // Inputs of 0..32 bytes cover every remainder of the 16-byte blocks.
  const std::string text = "abcdefghijklmnopqrstuvwxyz012345";
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (size_t n = 0; n <= text.size(); ++n) {
    const auto h = Murmur3Hash128(std::string_view(text).substr(0, n), 1);
    EXPECT_TRUE(seen.insert(h).second) << "length " << n;
    EXPECT_EQ(h, Murmur3Hash128(std::string_view(text).substr(0, n), 1));
    EXPECT_NE(h, Murmur3Hash128(std::string_view(text).substr(0, n), 2));
  }
}

}  // namespace
}  // namespace tributary::exporters::elasticsearch
