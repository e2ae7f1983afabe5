#ifndef TRIBUTARY_CORE_DEAD_LETTER_H_
#define TRIBUTARY_CORE_DEAD_LETTER_H_

#include <cstdio>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "tributary/core/batch.h"
#include "tributary/core/config.h"

namespace tributary::core {

// An exporter's `dead_letter` block: where records its destination refuses
// for good are kept, with the error, for an operator to inspect or replay.
struct DeadLetterConfig {
  std::string path;
  ByteSize max_size{100ull << 20};
  template <class V>
  void VisitFields(V&& v) {
    v.Required("path", path,
               "file that receives one JSON line per refused batch: time, exporter, signal, "
               "record count, error and the OTLP/JSON data");
    v.Optional("max_size", max_size,
               "size at which the file is moved to `<path>.1` (replacing the previous one)");
  }
  absl::Status Validate() const {
    if (path.empty()) return absl::InvalidArgumentError("path must not be empty");
    return absl::OkStatus();
  }
};

// Appends refused batches to the dead-letter file. Thread-safe.
class DeadLetterFile {
 public:
  explicit DeadLetterFile(DeadLetterConfig config) : config_(std::move(config)) {}
  ~DeadLetterFile();
  DeadLetterFile(const DeadLetterFile&) = delete;
  DeadLetterFile& operator=(const DeadLetterFile&) = delete;

  absl::Status Write(const std::string& exporter, const Batch& batch,
                     const absl::Status& error) noexcept;

 private:
  absl::Status OpenLocked();

  const DeadLetterConfig config_;
  std::mutex mu_;
  FILE* file_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_DEAD_LETTER_H_
