#include "exporters/elasticsearch/murmur3.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace tributary::exporters::elasticsearch {

namespace {

uint64_t Fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

}  // namespace

std::pair<uint64_t, uint64_t> Murmur3Hash128(std::string_view data, uint64_t seed) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t len = data.size();
  const size_t blocks = len / 16;
  uint64_t h1 = seed, h2 = seed;
  constexpr uint64_t c1 = 0x87c37b91114253d5ull, c2 = 0x4cf5ad432745937full;
  for (size_t i = 0; i < blocks; ++i) {
    uint64_t k1, k2;
    std::memcpy(&k1, p + i * 16, 8);
    std::memcpy(&k2, p + i * 16 + 8, 8);
    k1 *= c1;
    k1 = std::rotl(k1, 31);
    k1 *= c2;
    h1 ^= k1;
    h1 = std::rotl(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= c2;
    k2 = std::rotl(k2, 33);
    k2 *= c1;
    h2 ^= k2;
    h2 = std::rotl(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  const uint8_t* tail = p + blocks * 16;
  // The last len % 16 bytes, little-endian: bytes 9..15 into k2, 1..8 into k1.
  const size_t rest = len & 15;
  uint64_t k1 = 0, k2 = 0;
  for (size_t i = rest; i > 8; --i) k2 ^= uint64_t{tail[i - 1]} << ((i - 9) * 8);
  for (size_t i = std::min<size_t>(rest, 8); i > 0; --i)
    k1 ^= uint64_t{tail[i - 1]} << ((i - 1) * 8);
  if (rest > 8) {
    k2 *= c2;
    k2 = std::rotl(k2, 33);
    k2 *= c1;
    h2 ^= k2;
  }
  if (rest > 0) {
    k1 *= c1;
    k1 = std::rotl(k1, 31);
    k1 *= c2;
    h1 ^= k1;
  }
  h1 ^= len;
  h2 ^= len;
  h1 += h2;
  h2 += h1;
  h1 = Fmix(h1);
  h2 = Fmix(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

}  // namespace tributary::exporters::elasticsearch
