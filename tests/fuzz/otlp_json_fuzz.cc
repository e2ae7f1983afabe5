// OTLP/JSON decoding, as the HTTP receiver does it; what decodes must encode
// again. The first byte picks the signal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tributary/core/otlp_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  using tributary::core::Signal;
  const Signal signal = static_cast<Signal>(data[0] % 3);
  std::string_view json(reinterpret_cast<const char*>(data + 1), size - 1);
  auto batch = tributary::core::DecodeOtlpJson(signal, json);
  if (!batch.ok()) return 0;
  tributary::core::RemoveInvalidRecords(*batch);
  (void)tributary::core::EncodeOtlpJson(*batch);
  return 0;
}
