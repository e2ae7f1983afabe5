#ifndef TRIBUTARY_EXPORTERS_FILE_FILE_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_FILE_FILE_EXPORTER_H_

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
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("max_megabytes", max_megabytes,
               "size at which the file is rotated; 0 never rotates");
    v.Optional("max_backups", max_backups, "rotated files kept; 0 keeps all");
  }
};

struct FileExporterConfig {
  std::string path;
  RotationConfig rotation;
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("path", path, "file to append to");
    v.Optional("rotation", rotation, "size-based rotation");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure, "retry of failed writes");
    v.Optional("dead_letter", dead_letter,
               "where records the destination refuses for good are kept");
  }
  absl::Status Validate() const {
    if (path.empty()) return absl::InvalidArgumentError("path must not be empty");
    if (rotation.max_megabytes < 0 || rotation.max_backups < 0) {
      return absl::InvalidArgumentError("rotation limits must be >= 0");
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
  absl::Status Open();
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
