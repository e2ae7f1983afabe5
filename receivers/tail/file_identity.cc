#include "receivers/tail/file_identity.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "tributary/core/crc32c.h"

namespace tributary::receivers::tail {

std::optional<uint32_t> Fingerprint(int fd, uint32_t size) {
  char buf[kFingerprintSize];
  size = std::min(size, kFingerprintSize);
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, buf + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    got += static_cast<size_t>(n);
  }
  return core::Crc32c(buf, size);
}

std::string_view DirName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
}

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool CopyName(std::string_view original, std::string_view path) {
  return DirName(original) == DirName(path) && BaseName(path) != BaseName(original) &&
         BaseName(path).starts_with(BaseName(original));
}

}  // namespace tributary::receivers::tail
