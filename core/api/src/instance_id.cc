#include "tributary/core/instance_id.h"

#include <cstdint>
#include <cstdio>
#include <random>

namespace tributary::core {

const std::string& ProcessInstanceId() {
  static const std::string id = [] {
    std::random_device device;
    std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
    uint64_t hi = rng(), lo = rng();
    hi = (hi & ~0xf000ull) | 0x4000ull;                  // version 4
    lo = (lo & ~(0xc000ull << 48)) | (0x8000ull << 48);  // RFC 4122 variant
    char text[37];
    snprintf(text, sizeof(text), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
             static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
             static_cast<unsigned>(lo >> 48),
             static_cast<unsigned long long>(lo & 0xffffffffffffull));
    return std::string(text);
  }();
  return id;
}

}  // namespace tributary::core
