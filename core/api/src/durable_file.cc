#include "tributary/core/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace tributary::core {
namespace {

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path, ": ", strerror(errno)));
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MakeDirectories(const std::string& path) {
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      const std::string partial = path.substr(0, i);
      if (mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) {
        return absl::PermissionDeniedError(
            absl::StrCat("cannot create ", partial, ": ", strerror(errno)));
      }
    }
  }
  return absl::OkStatus();
}

void SyncDirectory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

absl::Status ReplaceFile(const std::string& path, std::string_view data, Durability durability) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("open", tmp);
  absl::Status s = WriteAll(fd, data, tmp);
  if (s.ok() && durability == Durability::kSynced && fsync(fd) != 0) s = Errno("fsync", tmp);
  close(fd);
  if (!s.ok()) return s;
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  if (durability == Durability::kSynced) {
    const size_t slash = path.rfind('/');
    SyncDirectory(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
  }
  return absl::OkStatus();
}

absl::Status ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return errno == ENOENT ? absl::NotFoundError(absl::StrCat(path, " does not exist"))
                           : Errno("open", path);
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return absl::OkStatus();
}

}  // namespace tributary::core
