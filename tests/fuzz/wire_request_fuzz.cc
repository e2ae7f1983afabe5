// Requests taken apart and composed again on their wire form
// (common/otlp/wire_request.h, which the Kafka and loadbalancing exporters
// and the tail_sampling processor use on what senders sent): whatever
// protobuf parses as an OTLP export request is read, every record is
// reachable, and composing all of them, or every other one, gives bytes that
// parse to the same request, or to the same records less the others. No
// input makes it read out of bounds. The first byte picks the signal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "common/otlp/wire_request.h"
#include "tributary/core/batch.h"

namespace {

using tributary::common::otlp::WireRef;
using tributary::common::otlp::WireRequest;

template <typename Request>
void Check(std::string_view bytes) {
  WireRequest wire;
  const bool read = wire.Read(bytes);
  Request parsed;
  if (!parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  if (!read) std::abort();  // protobuf parses it: the reader must too
  std::vector<WireRef> all, half;
  for (uint32_t r = 0; r < wire.resources(); ++r) {
    for (uint32_t s = 0; s < wire.scopes(r); ++s) {
      for (uint32_t i = 0; i < wire.records(r, s); ++i) {
        all.push_back({r, s, i});
        if (all.size() % 2) half.push_back({r, s, i});
        (void)wire.record({r, s, i});
      }
    }
  }
  Request again;
  const std::string composed = wire.Compose(all);
  if (!again.ParseFromString(composed)) std::abort();
  if (tributary::core::CountRecords(again) != tributary::core::CountRecords(parsed)) std::abort();
  Request part;
  if (!part.ParseFromString(wire.Compose(half))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      Check<tributary::core::TracesRequest>(bytes);
      break;
    case 1:
      Check<tributary::core::MetricsRequest>(bytes);
      break;
    default:
      Check<tributary::core::LogsRequest>(bytes);
  }
  return 0;
}
