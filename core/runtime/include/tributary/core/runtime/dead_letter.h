#ifndef TRIBUTARY_CORE_RUNTIME_DEAD_LETTER_H_
#define TRIBUTARY_CORE_RUNTIME_DEAD_LETTER_H_

#include <cstdio>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "tributary/core/batch.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace tributary::core::runtime {

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

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_DEAD_LETTER_H_
