// The Elasticsearch documents written from the wire form against protobuf's
// own parser: no input makes the writer read out of bounds, and a request
// that parses gives, read as it came, the documents its canonical
// serialization gives (fields out of order, written twice, merged, of an
// unexpected wire type). The first byte picks logs or spans and the mapping.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "exporters/elasticsearch/document.h"
#include "tributary/core/batch.h"

namespace {

namespace es = tributary::exporters::elasticsearch;
using tributary::core::RecordRef;

// Every document of the request, one a line, without ids (they hash the
// bytes as they came); "" and false when the request is malformed.
bool Documents(bool logs, es::MappingMode mode, std::string_view request, std::string* out) {
  es::LogView log;
  es::SpanView span;
  const std::string index = logs ? "logs-generic-default" : "traces-generic-default";
  return es::ForEachRecord(
      request, [&](const RecordRef&, const es::Origin& origin, std::string_view record) {
        const bool ok =
            logs ? es::ReadLog(record, &log) && es::AppendLogDocument(mode, origin, log, index, out)
                 : es::ReadSpan(record, &span) &&
                       es::AppendSpanDocument(mode, origin, span, index, out);
        out->push_back('\n');
        return ok;
      });
}

template <typename Request>
void Compare(bool logs, es::MappingMode mode, std::string_view bytes) {
  std::string raw;
  const bool raw_ok = Documents(logs, mode, bytes, &raw);
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  // Whatever protobuf parses, the writer reads.
  if (!raw_ok) __builtin_trap();
  std::string canonical;
  if (!Documents(logs, mode, request.SerializeAsString(), &canonical)) __builtin_trap();
  if (raw != canonical) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool logs = (data[0] & 1) == 0;
  const es::MappingMode mode = (data[0] & 2) ? es::MappingMode::kOtel : es::MappingMode::kEcs;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (logs) {
    Compare<tributary::core::LogsRequest>(true, mode, bytes);
  } else {
    Compare<tributary::core::TracesRequest>(false, mode, bytes);
  }
  return 0;
}
