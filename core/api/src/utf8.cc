#include "tributary/core/utf8.h"

#include <cstdint>
#include <cstring>

namespace tributary::core::utf8 {

size_t SequenceLength(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  auto cont = [&](size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[1] > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] > 0x8F) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

bool IsValid(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  while (n > 0) {
    if (n >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        n -= 8;
        continue;
      }
    }
    const size_t len = SequenceLength(p, n);
    if (len == 0) return false;
    p += len;
    n -= len;
  }
  return true;
}

void AppendValid(std::string_view text, std::string* out) {
  if (IsValid(text)) {
    out->append(text);
    return;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  while (n > 0) {
    const size_t len = SequenceLength(p, n);
    if (len == 0) {
      out->append("\xEF\xBF\xBD");  // U+FFFD
      ++p;
      --n;
    } else {
      out->append(reinterpret_cast<const char*>(p), len);
      p += len;
      n -= len;
    }
  }
}

}  // namespace tributary::core::utf8
