#ifndef TRIBUTARY_CORE_HTTP_CLIENT_H_
#define TRIBUTARY_CORE_HTTP_CLIENT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

// Settings and helpers shared by the exporters that speak HTTP with libcurl.
namespace tributary::core {

struct BasicAuthConfig {
  std::string username;
  std::string password;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("username", username, "user name");
    v.Optional("password", password, "password (use ${env:NAME})");
  }
};

struct HttpTlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("ca_file", ca_file, "CA certificates to verify the server with");
    v.Optional("cert_file", cert_file, "client certificate, for mutual TLS");
    v.Optional("key_file", key_file, "client key, for mutual TLS");
    v.Optional("insecure_skip_verify", insecure_skip_verify,
               "do not verify the server's certificate (testing only)");
  }
};

// The wait a `Retry-After: <seconds>` response header line asks for; none
// for other lines (and for the HTTP-date form).
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view header_line);

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_HTTP_CLIENT_H_
