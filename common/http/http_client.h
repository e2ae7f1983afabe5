#ifndef TRIBUTARY_COMMON_HTTP_HTTP_CLIENT_H_
#define TRIBUTARY_COMMON_HTTP_HTTP_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/tls/client_config.h"

typedef void CURL;

// Settings and helpers shared by the exporters that speak HTTP with libcurl.
namespace tributary::common::http {

struct BasicAuthConfig {
  std::string username;
  std::string password;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("username", username, "user name");
    v.Optional("password", password, "password (use ${env:NAME})");
  }
};

// The wait a `Retry-After: <seconds>` response header line asks for; none
// for other lines (and for the HTTP-date form).
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view header_line);

// libcurl callbacks. CURLOPT_WRITEFUNCTION: appends the body to the
// std::string at `user`, keeping at most its first `limit` bytes when the
// handle's write data is a LimitedBody.
size_t AppendBody(char* data, size_t size, size_t n, void* user);
struct LimitedBody {
  std::string text;
  size_t limit;
};
size_t AppendLimitedBody(char* data, size_t size, size_t n, void* user);
// CURLOPT_HEADERFUNCTION: sets the std::chrono::nanoseconds at `user` from a
// `Retry-After` header.
size_t ReadRetryAfter(char* data, size_t size, size_t n, void* user);

// Sets basic auth on a handle; the strings must outlive the handle's use.
void ApplyBasicAuth(CURL* curl, const BasicAuthConfig& auth);
// Sets the `tls` block on a handle (CA, client certificate, verification,
// version floor); the strings must outlive the handle's use.
void ApplyTls(CURL* curl, const tls::TlsClientConfig& tls);
// What an HTTP client honours of the `tls` block, for ValidateFor.
inline constexpr tls::TlsSupport kHttpTlsSupport{
    .client = "HTTP clients", .insecure_skip_verify = true, .min_version_1_3 = true};

}  // namespace tributary::common::http

#endif  // TRIBUTARY_COMMON_HTTP_HTTP_CLIENT_H_
