#ifndef TRIBUTARY_RECEIVERS_TAIL_PATH_WATCHER_H_
#define TRIBUTARY_RECEIVERS_TAIL_PATH_WATCHER_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tributary::receivers::tail {

// Finds the files the include patterns match and the exclude patterns do
// not, and, with inotify, watches every directory the patterns reach so that
// a file appearing, moving or going away is noticed without waiting for the
// next scan. Used by one thread.
class PathWatcher {
 public:
  PathWatcher(std::vector<std::string> include, std::vector<std::string> exclude);
  ~PathWatcher();
  PathWatcher(const PathWatcher&) = delete;
  PathWatcher& operator=(const PathWatcher&) = delete;

  // Sets up inotify; on error the watcher only scans.
  absl::Status StartInotify();
  bool inotify() const { return fd_ >= 0; }
  // The inotify descriptor to poll for readability (-1 without inotify).
  int fd() const { return fd_; }

  // Every path the patterns match now (regular files or not).
  std::set<std::string> Paths() const;
  // Watches the directories the patterns reach that are not yet watched:
  // below a wildcard, every directory it matches; above the first wildcard,
  // the deepest one that exists. True if a watch was added: what appeared
  // in its directory before then is found only by another scan.
  bool WatchDirectories();
  // Reads the pending events; true if one may change what Paths() finds
  // (anything but a file growing).
  bool ReadEvents();
  size_t watched() const { return watches_.size(); }

 private:
  const std::vector<std::string> include_;
  const std::vector<std::string> exclude_;
  int fd_ = -1;
  std::map<int, std::string> watches_;  // by watch descriptor
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_PATH_WATCHER_H_
