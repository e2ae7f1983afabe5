// An Elasticsearch _bulk response, as a server (or anything answering in
// its place) may send it: never a crash, and a result only for a response
// with one item per document.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exporters/elasticsearch/bulk_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t documents = data[0] % 8;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto items = tributary::exporters::elasticsearch::ParseBulkResponse(body, documents);
  if (items && !items->empty() && items->size() != documents) __builtin_trap();
  return 0;
}
