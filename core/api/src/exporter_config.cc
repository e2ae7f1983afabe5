#include "tributary/core/exporter_config.h"

#include "absl/strings/str_cat.h"

namespace tributary::core {

absl::Status RetryConfig::Validate() const {
  if (initial_interval.count() <= 0)
    return absl::InvalidArgumentError("initial_interval must be > 0");
  if (max_interval < initial_interval) {
    return absl::InvalidArgumentError("max_interval must be >= initial_interval");
  }
  if (multiplier < 1) return absl::InvalidArgumentError("multiplier must be >= 1");
  if (randomization_factor < 0 || randomization_factor >= 1) {
    return absl::InvalidArgumentError("randomization_factor must be in [0, 1)");
  }
  return absl::OkStatus();
}

absl::Status QueueConfig::Validate() const {
  if (queue_size < 1) return absl::InvalidArgumentError("queue_size must be >= 1");
  if (num_consumers < 1) return absl::InvalidArgumentError("num_consumers must be >= 1");
  if (!enabled) {
    return absl::InvalidArgumentError(
        "enabled: false is not supported: every exporter has its queue");
  }
  if (sizer != "requests") {
    return absl::InvalidArgumentError(absl::StrCat(
        "sizer: ", sizer, " is not supported: queue_size counts batches (`requests`)"));
  }
  if (block_on_overflow) {
    return absl::InvalidArgumentError(
        "block_on_overflow: true is not supported: a full queue answers senders with a "
        "retryable error");
  }
  if (!wait_for_result) {
    return absl::InvalidArgumentError(
        "wait_for_result: false is not supported: senders are answered once their data is "
        "exported or buffered");
  }
  return absl::OkStatus();
}

}  // namespace tributary::core
