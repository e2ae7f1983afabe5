#ifndef TRIBUTARY_RECEIVERS_TAIL_RECORD_ASSEMBLER_H_
#define TRIBUTARY_RECEIVERS_TAIL_RECORD_ASSEMBLER_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "opentelemetry/proto/logs/v1/logs.pb.h"
#include "receivers/tail/log_format.h"

namespace re2 {
class RE2;
}

namespace tributary::receivers::tail {

using LogRecord = opentelemetry::proto::logs::v1::LogRecord;
using SteadyTime = std::chrono::steady_clock::time_point;

struct AssemblerOptions {
  Format format = Format::kRaw;
  const re2::RE2* line_start = nullptr;  // multiline joining when set
  std::chrono::milliseconds flush_timeout{1000};
  size_t max_record_bytes = 1 << 20;
  std::string message_key = "message";
  int stderr_severity = 0;  // OTLP severity number; 0 leaves stderr lines unset
};

// What one file's assembler has produced, for the receiver's self-metrics.
struct AssemblerCounts {
  uint64_t records = 0;
  uint64_t truncated = 0;
  uint64_t parse_errors = 0;
};

// Turns the lines of one file into log records: parses the runtime format,
// reassembles lines the runtime split (CRI `P`, Docker lines without their
// newline), joins multiline records, and cuts records at the size limit.
// Knows the file offset where each unfinished record began, so that a
// checkpoint never passes a record that was not handed on. Used by the
// receiver's reading thread only.
class RecordAssembler {
 public:
  // `add` returns the record to fill, in the batch being built.
  using AddRecord = std::function<LogRecord*()>;

  RecordAssembler(const AssemblerOptions* options, AddRecord add)
      : options_(options), add_(std::move(add)) {}

  // One line without its newline, occupying [start, end) in the file. `cut`:
  // the line was longer than the record limit and this is its beginning.
  void AddLine(std::string_view line, uint64_t start, uint64_t end, bool cut, SteadyTime now,
               int64_t observed_unix_nano);
  // Emits the multiline records that saw no new line for the flush timeout.
  void FlushIdle(SteadyTime now, int64_t observed_unix_nano);
  // Emits everything unfinished (the file is done).
  void FlushAll(int64_t observed_unix_nano);
  // Forgets everything unfinished (the file is read again from an offset).
  void Reset();
  // The offset a checkpoint may reach: `consumed`, or the start of the
  // oldest unfinished record.
  uint64_t SafeOffset(uint64_t consumed) const;
  bool HasUnfinished() const;

  const AssemblerCounts& counts() const { return counts_; }

 private:
  // A record being put together from several lines.
  struct Open {
    bool active = false;
    std::string text;
    int64_t time_unix_nano = 0;
    uint64_t start = 0;
    bool truncated = false;
    SteadyTime last_line;
  };

  // A logical line: the runtime's pieces joined, before multiline joining.
  void Logical(Stream stream, std::string_view text, int64_t time, uint64_t start, bool truncated,
               std::string_view parse_error, SteadyTime now, int64_t observed);
  // Fills `r`, or a new record when it is null.
  void Emit(Stream stream, std::string_view text, int64_t time, bool truncated,
            std::string_view parse_error, int64_t observed, LogRecord* r = nullptr);
  void EmitJson(std::string_view line, bool truncated, int64_t observed);
  void EmitOpen(Stream stream, Open& open, int64_t observed);
  // Appends within the record limit; false once the limit cut something.
  bool AppendLimited(std::string* dst, std::string_view src) const;

  const AssemblerOptions* options_;
  AddRecord add_;
  std::array<Open, 3> partial_;    // runtime-split lines, per stream
  std::array<Open, 3> multiline_;  // multiline records, per stream
  std::string scratch_;
  opentelemetry::proto::common::v1::KeyValueList json_fields_;
  AssemblerCounts counts_;
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_RECORD_ASSEMBLER_H_
