#include "common/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tributary::common::http {

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view line) {
  constexpr std::string_view kName = "retry-after:";
  if (line.size() <= kName.size()) return std::nullopt;
  for (size_t i = 0; i < kName.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) return std::nullopt;
  }
  std::string_view value = line.substr(kName.size());
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  int seconds = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t AppendLimitedBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<LimitedBody*>(user);
  if (body->text.size() < body->limit) {
    body->text.append(data, std::min(size * n, body->limit - body->text.size()));
  }
  return size * n;
}

size_t ReadRetryAfter(char* data, size_t size, size_t n, void* user) {
  if (auto wait = ParseRetryAfter(std::string_view(data, size * n))) {
    *static_cast<std::chrono::nanoseconds*>(user) = *wait;
  }
  return size * n;
}

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

}  // namespace tributary::common::http
