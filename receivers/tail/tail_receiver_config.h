#ifndef TRIBUTARY_RECEIVERS_TAIL_TAIL_RECEIVER_CONFIG_H_
#define TRIBUTARY_RECEIVERS_TAIL_TAIL_RECEIVER_CONFIG_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "receivers/tail/log_format.h"
#include "tributary/core/config.h"

namespace tributary::receivers::tail {

struct MultilineConfig {
  std::string line_start_pattern;
  std::chrono::milliseconds flush_timeout{1000};
  template <class V>
  void VisitFields(V&& v) {
    v.Required("line_start_pattern", line_start_pattern,
               "regular expression (RE2) matching the first line of a record; other lines are "
               "appended to the record before them");
    v.Optional("flush_timeout", flush_timeout,
               "a record with no new line for this long is complete");
  }
  absl::Status Validate() const;
};

struct TailReceiverConfig {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string format = "raw";
  std::string start_at = "end";
  std::string checkpoint_dir;
  std::optional<MultilineConfig> multiline;
  core::ByteSize max_record_bytes{1 << 20};
  std::string message_key = "message";
  std::string stderr_severity;
  std::string discovery = "inotify";
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds rotate_wait{5000};
  std::chrono::milliseconds checkpoint_interval{250};
  core::ByteSize max_inflight_bytes{6 << 20};
  int64_t max_batch_records = 8192;
  int64_t max_open_files = 1024;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("include", include, "glob patterns of the files to read");
    v.Optional("exclude", exclude, "glob patterns of files to leave alone, matched on the path");
    v.Optional("format", format,
               "`cri` (containerd, CRI-O), `docker` (json-file), `json` (one object per line) "
               "or `raw`");
    v.Optional("start_at", start_at,
               "where to start in files found at the first scan with no checkpoint: "
               "`beginning` or `end` (files that appear later are always read from the start)");
    v.Optional("checkpoint_dir", checkpoint_dir,
               "directory of the offset store; empty keeps offsets in memory only");
    v.Optional("multiline", multiline, "join lines into records (stack traces, panics)");
    v.Optional("max_record_bytes", max_record_bytes,
               "longer records are cut to this size and marked `log.record.truncated`");
    v.Optional("message_key", message_key, "json format: the field that becomes the body");
    v.Optional("stderr_severity", stderr_severity,
               "cri and docker: severity of stderr lines without one of their own (e.g. `error`); "
               "empty leaves them unset");
    v.Optional("discovery", discovery,
               "`inotify` (changes are seen at once, with a scan every poll_interval as a safety "
               "net) or `poll`");
    v.Optional("poll_interval", poll_interval, "how often files and directories are scanned");
    v.Optional("rotate_wait", rotate_wait,
               "how long a rotated-away or deleted file stays open after its last byte is read");
    v.Optional("checkpoint_interval", checkpoint_interval,
               "how often acknowledged offsets are written to the store");
    v.Optional("max_inflight_bytes", max_inflight_bytes,
               "bytes read but not yet acknowledged downstream; beyond it reading pauses");
    v.Optional("max_batch_records", max_batch_records, "records per batch handed downstream");
    v.Optional("max_open_files", max_open_files,
               "files held open at once; further matches wait until one is closed");
  }
  absl::Status Validate() const;
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_TAIL_RECEIVER_CONFIG_H_
