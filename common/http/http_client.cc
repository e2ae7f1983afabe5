#include "common/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "absl/strings/ascii.h"

namespace tributary::common::http {

namespace {

// The trimmed value of a header line `Name: value` whose name is `name`
// (lower case, without the colon), in any case; nullopt for another header.
std::optional<std::string_view> HeaderValue(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return std::nullopt;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return std::nullopt;
  }
  std::string_view value = line.substr(name.size() + 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  return value;
}

}  // namespace

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view line) {
  const std::optional<std::string_view> value = HeaderValue(line, "retry-after");
  if (!value) return std::nullopt;
  int seconds = -1;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
  if (ec != std::errc() || end != value->data() + value->size() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

namespace {

void ApplyBasicAuth(CURL* curl, const BasicAuthConfig& auth) {
  curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(curl, CURLOPT_USERNAME, auth.username.c_str());
  curl_easy_setopt(curl, CURLOPT_PASSWORD, auth.password.c_str());
}

void ApplyTls(CURL* curl, const tls::TlsClientConfig& tls) {
  if (!tls.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
  if (!tls.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.key_file.c_str());
  }
  if (tls.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_SSLVERSION,
                   tls.min_version == "1.3" ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2);
}

void ApplyConnection(CURL* curl, const ClientOptions& options) {
  if (!options.proxy_url.empty()) curl_easy_setopt(curl, CURLOPT_PROXY, options.proxy_url.c_str());
  if (options.read_buffer_size > 0) {
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, options.read_buffer_size);
  }
  if (options.write_buffer_size > 0) {
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, options.write_buffer_size);
  }
  if (!options.keep_alive) curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
  // The longest a connection may have been idle to be reused, whole seconds.
  curl_easy_setopt(
      curl, CURLOPT_MAXAGE_CONN,
      std::max<long>(1, static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                              options.idle_conn_timeout)
                                              .count())));
}

struct Collected {
  const Request* request;
  Response* response;
  CURL* curl;
};

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Collected*>(user);
  const size_t bytes = size * n;
  long status = 0;
  if (c->request->on_body) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) {
    if (c->request->on_body(std::string_view(data, bytes))) return bytes;
    c->response->stopped = true;
    return 0;
  }
  std::string& body = c->response->body;
  const size_t limit = c->request->max_response_bytes;
  if (body.size() + bytes > limit) {
    c->response->too_large = true;
    if (c->request->fail_over_limit) return 0;  // abandons the transfer
    if (body.size() < limit) body.append(data, limit - body.size());
    return bytes;
  }
  body.append(data, bytes);
  return bytes;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  auto* c = static_cast<Collected*>(user);
  Response* response = c->response;
  const std::string_view line(data, size * n);
  for (const std::string& name : c->request->keep_headers) {
    if (auto value = HeaderValue(line, absl::AsciiStrToLower(name))) {
      response->headers.emplace_back(name, *value);
    }
  }
  if (auto wait = ParseRetryAfter(line)) response->retry_after = *wait;
  if (auto type = HeaderValue(line, "content-type")) response->content_type = std::string(*type);
  return size * n;
}

int CheckCancel(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  static_cast<void>(initialised);
}

Client::~Client() {
  for (CURL* c : idle_) curl_easy_cleanup(c);
}

Response Client::Send(const Request& request) {
  CURL* c = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      c = idle_.back();
      idle_.pop_back();
    }
  }
  Response response;
  if (c == nullptr) c = curl_easy_init();
  if (c == nullptr) {
    response.error = "curl_easy_init failed";
    return response;
  }
  curl_easy_reset(c);
  curl_slist* headers = nullptr;
  for (const std::string& h : options_.headers) headers = curl_slist_append(headers, h.c_str());
  for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  Collected collected{&request, &response, c};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    if (request.method != "POST")
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const auto timeout = request.timeout.count() > 0 ? request.timeout : options_.timeout;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  if (request.connect_timeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(request.connect_timeout.count()));
  }
  if (request.cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, CheckCancel);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, request.cancel);
  }
  if (request.accept_compressed) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &collected);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &collected);
  if (options_.basic_auth) ApplyBasicAuth(c, *options_.basic_auth);
  ApplyConnection(c, options_);
  ApplyTls(c, options_.tls);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK || response.stopped) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  } else {
    response.error = curl_easy_strerror(rc);
    response.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
  }
  curl_slist_free_all(headers);
  std::lock_guard lock(mu_);
  if (options_.max_idle_conns != 0 && idle_.size() >= options_.max_idle_conns) {
    curl_easy_cleanup(c);
  } else {
    idle_.push_back(c);
  }
  return response;
}

}  // namespace tributary::common::http
