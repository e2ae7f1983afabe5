#include "otlp_http.h"

#include <curl/curl.h>
#include <zlib.h>

#include <cctype>
#include <cstdlib>
#include <mutex>

namespace tributary::sdk::detail {
namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<std::string*>(user);
  if (s->size() < 64 * 1024) s->append(data, std::min(size * n, 64 * 1024 - s->size()));
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    if (match) {
      std::string v(line.substr(kName.size()));
      char* end = nullptr;
      long secs = std::strtol(v.c_str(), &end, 10);
      if (end != v.c_str() && secs >= 0) *static_cast<long*>(user) = std::min<long>(secs, 300);
    }
  }
  return size * n;
}

bool Gzip(const std::string& in, std::string& out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return false;
  out.resize(deflateBound(&z, in.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Trims spaces and percent-decodes.
std::string Decode(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < s.size() && (hi = HexDigit(s[i + 1])) >= 0 &&
        (lo = HexDigit(s[i + 2])) >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

PostResult ClassifyStatus(long status) noexcept {
  if (status >= 200 && status < 300) return PostResult::kOk;
  if (status == 429 || status == 502 || status == 503 || status == 504)
    return PostResult::kRetryable;
  return PostResult::kPermanent;
}

KeyValues ParseKeyValueList(std::string_view s, std::string* bad) {
  KeyValues out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view member = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    size_t eq = member.find('=');
    std::string key = eq == std::string_view::npos ? std::string() : Decode(member.substr(0, eq));
    if (key.empty()) {
      bool blank = true;
      for (char c : member) blank = blank && std::isspace(static_cast<unsigned char>(c));
      if (!blank && bad != nullptr) {
        if (!bad->empty()) bad->append(", ");
        bad->append(member);
      }
      continue;
    }
    out.emplace_back(std::move(key), Decode(member.substr(eq + 1)));
  }
  return out;
}

OtlpHttpClient::OtlpHttpClient(std::string url, const KeyValues& headers, bool gzip)
    : url_(std::move(url)), gzip_(gzip) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  headers_ = curl_slist_append(headers_, "Content-Type: application/x-protobuf");
  headers_ = curl_slist_append(headers_, "Expect:");
  if (gzip_) headers_ = curl_slist_append(headers_, "Content-Encoding: gzip");
  for (const auto& [k, v] : headers) headers_ = curl_slist_append(headers_, (k + ": " + v).c_str());
  if (curl_ != nullptr) {
    CURL* c = static_cast<CURL*>(curl_);
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &response_);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &retry_after_s_);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tributary-sdk-cpp/0.1.0");
  }
}

OtlpHttpClient::~OtlpHttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
  curl_slist_free_all(headers_);
}

PostResult OtlpHttpClient::Post(const std::string& body, std::chrono::milliseconds timeout,
                                std::string& error,
                                std::chrono::milliseconds& retry_after) noexcept {
  retry_after = std::chrono::milliseconds(-1);
  if (curl_ == nullptr) {
    error = "libcurl could not be initialised";
    return PostResult::kRetryable;
  }
  try {
    CURL* c = static_cast<CURL*>(curl_);
    const std::string* payload = &body;
    if (gzip_) {
      if (!Gzip(body, compressed_)) {
        error = "gzip failed";
        return PostResult::kPermanent;
      }
      payload = &compressed_;
    }
    response_.clear();
    retry_after_s_ = -1;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
    long ms = std::max<long>(1, static_cast<long>(timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      error = curl_easy_strerror(rc);
      return PostResult::kRetryable;
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    PostResult r = ClassifyStatus(status);
    if (r != PostResult::kOk) {
      error = "HTTP " + std::to_string(status);
      if (retry_after_s_ >= 0) retry_after = std::chrono::seconds(retry_after_s_);
    }
    return r;
  } catch (...) {
    error = "out of memory";
    return PostResult::kRetryable;
  }
}

}  // namespace tributary::sdk::detail
