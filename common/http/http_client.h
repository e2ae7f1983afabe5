#ifndef TRIBUTARY_COMMON_HTTP_HTTP_CLIENT_H_
#define TRIBUTARY_COMMON_HTTP_HTTP_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// What every request of a Client carries.
struct ClientOptions {
  tls::TlsClientConfig tls;
  std::optional<BasicAuthConfig> basic_auth;
  std::vector<std::string> headers;  // "Name: value"
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  // Connection settings (ClientTuning); empty proxy_url leaves libcurl's
  // environment proxies, buffer sizes 0 libcurl's own.
  std::string proxy_url;
  long read_buffer_size = 0;
  long write_buffer_size = 0;
  bool keep_alive = true;
  std::chrono::milliseconds idle_conn_timeout{90000};
  size_t max_idle_conns = 100;  // 0: no limit
};

struct Request {
  std::string method = "POST";  // GET sends no body
  std::string url;
  std::string_view body;             // must outlive Send()
  std::vector<std::string> headers;  // "Name: value", besides the client's
  // Asks for a gzip or deflate response and decodes it; the limit below
  // counts decoded bytes.
  bool accept_compressed = false;
  // Response bytes kept at most. Past it the response is cut there, or the
  // request is abandoned when `fail_over_limit`.
  size_t max_response_bytes = std::numeric_limits<size_t>::max();
  bool fail_over_limit = false;
  // When set, the body of a 2xx response goes here as it arrives instead of
  // into Response::body; false ends the transfer (Response::stopped).
  // Another status's body stays in Response::body.
  std::function<bool(std::string_view)> on_body;
  // Names (any case) of response headers, trailers included, kept in
  // Response::headers.
  std::vector<std::string> keep_headers;
  // Checked while the transfer runs; when it turns true the transfer is
  // abandoned (a long watch at shutdown).
  const std::atomic<bool>* cancel = nullptr;
  // Instead of the client's timeout when set; connecting is bounded apart.
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds connect_timeout{0};
};

struct Response {
  long status = 0;  // 0: no HTTP response; `error` says why
  std::string body;
  std::string content_type;
  std::chrono::nanoseconds retry_after{0};  // from a Retry-After header
  std::string error;
  bool timed_out = false;
  bool too_large = false;  // the body passed max_response_bytes
  bool stopped = false;    // on_body ended the transfer (`status` is set)
  // Those of Request::keep_headers that came, in order, values trimmed.
  std::vector<std::pair<std::string, std::string>> headers;
};

// One configured libcurl client for everything that speaks HTTP as a
// client: the `tls` block, basic auth, headers and timeout on every request,
// Retry-After and Content-Type read from the response. Thread-safe; idle
// handles (and their connections) are kept for the next request.
class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Response Send(const Request& request);

 private:
  const ClientOptions options_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

// What an HTTP client honours of the `tls` block, for ValidateFor.
inline constexpr tls::TlsSupport kHttpTlsSupport{
    .client = "HTTP clients", .insecure_skip_verify = true, .min_version_1_3 = true};

}  // namespace tributary::common::http

#endif  // TRIBUTARY_COMMON_HTTP_HTTP_CLIENT_H_
