#ifndef TRIBUTARY_CORE_UTF8_H_
#define TRIBUTARY_CORE_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

// UTF-8 as protobuf's parser checks it for string fields: no overlong
// forms, no surrogates, nothing beyond U+10FFFF.
namespace tributary::core::utf8 {

// The length of the valid sequence at `p` (of the `n` bytes there, n > 0):
// 1 to 4, or 0 when none starts there.
size_t SequenceLength(const unsigned char* p, size_t n);

// Whether `text` is valid UTF-8 (ASCII runs checked eight bytes at a time).
bool IsValid(std::string_view text);

// Appends `text` to `out` with each byte that starts no valid sequence
// replaced by U+FFFD.
void AppendValid(std::string_view text, std::string* out);

}  // namespace tributary::core::utf8

#endif  // TRIBUTARY_CORE_UTF8_H_
