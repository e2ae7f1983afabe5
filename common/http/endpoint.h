#ifndef TRIBUTARY_COMMON_HTTP_ENDPOINT_H_
#define TRIBUTARY_COMMON_HTTP_ENDPOINT_H_

#include <string>

#include "absl/status/status.h"

namespace tributary::common::http {

// Splits `host:port` ("[::1]:4317", ":4318") into its parts.
absl::Status SplitHostPort(const std::string& endpoint, std::string* host, int* port);

}  // namespace tributary::common::http

#endif  // TRIBUTARY_COMMON_HTTP_ENDPOINT_H_
