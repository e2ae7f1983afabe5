#include "receivers/tail/tail_receiver_config.h"

#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "receivers/tail/log_format.h"

namespace tributary::receivers::tail {

absl::Status MultilineConfig::Validate() const {
  re2::RE2 re(line_start_pattern, re2::RE2::Quiet);
  if (!re.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line_start_pattern does not compile: ", re.error()));
  }
  if (flush_timeout.count() <= 0) return absl::InvalidArgumentError("flush_timeout must be > 0");
  return absl::OkStatus();
}

absl::Status TailReceiverConfig::Validate() const {
  if (include.empty()) return absl::InvalidArgumentError("include needs at least one pattern");
  if (!ParseFormat(format)) {
    return absl::InvalidArgumentError("format must be one of cri, docker, json, raw");
  }
  if (start_at != "beginning" && start_at != "end") {
    return absl::InvalidArgumentError("start_at must be beginning or end");
  }
  if (discovery != "inotify" && discovery != "poll") {
    return absl::InvalidArgumentError("discovery must be inotify or poll");
  }
  if (!stderr_severity.empty() && SeverityFromText(stderr_severity) == 0) {
    return absl::InvalidArgumentError("stderr_severity must name a severity (e.g. warn, error)");
  }
  if (max_record_bytes.bytes < 64) return absl::InvalidArgumentError("max_record_bytes >= 64");
  if (max_batch_records < 1) return absl::InvalidArgumentError("max_batch_records must be >= 1");
  if (max_open_files < 1) return absl::InvalidArgumentError("max_open_files must be >= 1");
  if (max_inflight_bytes.bytes == 0) return absl::InvalidArgumentError("max_inflight_bytes > 0");
  if (poll_interval.count() <= 0 || checkpoint_interval.count() <= 0 || rotate_wait.count() < 0) {
    return absl::InvalidArgumentError("poll_interval and checkpoint_interval must be > 0");
  }
  return absl::OkStatus();
}

}  // namespace tributary::receivers::tail
