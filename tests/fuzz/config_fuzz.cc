// The configuration loader: YAML, environment expansion, every component's
// config struct, pipeline references.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tributary/core/registry.h"
#include "tributary/core/runtime/service.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tributary::core::Registry* registry = [] {
    auto* r = new tributary::core::Registry();
    tributary::RegisterAllComponents(*r);
    return r;
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)tributary::core::runtime::LoadConfigText(*registry, text, "fuzz.yaml");
  return 0;
}
