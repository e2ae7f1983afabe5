#include "tributary/core/runtime/buffer.h"

namespace tributary::core::runtime {

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(std::string_view text) {
  if (text == "always") return FsyncPolicy::kAlways;
  if (text == "interval") return FsyncPolicy::kInterval;
  if (text == "never") return FsyncPolicy::kNever;
  return absl::InvalidArgumentError("fsync must be always, interval or never");
}

absl::StatusOr<WhenFull> ParseWhenFull(std::string_view text) {
  if (text == "block") return WhenFull::kBlock;
  if (text == "drop_oldest") return WhenFull::kDropOldest;
  if (text == "drop_newest") return WhenFull::kDropNewest;
  return absl::InvalidArgumentError("when_full must be block, drop_oldest or drop_newest");
}

absl::Status BufferConfig::Validate() const {
  if (auto s = ParseFsyncPolicy(fsync); !s.ok()) return s.status();
  if (auto s = ParseWhenFull(when_full); !s.ok()) return s.status();
  if (segment_size.bytes < (64u << 10)) {
    return absl::InvalidArgumentError("segment_size must be at least 64KiB");
  }
  if (max_size.bytes < 4 * segment_size.bytes) {
    return absl::InvalidArgumentError("max_size must be at least 4 segment_size");
  }
  if (fsync_interval.count() <= 0) {
    return absl::InvalidArgumentError("fsync_interval must be > 0");
  }
  if (replay_rate < 0) return absl::InvalidArgumentError("replay_rate must be >= 0");
  return absl::OkStatus();
}

BufferOptions BufferOptions::From(const BufferConfig& config, const std::string& pipeline,
                                  Signal signal) {
  BufferOptions o;
  std::string folder = pipeline;
  std::replace(folder.begin(), folder.end(), '/', '_');
  o.directory = config.directory + "/" + folder;
  o.name = pipeline;
  o.signal = signal;
  o.max_bytes = config.max_size.bytes;
  o.segment_bytes = config.segment_size.bytes;
  o.fsync = ParseFsyncPolicy(config.fsync).value_or(FsyncPolicy::kInterval);
  o.fsync_interval = config.fsync_interval;
  o.when_full = ParseWhenFull(config.when_full).value_or(WhenFull::kBlock);
  o.replay_rate = static_cast<double>(config.replay_rate);
  return o;
}

}  // namespace tributary::core::runtime
