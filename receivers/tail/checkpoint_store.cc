#include "receivers/tail/checkpoint_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tributary/core/crc32c.h"
#include "tributary/core/durable_file.h"

namespace tributary::receivers::tail {
namespace {

constexpr std::string_view kHeader = "tributary-tail-checkpoints 1";

// Paths are stored percent-escaped so that one entry stays on one line.
std::string Escape(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '%' || c == '\n' || c == '\r') {
      absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        sscanf(std::string(text.substr(i + 1, 2)).c_str(), "%2x", &value) == 1) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

}  // namespace

CheckpointStore::CheckpointStore(std::string directory, const std::string& name)
    : directory_(std::move(directory)) {
  std::string file = name;
  for (char& c : file) {
    if (c == '/') c = '_';
  }
  path_ = absl::StrCat(directory_, "/", file, ".checkpoints");
}

absl::StatusOr<std::vector<Checkpoint>> CheckpointStore::Load() const {
  std::ifstream in(path_, std::ios::binary);
  std::vector<Checkpoint> out;
  if (!in) {
    if (errno == ENOENT) return out;
    return Errno(absl::StrCat("open ", path_));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const size_t last = text.rfind("crc32c ");
  if (text.rfind(std::string(kHeader), 0) != 0 || last == std::string::npos) {
    return absl::DataLossError(absl::StrCat("checkpoint store ", path_, " is damaged"));
  }
  uint32_t stored = 0;
  if (sscanf(text.c_str() + last, "crc32c %x", &stored) != 1 ||
      stored != core::Crc32c(text.data(), last)) {
    return absl::DataLossError(absl::StrCat("checkpoint store ", path_, " fails its checksum"));
  }
  size_t pos = 0;
  while (pos < last) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos || nl > last) nl = last;
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line == kHeader) continue;
    Checkpoint c;
    int path_at = -1;
    if (sscanf(line.c_str(), "%lu %lu %u %x %lu %n", &c.device, &c.inode, &c.fingerprint_size,
               &c.fingerprint, &c.offset, &path_at) != 5 ||
        path_at < 0) {
      return absl::DataLossError(absl::StrCat("checkpoint store ", path_, " has a bad entry"));
    }
    c.path = Unescape(std::string_view(line).substr(static_cast<size_t>(path_at)));
    out.push_back(std::move(c));
  }
  return out;
}

absl::Status CheckpointStore::Save(const std::vector<Checkpoint>& checkpoints) const {
  if (absl::Status s = core::MakeDirectories(directory_); !s.ok()) return s;
  std::string text = std::string(kHeader) + "\n";
  for (const Checkpoint& c : checkpoints) {
    absl::StrAppendFormat(&text, "%u %u %u %08x %u %s\n", c.device, c.inode, c.fingerprint_size,
                          c.fingerprint, c.offset, Escape(c.path));
  }
  absl::StrAppendFormat(&text, "crc32c %08x\n", core::Crc32c(text.data(), text.size()));
  return core::ReplaceFile(path_, text, core::Durability::kSynced);
}

}  // namespace tributary::receivers::tail
