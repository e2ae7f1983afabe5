// Structured log records. Each record carries the active span's trace and
// span ids, its severity and attributes.
#pragma once

#include <cstdint>
#include <string_view>

#include "tributary/sdk/common.h"

namespace tributary::sdk {
namespace detail {
struct Access;
class LoggerState;
}  // namespace detail

// OpenTelemetry severity numbers.
enum class Severity : uint8_t {
  kTrace = 1,
  kDebug = 5,
  kInfo = 9,
  kWarn = 13,
  kError = 17,
  kFatal = 21,
};

class TRIBUTARY_SDK_API Logger {
 public:
  Logger() = default;  // a no-op logger
  // False below the SDK's minimum severity: skip building the record.
  bool Enabled(Severity severity) const noexcept;
  void Emit(Severity severity, std::string_view body, AttributeList attributes = {}) noexcept;
  void Debug(std::string_view body, AttributeList attributes = {}) noexcept {
    Emit(Severity::kDebug, body, attributes);
  }
  void Info(std::string_view body, AttributeList attributes = {}) noexcept {
    Emit(Severity::kInfo, body, attributes);
  }
  void Warn(std::string_view body, AttributeList attributes = {}) noexcept {
    Emit(Severity::kWarn, body, attributes);
  }
  void Error(std::string_view body, AttributeList attributes = {}) noexcept {
    Emit(Severity::kError, body, attributes);
  }

 private:
  friend class Sdk;
  friend struct detail::Access;
  explicit Logger(detail::LoggerState* s) : state_(s) {}
  detail::LoggerState* state_ = nullptr;
};

}  // namespace tributary::sdk
