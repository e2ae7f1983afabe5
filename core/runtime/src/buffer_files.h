#ifndef TRIBUTARY_CORE_RUNTIME_SRC_BUFFER_FILES_H_
#define TRIBUTARY_CORE_RUNTIME_SRC_BUFFER_FILES_H_

#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "tributary/core/runtime/buffer.h"

// The files of a write-ahead buffer's directory, shared by its writing and
// its recovery.
namespace tributary::core::runtime {

// An open segment file, closed when the last reader lets go of it.
struct WriteAheadBuffer::FileHandle {
  int fd = -1;
  explicit FileHandle(int f) : fd(f) {}
  ~FileHandle() {
    if (fd >= 0) close(fd);
  }
};

// Segments are named by their first sequence number, zero-padded so that
// names sort as numbers do.
inline std::string SegmentName(uint64_t first_seq) {
  return absl::StrFormat("%020u.seg", first_seq);
}

inline std::string CursorFileName(const std::string& name) {
  std::string out = "cursor-";
  for (char c : name) out += (isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out;
}

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_SRC_BUFFER_FILES_H_
