#ifndef TRIBUTARY_RECEIVERS_TAIL_LOG_FORMAT_H_
#define TRIBUTARY_RECEIVERS_TAIL_LOG_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "opentelemetry/proto/common/v1/common.pb.h"

// Parsers for the lines of log files. Every input is untrusted: each function
// either parses or says no, never reads past its input, and bounds recursion.
namespace tributary::receivers::tail {

enum class Format { kRaw, kCri, kDocker, kJson };
std::optional<Format> ParseFormat(std::string_view name);

enum class Stream : uint8_t { kNone, kStdout, kStderr };
std::string_view StreamName(Stream stream);

// One line of a container runtime's log file, split into its parts.
struct RuntimeLine {
  int64_t time_unix_nano = 0;
  Stream stream = Stream::kNone;
  // The runtime split a long line; the next line of the same stream continues it.
  bool partial = false;
  std::string_view message;  // into the line, or into the caller's scratch
};

// containerd / CRI-O: `<RFC 3339 time> <stdout|stderr> <P|F>[:tags] <message>`.
bool ParseCriLine(std::string_view line, RuntimeLine* out);

// Docker json-file: `{"log":"...\n","stream":"stdout","time":"..."}`. A log
// without its trailing newline is a partial line. The unescaped message is
// written to `scratch`.
bool ParseDockerLine(std::string_view line, RuntimeLine* out, std::string* scratch);

// RFC 3339 with an optional fraction (up to nanoseconds) and `Z` or `±hh:mm`.
bool ParseRfc3339(std::string_view text, int64_t* unix_nano);

// One JSON object as OTLP key-values: strings, integers, doubles, booleans,
// nested objects (kvlist) and arrays; null becomes an empty value. Nesting
// deeper than 64 levels is an error.
absl::Status ParseJsonObject(std::string_view text,
                             opentelemetry::proto::common::v1::KeyValueList* out);

// `error`, `WARN`, `Information`... as an OTLP severity number; 0 when unknown.
int SeverityFromText(std::string_view text);
// The numeric levels of pino and bunyan (10 trace ... 60 fatal); 0 otherwise.
int SeverityFromNumber(int64_t level);

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_LOG_FORMAT_H_
