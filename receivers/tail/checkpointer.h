#ifndef TRIBUTARY_RECEIVERS_TAIL_CHECKPOINTER_H_
#define TRIBUTARY_RECEIVERS_TAIL_CHECKPOINTER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "receivers/tail/checkpoint_store.h"

namespace tributary::receivers::tail {

// The checkpoints of one receiver across a restart: those loaded at start
// wait to be claimed by the file they describe, and each save writes the
// files' offsets with those still unclaimed, unless nothing changed since
// the last save. Without a store nothing is loaded or saved. Used by the
// receiver's reading thread.
class Checkpointer {
 public:
  // `store` may be null.
  explicit Checkpointer(std::unique_ptr<CheckpointStore> store) : store_(std::move(store)) {}

  absl::Status Load();
  // The loaded checkpoint of the file (device, inode), no longer unclaimed.
  std::optional<Checkpoint> Claim(uint64_t device, uint64_t inode);
  // A file rotated away while the process was down, found in the directory
  // its checkpoint last saw it in.
  struct Moved {
    std::string path;
    Checkpoint checkpoint;
  };
  // Every unclaimed checkpoint whose file is found under another name; the
  // rest are forgotten (their files are gone).
  std::vector<Moved> ClaimMoved();
  // Everything loaded, until FirstScanDone(): a file opened in the first
  // scan may be the copy of one of them.
  const std::vector<Checkpoint>& loaded() const { return loaded_; }
  void FirstScanDone() { loaded_.clear(); }

  // Saves the unclaimed checkpoints and `files`, unless `force` is false
  // and they are what was saved last.
  absl::Status Save(std::vector<Checkpoint> files, bool force);
  // Saves written, for tests.
  int saves() const { return saves_; }

 private:
  std::unique_ptr<CheckpointStore> store_;
  std::vector<Checkpoint> unclaimed_;
  std::vector<Checkpoint> loaded_;
  std::vector<Checkpoint> last_saved_;
  int saves_ = 0;
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_CHECKPOINTER_H_
