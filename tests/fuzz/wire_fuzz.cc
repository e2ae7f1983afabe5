// The protobuf wire reader against protobuf's own parser: whatever parses as
// an OTLP export request is walked without error and counted as the parsed
// request counts, and no input makes the reader read out of bounds. The
// first byte picks the signal.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tributary/core/batch.h"
#include "tributary/core/wire.h"

namespace {

using tributary::core::Signal;
namespace wire = tributary::core::wire;

// Reads every field, descending into length-delimited ones as if they were
// messages (most are not: the reader must stop cleanly on any bytes).
void Walk(std::string_view bytes, int depth) {
  wire::Reader reader(bytes);
  wire::Field f;
  while (reader.Next(&f)) {
    if (depth < 8 && (f.type == wire::Type::kLen || f.type == wire::Type::kStartGroup)) {
      Walk(f.bytes, depth + 1);
    }
  }
}

template <typename Request>
std::optional<size_t> ParsedCount(std::string_view bytes) {
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  return tributary::core::CountRecords(request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Signal signal = static_cast<Signal>(data[0] % 3);
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  Walk(bytes, 0);
  const std::optional<size_t> counted = wire::CountOtlpRecords(signal, bytes);
  std::optional<size_t> parsed;
  switch (signal) {
    case Signal::kTraces:
      parsed = ParsedCount<tributary::core::TracesRequest>(bytes);
      break;
    case Signal::kMetrics:
      parsed = ParsedCount<tributary::core::MetricsRequest>(bytes);
      break;
    case Signal::kLogs:
      parsed = ParsedCount<tributary::core::LogsRequest>(bytes);
      break;
  }
  if (parsed && counted != parsed) __builtin_trap();
  return 0;
}
