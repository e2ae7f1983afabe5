#ifndef TRIBUTARY_CORE_LOG_H_
#define TRIBUTARY_CORE_LOG_H_

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

namespace tributary::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view text, LogLevel* out);
bool LogEnabled(LogLevel level);

// Writes one line to stderr: `ts level component=... msg="..." k=v ...`.
// `fields` is preformatted `key=value` text.
void Log(LogLevel level, std::string_view component, std::string_view message,
         std::string_view fields = {});

// Lets one line through per interval and counts the ones it held back.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval = std::chrono::seconds(10))
      : interval_ns_(std::chrono::nanoseconds(interval).count()) {}
  // Returns true when a line may be written; `*suppressed` is set to how many
  // were held back since the last one.
  bool Allow(uint64_t* suppressed);

 private:
  int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> held_{0};
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_LOG_H_
