// OTLP/protobuf decoding, as the gRPC and HTTP receivers do it, followed by
// what the pipeline does with a decoded batch: validation, counting,
// splitting, JSON encoding. The first byte picks the signal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tributary/core/otlp_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  using tributary::core::Signal;
  const Signal signal = static_cast<Signal>(data[0] % 3);
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  auto batch = tributary::core::DecodeOtlpProto(signal, bytes);
  if (!batch.ok()) return 0;
  tributary::core::RemoveInvalidRecords(*batch);
  (void)tributary::core::EncodeOtlpJson(*batch);
  for (auto& part : std::move(*batch).Split(7)) (void)part.record_count();
  return 0;
}
