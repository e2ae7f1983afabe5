// W3C trace-context propagation (traceparent, tracestate) over any header map.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <type_traits>

#include "tributary/sdk/common.h"
#include "tributary/sdk/trace.h"

namespace tributary::sdk {

// Reads and writes header values; keys are lower-case header names.
class TRIBUTARY_SDK_API TextMapCarrier {
 public:
  // Empty if absent.
  virtual std::string_view Get(std::string_view key) const noexcept = 0;
  virtual void Set(std::string_view key, std::string_view value) noexcept = 0;

 protected:
  ~TextMapCarrier() = default;
};

// Writes traceparent (and tracestate if any). Nothing if the context is invalid.
TRIBUTARY_SDK_API void InjectTraceContext(const SpanContext& context,
                                          TextMapCarrier& carrier) noexcept;
// Returns a remote context, or an invalid one if traceparent is absent or
// malformed. A malformed tracestate is dropped; the traceparent is kept.
TRIBUTARY_SDK_API SpanContext ExtractTraceContext(const TextMapCarrier& carrier) noexcept;

// Parses a traceparent value (and an optional tracestate) directly.
TRIBUTARY_SDK_API bool ParseTraceParent(std::string_view traceparent, SpanContext& out) noexcept;
TRIBUTARY_SDK_API bool IsValidTraceState(std::string_view tracestate) noexcept;

// A carrier over a std::map<std::string, std::string> with lower-case keys.
class TRIBUTARY_SDK_API MapCarrier final : public TextMapCarrier {
 public:
  explicit MapCarrier(std::map<std::string, std::string>& map) : map_(map) {}
  std::string_view Get(std::string_view key) const noexcept override;
  void Set(std::string_view key, std::string_view value) noexcept override;

 private:
  std::map<std::string, std::string>& map_;
};

// A carrier over a multimap of headers with a case-insensitive comparator,
// such as httplib::Headers (cpp-httplib) — without including it here:
//   tributary::sdk::HeadersCarrier carrier(request.headers);
template <class Headers>
class HeadersCarrier final : public TextMapCarrier {
 public:
  explicit HeadersCarrier(Headers& headers) : headers_(headers) {}
  std::string_view Get(std::string_view key) const noexcept override {
    auto it = headers_.find(typename Headers::key_type(key));
    return it == headers_.end() ? std::string_view() : std::string_view(it->second);
  }
  // A const header map (a request being served) is read only: Set does nothing.
  void Set(std::string_view key, std::string_view value) noexcept override {
    if constexpr (!std::is_const_v<Headers>) {
      try {
        typename Headers::key_type k(key);
        headers_.erase(k);
        headers_.emplace(std::move(k), typename Headers::mapped_type(value));
      } catch (...) {
      }
    } else {
      (void)key;
      (void)value;
    }
  }

 private:
  Headers& headers_;
};

}  // namespace tributary::sdk
