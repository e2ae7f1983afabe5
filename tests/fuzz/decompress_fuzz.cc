// The request-body decompressors against arbitrary bytes: Unzstd and Gunzip
// never read or write out of bounds, never give more than the limit, and
// what they give back compresses and decompresses to itself. The first byte
// picks the decoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/compress/gzip.h"
#include "common/compress/zstd.h"

namespace compress = tributary::common::compress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool zstd = data[0] & 1;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr size_t kLimit = 1 << 20;
  size_t reserved = 0;
  auto reserve = [&reserved](size_t n) {
    reserved += n;
    return reserved <= 2 * kLimit;
  };
  const absl::StatusOr<std::string> out =
      zstd ? compress::Unzstd(in, kLimit, reserve) : compress::Gunzip(in, kLimit, reserve);
  if (!out.ok()) return 0;
  if (out->size() > kLimit) std::abort();
  const absl::StatusOr<std::string> again =
      zstd ? compress::Unzstd(compress::Zstd(*out), kLimit)
           : compress::Gunzip(compress::Gzip(*out), kLimit);
  if (!again.ok() || *again != *out) std::abort();
  return 0;
}
