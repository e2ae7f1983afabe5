#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "buffer_files.h"
#include "tributary/core/durable_file.h"
#include "tributary/core/log.h"
#include "tributary/core/runtime/buffer.h"
#include "tributary/core/telemetry.h"

// How a write-ahead buffer takes up what an earlier process left in its
// directory.
namespace tributary::core::runtime {

namespace {

struct Listing {
  std::vector<std::pair<uint64_t, std::string>> segments;  // by first sequence number
  std::vector<std::string> cursor_files;
};

// The segments and cursor files of `directory`; temporary files of an
// interrupted write are removed.
absl::StatusOr<Listing> ListDirectory(const std::string& directory) {
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", directory, ": ", strerror(errno)));
  }
  Listing listing;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    uint64_t seq;
    if (name.size() == 24 && name.substr(20) == ".seg" &&
        absl::SimpleAtoi(name.substr(0, 20), &seq)) {
      listing.segments.emplace_back(seq, directory + "/" + name);
    } else if (name.rfind("cursor-", 0) == 0 && name.find('.') == std::string::npos) {
      listing.cursor_files.push_back(name);
    } else if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      unlink((directory + "/" + name).c_str());
    }
  }
  closedir(dir);
  std::sort(listing.segments.begin(), listing.segments.end());
  return listing;
}

}  // namespace

std::string WriteAheadBuffer::CursorPath(const std::string& name) const {
  return options_.directory + "/" + CursorFileName(name);
}

absl::Status WriteAheadBuffer::Recover() {
  absl::StatusOr<Listing> listing = ListDirectory(options_.directory);
  if (!listing.ok()) return listing.status();
  LoadCursors(listing->cursor_files);
  uint64_t last_seq = 0;
  std::vector<std::pair<uint64_t, uint32_t>> corrupt;
  for (const auto& [first_seq, path] : listing->segments) {
    if (absl::Status s = RecoverSegment(first_seq, path, &last_seq, &corrupt); !s.ok()) return s;
  }
  ResumeCursors(last_seq, corrupt);
  return absl::OkStatus();
}

void WriteAheadBuffer::LoadCursors(const std::vector<std::string>& files) {
  // Cursors: the last sequence number each had settled.
  for (auto& c : cursors_) {
    std::string data;
    if (ReadWholeFile(CursorPath(c->name), &data).ok()) {
      detail::DecodeCursor(data, &c->committed);
    }
    c->persisted = c->committed;
  }
  // Cursor files of exporters no longer configured would hold nothing back
  // but would be misleading; remove them.
  for (const std::string& f : files) {
    bool known = false;
    for (auto& c : cursors_) known |= CursorFileName(c->name) == f;
    if (!known) unlink((options_.directory + "/" + f).c_str());
  }
}

absl::Status WriteAheadBuffer::RecoverSegment(uint64_t first_seq, const std::string& path,
                                              uint64_t* last_seq,
                                              std::vector<std::pair<uint64_t, uint32_t>>* corrupt) {
  std::string data;
  if (!ReadWholeFile(path, &data).ok()) {
    return absl::PermissionDeniedError(absl::StrCat("cannot read ", path));
  }
  if (data.size() < sizeof(detail::kSegmentMagic) ||
      std::memcmp(data.data(), detail::kSegmentMagic, sizeof(detail::kSegmentMagic)) != 0) {
    Log(LogLevel::kError, component_, "segment without a valid header removed",
        absl::StrCat("file=", path, " bytes=", data.size()));
    corrupt_bytes_.Increment(static_cast<double>(data.size()));
    unlink(path.c_str());
    return absl::OkStatus();
  }
  detail::ScanResult scan = detail::ScanSegment(data);
  // Records must continue the sequence of earlier segments.
  std::vector<detail::IndexEntry> entries;
  for (const auto& e : scan.entries) {
    if (e.seq > *last_seq) entries.push_back(e);
  }
  for (const auto& cr : scan.corrupt_records) corrupt->push_back(cr);
  if (scan.corrupt_bytes > 0) {
    corrupt_bytes_.Increment(static_cast<double>(scan.corrupt_bytes));
    Log(LogLevel::kError, component_, "corrupt records skipped",
        absl::StrCat("file=", path, " bytes=", scan.corrupt_bytes,
                     " records=", scan.corrupt_records.size()));
  }
  if (scan.truncated_bytes > 0) {
    Log(LogLevel::kWarn, component_, "torn tail truncated",
        absl::StrCat("file=", path, " bytes=", scan.truncated_bytes));
    if (truncate(path.c_str(), static_cast<off_t>(scan.valid_bytes)) != 0) {
      return absl::InternalError(absl::StrCat("cannot truncate ", path, ": ", strerror(errno)));
    }
  }
  if (entries.empty()) {
    unlink(path.c_str());
    return absl::OkStatus();
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot open ", path));
  Segment seg;
  seg.first_seq = first_seq;
  seg.path = path;
  seg.file = std::make_shared<FileHandle>(fd);
  seg.bytes = scan.valid_bytes;
  seg.index = std::move(entries);
  *last_seq = seg.index.back().seq;
  disk_bytes_ += seg.bytes;
  segments_.emplace(first_seq, std::move(seg));
  return absl::OkStatus();
}

void WriteAheadBuffer::ResumeCursors(uint64_t last_seq,
                                     const std::vector<std::pair<uint64_t, uint32_t>>& corrupt) {
  uint64_t max_committed = 0;
  for (auto& c : cursors_) max_committed = std::max(max_committed, c->committed);
  head_seq_ = std::max(last_seq, max_committed);
  next_seq_ = head_seq_ + 1;
  uint64_t recovered = 0;
  for (auto& c : cursors_) {
    uint64_t corrupt_records = 0;
    for (const auto& [first, seg] : segments_) {
      for (const auto& e : seg.index) {
        if (e.seq > c->committed) c->backlog += e.records;
      }
    }
    for (const auto& [seq, records] : corrupt) {
      if (seq > c->committed) {
        c->dropped_corrupt->Increment(records);
        corrupt_records += records;
      }
    }
    // What this process holds without having received it: the backlog, and
    // what was lost to corruption (counted as dropped above).
    if (!options_.reopened) {
      Telemetry::Get()
          .BufferRecovered(options_.name, c->name, options_.signal)
          .Increment(static_cast<double>(c->backlog + corrupt_records));
    }
    c->replay.replay = true;
    c->replay.next = c->committed + 1;
    c->replay.end = head_seq_ + 1;
    c->replay.done = c->replay.next >= c->replay.end;
    c->live.next = head_seq_ + 1;
    recovered = std::max(recovered, c->backlog);
  }
  if (!segments_.empty()) {
    Log(LogLevel::kInfo, component_, "recovered",
        absl::StrCat("segments=", segments_.size(), " bytes=", disk_bytes_,
                     " backlog_records=", recovered));
  }
}

}  // namespace tributary::core::runtime
