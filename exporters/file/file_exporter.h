#ifndef TRIBUTARY_EXPORTERS_FILE_FILE_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_FILE_FILE_EXPORTER_H_

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace tributary::exporters::file {

struct RotationConfig {
  int64_t max_megabytes = 100;
  int64_t max_backups = 100;
  int64_t max_days = 0;
  bool localtime = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("max_megabytes", max_megabytes,
               "size at which the file is rotated; 0 never rotates");
    v.Optional("max_backups", max_backups, "rotated files kept; 0 keeps all");
    v.Optional("max_days", max_days,
               "rotated files older than this many days are removed at the next rotation; 0 "
               "keeps them");
    v.Optional("localtime", localtime,
               "rotated files are named with the local time instead of UTC");
  }
};

struct FileCompressionParams {
  int64_t level = 0;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("level", level, "zstd level 1 to 22; 0 is 3");
  }
};

struct FileExporterConfig {
  std::string path;
  RotationConfig rotation;
  std::string format = "json";
  std::string compression;
  FileCompressionParams compression_params;
  bool append = true;
  std::chrono::milliseconds flush_interval{1000};
  bool create_directory = false;
  std::string directory_permissions = "0755";
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("path", path, "file to append to");
    v.Optional("rotation", rotation, "size-based rotation");
    v.Optional("format", format,
               "`json`: one OTLP/JSON export request per line; `proto`: each request's protobuf "
               "bytes after their length (4 bytes, big-endian), as the Collector writes them");
    v.Optional("compression", compression,
               "`zstd`: each request is one zstd frame, written after its length (4 bytes, "
               "big-endian) in either format; empty: none");
    v.Optional("compression_params", compression_params, "compression level");
    v.Optional("append", append,
               "keep what the file holds at start (false empties it first); the Collector's "
               "default is false, here it is true so that a restart loses nothing");
    v.Optional("flush_interval", flush_interval,
               "how long data may wait before it reaches the file: each batch is written at "
               "once, so any value holds");
    v.Optional("create_directory", create_directory, "create the file's directory if missing");
    v.Optional("directory_permissions", directory_permissions,
               "octal mode of a directory create_directory makes");
    v.Unsupported("encoding", "encoding extensions do not exist here; `format` is json or proto");
    v.Unsupported("group_by", "every record goes to `path`");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure, "retry of failed writes");
    v.Optional("dead_letter", dead_letter,
               "where records the destination refuses for good are kept");
  }
  absl::Status Validate() const {
    if (path.empty()) return absl::InvalidArgumentError("path must not be empty");
    if (rotation.max_megabytes < 0 || rotation.max_backups < 0 || rotation.max_days < 0) {
      return absl::InvalidArgumentError("rotation limits must be >= 0");
    }
    if (format != "json" && format != "proto") {
      return absl::InvalidArgumentError("format must be json or proto");
    }
    if (!compression.empty() && compression != "zstd") {
      return absl::InvalidArgumentError("compression must be zstd or empty");
    }
    if (compression_params.level < 0 || compression_params.level > 22) {
      return absl::InvalidArgumentError("compression_params.level must be 0 to 22");
    }
    if (directory_permissions.empty() ||
        directory_permissions.find_first_not_of("01234567") != std::string::npos ||
        directory_permissions.size() > 4) {
      return absl::InvalidArgumentError("directory_permissions must be an octal mode like 0755");
    }
    return absl::OkStatus();
  }
};

// Appends one OTLP/JSON export request per line, as the OpenTelemetry
// Collector's file exporter writes them. A batch is acknowledged once its
// line is written to the file (the page cache), in one write(2).
class FileExporter : public core::Exporter {
 public:
  explicit FileExporter(FileExporterConfig config);
  ~FileExporter() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;
  bool ReadsWireForm() const override { return true; }

 private:
  absl::Status Open(bool truncate = false);
  absl::Status Rotate();
  // Appends one whole line, rotating first if it would pass the size limit.
  absl::Status Write(const std::string& line);

  const FileExporterConfig config_;
  std::mutex mu_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace tributary::exporters::file

#endif  // TRIBUTARY_EXPORTERS_FILE_FILE_EXPORTER_H_
