#ifndef TRIBUTARY_EXPORTERS_ELASTICSEARCH_BULK_RESPONSE_H_
#define TRIBUTARY_EXPORTERS_ELASTICSEARCH_BULK_RESPONSE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tributary::exporters::elasticsearch {

// One item of a _bulk response.
struct BulkItem {
  long status = 0;  // 0: the item carries no status
  std::string error_type;
  std::string error_reason;
};

// The items of a _bulk response to `documents` documents, in order. Empty
// when every document was created (`"errors":false`); nullopt when the body
// is not a bulk response to that many documents. Bodies of any size are
// read; nothing in them is trusted.
std::optional<std::vector<BulkItem>> ParseBulkResponse(std::string_view body, size_t documents);

}  // namespace tributary::exporters::elasticsearch

#endif  // TRIBUTARY_EXPORTERS_ELASTICSEARCH_BULK_RESPONSE_H_
