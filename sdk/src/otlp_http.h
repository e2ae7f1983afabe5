// POSTs OTLP/HTTP protobuf bodies to one endpoint over a kept-alive libcurl
// handle. One instance per export thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "tributary/sdk/sdk.h"

struct curl_slist;

namespace tributary::sdk::detail {

enum class PostResult { kOk, kRetryable, kPermanent };

class OtlpHttpClient {
 public:
  OtlpHttpClient(std::string url, const KeyValues& headers, bool gzip);
  ~OtlpHttpClient();
  OtlpHttpClient(const OtlpHttpClient&) = delete;
  OtlpHttpClient& operator=(const OtlpHttpClient&) = delete;

  // error gets a description of a failure (never a header value);
  // retry_after the server's Retry-After, if it sent one.
  PostResult Post(const std::string& body, std::chrono::milliseconds timeout, std::string& error,
                  std::chrono::milliseconds& retry_after) noexcept;
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  bool gzip_;
  void* curl_ = nullptr;
  struct curl_slist* headers_ = nullptr;
  std::string compressed_;
  std::string response_;
  long retry_after_s_ = -1;
};

// Classifies an HTTP status the way the OTLP specification does.
PostResult ClassifyStatus(long status) noexcept;
// Parses "k1=v1,k2=v2" with percent-decoding (OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_RESOURCE_ATTRIBUTES). Malformed members are skipped and reported in bad.
KeyValues ParseKeyValueList(std::string_view s, std::string* bad = nullptr);

}  // namespace tributary::sdk::detail
