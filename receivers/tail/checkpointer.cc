#include "receivers/tail/checkpointer.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "receivers/tail/file_identity.h"

namespace tributary::receivers::tail {

absl::Status Checkpointer::Load() {
  if (!store_) return absl::OkStatus();
  auto loaded = store_->Load();
  if (!loaded.ok()) {
    // Refuse to start rather than re-read or skip data without saying so.
    return absl::Status(
        loaded.status().code(),
        absl::StrCat(loaded.status().message(), "; move it away to start from start_at again"));
  }
  unclaimed_ = std::move(*loaded);
  loaded_ = unclaimed_;
  last_saved_ = unclaimed_;
  return absl::OkStatus();
}

std::optional<Checkpoint> Checkpointer::Claim(uint64_t device, uint64_t inode) {
  for (auto c = unclaimed_.begin(); c != unclaimed_.end(); ++c) {
    if (c->device == device && c->inode == inode) {
      Checkpoint claimed = std::move(*c);
      unclaimed_.erase(c);
      return claimed;
    }
  }
  return std::nullopt;
}

std::vector<Checkpointer::Moved> Checkpointer::ClaimMoved() {
  std::vector<Moved> moved;
  for (const Checkpoint& c : unclaimed_) {
    const std::string dir(DirName(c.path));
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_ino != c.inode) continue;
      std::string path = absl::StrCat(dir, "/", e->d_name);
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || st.st_dev != c.device || !S_ISREG(st.st_mode)) {
        continue;
      }
      moved.push_back(Moved{std::move(path), c});
      break;
    }
    closedir(d);
  }
  unclaimed_.clear();
  return moved;
}

absl::Status Checkpointer::Save(std::vector<Checkpoint> files, bool force) {
  if (!store_) return absl::OkStatus();
  files.insert(files.begin(), unclaimed_.begin(), unclaimed_.end());
  std::sort(files.begin(), files.end(), [](const Checkpoint& a, const Checkpoint& b) {
    return std::tie(a.device, a.inode) < std::tie(b.device, b.inode);
  });
  if (!force && files == last_saved_) return absl::OkStatus();
  if (absl::Status s = store_->Save(files); !s.ok()) return s;
  ++saves_;
  last_saved_ = std::move(files);
  return absl::OkStatus();
}

}  // namespace tributary::receivers::tail
