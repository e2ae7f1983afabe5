// The OTLP receiver's wire check against its object path: a request the
// check lets through as it came must parse, hold no invalid record, be left
// unchanged by the record limits and have the records the check counted.
// The first byte picks the signal, the second the limits (none, the
// defaults, or small ones that inputs reach).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/otlp/limits.h"
#include "common/otlp/wire_check.h"
#include "tributary/core/otlp_codec.h"

namespace otlp = tributary::common::otlp;
using tributary::core::Signal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Signal signal = static_cast<Signal>(data[0] % 3);
  otlp::RecordLimits limits;
  switch (data[1] % 3) {
    case 0:
      limits.max_attributes = 0;
      limits.max_attribute_value_length.bytes = 0;
      break;
    case 1:
      break;
    default:
      limits.max_attributes = 2;
      limits.max_attribute_value_length.bytes = 4;
  }
  const std::string bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::optional<size_t> passed = otlp::PassesUnchanged(signal, bytes, limits);
  if (!passed) return 0;
  absl::StatusOr<tributary::core::Batch> batch = tributary::core::DecodeOtlpProto(signal, bytes);
  if (!batch.ok()) __builtin_trap();
  if (tributary::core::RemoveInvalidRecords(*batch).rejected != 0) __builtin_trap();
  const otlp::LimitsApplied applied = otlp::ApplyRecordLimits(*batch, limits);
  if (applied.dropped_attributes != 0 || applied.truncated_values != 0) __builtin_trap();
  if (batch->record_count() != *passed) __builtin_trap();
  return 0;
}
