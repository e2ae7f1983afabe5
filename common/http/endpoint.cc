#include "common/http/endpoint.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tributary::common::http {

absl::Status SplitHostPort(const std::string& endpoint, std::string* host, int* port) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", endpoint, "' is not host:port"));
  }
  std::string h = endpoint.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) h = "0.0.0.0";
  int p;
  if (!absl::SimpleAtoi(endpoint.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", endpoint, "' has no valid port"));
  }
  *host = h;
  *port = p;
  return absl::OkStatus();
}

}  // namespace tributary::common::http
