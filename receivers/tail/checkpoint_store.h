#ifndef TRIBUTARY_RECEIVERS_TAIL_CHECKPOINT_STORE_H_
#define TRIBUTARY_RECEIVERS_TAIL_CHECKPOINT_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tributary::receivers::tail {

// Where reading of one file stands: every byte before `offset` has been
// acknowledged downstream.
struct Checkpoint {
  uint64_t device = 0;
  uint64_t inode = 0;
  // CRC32C of the first `fingerprint_size` bytes, so that a new file that
  // reuses a deleted file's inode is not mistaken for it.
  uint32_t fingerprint_size = 0;
  uint32_t fingerprint = 0;
  uint64_t offset = 0;
  std::string path;  // where the file was last seen

  bool operator==(const Checkpoint&) const = default;
};

// The offsets of one tail receiver in one small file, replaced whole on each
// save (written to a temporary file, fsynced, renamed over the old one, and
// the directory fsynced), so a crash leaves either the old or the new set.
// A checksum line guards against a store damaged some other way.
class CheckpointStore {
 public:
  // `directory` is created if missing; `name` is the receiver's id.
  CheckpointStore(std::string directory, const std::string& name);

  // No store yet is an empty list; a damaged one is an error.
  absl::StatusOr<std::vector<Checkpoint>> Load() const;
  absl::Status Save(const std::vector<Checkpoint>& checkpoints) const;

  const std::string& path() const { return path_; }

 private:
  std::string directory_;
  std::string path_;
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_CHECKPOINT_STORE_H_
