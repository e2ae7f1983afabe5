#include "receivers/tail/path_watcher.h"

#include <fnmatch.h>
#include <glob.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "receivers/tail/file_identity.h"

namespace tributary::receivers::tail {

namespace {

void Glob(const std::string& pattern, int flags, std::set<std::string>* out) {
  glob_t g{};
  if (glob(pattern.c_str(), GLOB_NOSORT | GLOB_BRACE | flags, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) out->insert(g.gl_pathv[i]);
  }
  globfree(&g);
}

// The directories one pattern reaches.
void PatternDirectories(const std::string& pattern, std::set<std::string>* dirs) {
  std::vector<std::string> parts = absl::StrSplit(pattern, '/');
  // The deepest directory without wildcards, or its nearest existing parent.
  std::string fixed = pattern.starts_with('/') ? "" : ".";
  size_t i = pattern.starts_with('/') ? 1 : 0;
  for (; i + 1 < parts.size(); ++i) {
    if (parts[i].find_first_of("*?[{") != std::string::npos) break;
    fixed += "/" + parts[i];
  }
  if (fixed.empty()) fixed = "/";
  std::string existing = fixed;
  struct stat st;
  while (stat(existing.c_str(), &st) != 0 && existing != "/" && existing != ".") {
    existing = std::string(DirName(existing));
  }
  dirs->insert(existing);
  // Every directory the wildcard levels reach.
  std::string prefix = fixed;
  for (; i + 1 < parts.size(); ++i) {
    prefix += "/" + parts[i];
    std::set<std::string> matched;
    Glob(prefix, GLOB_ONLYDIR, &matched);
    for (const std::string& dir : matched) {
      if (stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) dirs->insert(dir);
    }
  }
}

}  // namespace

PathWatcher::PathWatcher(std::vector<std::string> include, std::vector<std::string> exclude)
    : include_(std::move(include)), exclude_(std::move(exclude)) {}

PathWatcher::~PathWatcher() {
  if (fd_ >= 0) close(fd_);
}

absl::Status PathWatcher::StartInotify() {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return absl::UnavailableError(absl::StrCat("inotify: ", strerror(errno)));
  return absl::OkStatus();
}

std::set<std::string> PathWatcher::Paths() const {
  std::set<std::string> paths;
  for (const std::string& pattern : include_) Glob(pattern, 0, &paths);
  for (auto it = paths.begin(); it != paths.end();) {
    bool excluded = false;
    for (const std::string& pattern : exclude_) {
      excluded |= fnmatch(pattern.c_str(), it->c_str(), 0) == 0;
    }
    it = excluded ? paths.erase(it) : std::next(it);
  }
  return paths;
}

bool PathWatcher::WatchDirectories() {
  if (fd_ < 0) return false;
  std::set<std::string> dirs;
  for (const std::string& pattern : include_) PatternDirectories(pattern, &dirs);
  std::set<std::string> watched;
  for (const auto& [wd, dir] : watches_) watched.insert(dir);
  bool added = false;
  for (const std::string& dir : dirs) {
    if (watched.count(dir)) continue;
    const int wd = inotify_add_watch(fd_, dir.c_str(),
                                     IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                         IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    if (wd >= 0) {
      watches_[wd] = dir;
      added = true;
    }
  }
  return added;
}

bool PathWatcher::ReadEvents() {
  if (fd_ < 0) return false;
  bool changed = false;
  alignas(inotify_event) char buf[64 << 10];
  while (true) {
    const ssize_t len = read(fd_, buf, sizeof buf);
    if (len <= 0) break;
    for (ssize_t i = 0; i < len;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + i);
      if (e->mask & IN_IGNORED) watches_.erase(e->wd);
      if (e->mask & ~(IN_MODIFY | IN_ISDIR)) changed = true;
      i += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  return changed;
}

}  // namespace tributary::receivers::tail
