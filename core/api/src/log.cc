#include "tributary/core/log.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <string>

namespace tributary::core {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void Log(LogLevel level, std::string_view component, std::string_view message,
         std::string_view fields) {
  if (!LogEnabled(level)) return;
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm utc;
  gmtime_r(&tv.tv_sec, &utc);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line;
  line.reserve(128 + message.size() + fields.size());
  line.append(ts);
  char ms[8];
  snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(tv.tv_usec / 1000));
  line.append(ms).append(" ").append(LevelName(level));
  line.append(" component=").append(component).append(" msg=\"");
  for (char c : message) {
    if (c == '"' || c == '\\') line.push_back('\\');
    line.push_back(c == '\n' ? ' ' : c);
  }
  line.append("\"");
  if (!fields.empty()) line.append(" ").append(fields);
  line.push_back('\n');
  fwrite(line.data(), 1, line.size(), stderr);
}

bool LogLimiter::Allow(uint64_t* suppressed) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  int64_t next = next_ns_.load();
  if (ns >= next && next_ns_.compare_exchange_strong(next, ns + interval_ns_)) {
    *suppressed = held_.exchange(0);
    return true;
  }
  held_.fetch_add(1);
  return false;
}

}  // namespace tributary::core
