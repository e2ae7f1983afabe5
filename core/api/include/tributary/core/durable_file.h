#ifndef TRIBUTARY_CORE_DURABLE_FILE_H_
#define TRIBUTARY_CORE_DURABLE_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

// Small files that must be whole after a crash: checkpoints and cursors.
namespace tributary::core {

// Creates `path` and its missing parents (mode 0750).
absl::Status MakeDirectories(const std::string& path);

// Flushes a directory's entries (a rename or a new file in it) to disk.
void SyncDirectory(const std::string& directory);

enum class Durability {
  // Written to `<path>.tmp` and renamed over `path`: a reader sees the old or
  // the new content, never a mix, while the machine stays up.
  kAtomic,
  // kAtomic, and the file and its directory are fsynced before returning, so
  // the new content also survives a power loss.
  kSynced,
};

// Replaces the content of `path` with `data`.
absl::Status ReplaceFile(const std::string& path, std::string_view data, Durability durability);

// The whole content of `path`; kNotFound when it does not exist.
absl::Status ReadWholeFile(const std::string& path, std::string* out);

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_DURABLE_FILE_H_
