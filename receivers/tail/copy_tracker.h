#ifndef TRIBUTARY_RECEIVERS_TAIL_COPY_TRACKER_H_
#define TRIBUTARY_RECEIVERS_TAIL_COPY_TRACKER_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "receivers/tail/record_assembler.h"

namespace tributary::receivers::tail {

// Recognises the copy that copytruncate rotation makes of a log file before
// truncating it: in the same directory, a name extending the original's,
// the same first bytes. Reading the copy from where the original stood
// takes what the truncation cut off, once. Used by the reading thread.
class CopyTracker {
 public:
  // What is known of a file a copy may be made of.
  struct Origin {
    std::string path;
    uint32_t fingerprint_size;
    uint32_t fingerprint;
    uint64_t offset;                // where reading the original stood
    std::optional<uint64_t> order;  // the original's reading order, when known
  };
  // How long a truncated file is remembered, and a short copy waited for.
  static constexpr auto kTruncationMemory = std::chrono::minutes(5);
  static constexpr auto kCopyWait = std::chrono::seconds(5);

  // A file truncated under the reader: a copy of it may still appear.
  void Truncated(Origin origin, SteadyTime now);
  // Forgets truncations older than kTruncationMemory.
  void Expire(SteadyTime now);

  // The original that the new file at `path` (open as fd, `size` bytes) is
  // a copy of, among `known` (files read and checkpoints loaded) and the
  // truncated files remembered.
  std::optional<Origin> CopyOf(int fd, const std::string& path, uint64_t size,
                               const std::vector<Origin>& known) const;
  // The new file at `path` is named like a copy but still shorter than what
  // would tell: it is looked at again shortly, for at most kCopyWait.
  bool InProgress(const std::string& path, uint64_t size, const std::vector<Origin>& known,
                  SteadyTime now);
  // Some file waits to be told apart.
  bool waiting() const { return !deferred_.empty(); }

 private:
  struct Truncation {
    Origin origin;
    SteadyTime at;
  };
  std::deque<Truncation> truncations_;
  std::map<std::string, SteadyTime> deferred_;  // since when each file waits
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_COPY_TRACKER_H_
