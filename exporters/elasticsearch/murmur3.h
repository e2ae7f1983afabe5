#ifndef TRIBUTARY_EXPORTERS_ELASTICSEARCH_MURMUR3_H_
#define TRIBUTARY_EXPORTERS_ELASTICSEARCH_MURMUR3_H_

#include <cstdint>
#include <string_view>
#include <utility>

namespace tributary::exporters::elasticsearch {

// MurmurHash3 x64 128 (Austin Appleby's public-domain algorithm): fast and
// the same across processes, platforms and versions, so document ids made
// from it survive a restart. Returns the two 64-bit halves (h1, h2); the
// reference implementation's 16 output bytes are h1 then h2, little-endian.
std::pair<uint64_t, uint64_t> Murmur3Hash128(std::string_view data, uint64_t seed);

}  // namespace tributary::exporters::elasticsearch

#endif  // TRIBUTARY_EXPORTERS_ELASTICSEARCH_MURMUR3_H_
