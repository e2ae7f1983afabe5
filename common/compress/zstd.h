#ifndef TRIBUTARY_COMMON_COMPRESS_ZSTD_H_
#define TRIBUTARY_COMMON_COMPRESS_ZSTD_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tributary::common::compress {

// zstd's own default level: far faster than gzip at a better ratio.
inline constexpr int kZstdDefault = 3;

// `in` as one zstd frame (RFC 8878) with its content size, as HTTP
// `Content-Encoding: zstd` wants it.
std::string Zstd(std::string_view in, int level = kZstdDefault);

// The content of one or more zstd frames, with the contract of Gunzip: refused
// with kResourceExhausted as soon as it would grow past `max_size`, with
// kInvalidArgument when it is not zstd or ends early, and with kUnavailable
// when `reserve` refuses a piece of memory.
absl::StatusOr<std::string> Unzstd(std::string_view in, size_t max_size,
                                   const std::function<bool(size_t)>& reserve = {});

}  // namespace tributary::common::compress

#endif  // TRIBUTARY_COMMON_COMPRESS_ZSTD_H_
