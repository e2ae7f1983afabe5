#ifndef TRIBUTARY_COMMON_COMPRESS_GZIP_H_
#define TRIBUTARY_COMMON_COMPRESS_GZIP_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tributary::common::compress {

// zlib levels: fastest for what goes on the wire every few seconds, best for
// what is written once (test fixtures).
inline constexpr int kGzipFastest = 1;
inline constexpr int kGzipBest = 9;

// `in` as one gzip member (RFC 1952), as HTTP `Content-Encoding: gzip` wants it.
std::string Gzip(std::string_view in, int level = kGzipFastest);

// The content of a gzip stream, refused with kResourceExhausted as soon as
// it would grow past `max_size` (a decompression bomb costs no more than
// that), and with kInvalidArgument when it is not gzip or ends early. When
// given, `reserve` is asked for each piece of memory before it is taken; a
// refusal ends the decompression with kUnavailable.
absl::StatusOr<std::string> Gunzip(std::string_view in, size_t max_size,
                                   const std::function<bool(size_t)>& reserve = {});

}  // namespace tributary::common::compress

#endif  // TRIBUTARY_COMMON_COMPRESS_GZIP_H_
