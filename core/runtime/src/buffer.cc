#include "tributary/core/runtime/buffer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tributary/core/crc32c.h"
#include "tributary/core/durable_file.h"
#include "tributary/core/log.h"

namespace tributary::core::runtime {

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(std::string_view text) {
  if (text == "always") return FsyncPolicy::kAlways;
  if (text == "interval") return FsyncPolicy::kInterval;
  if (text == "never") return FsyncPolicy::kNever;
  return absl::InvalidArgumentError("fsync must be always, interval or never");
}

absl::StatusOr<WhenFull> ParseWhenFull(std::string_view text) {
  if (text == "block") return WhenFull::kBlock;
  if (text == "drop_oldest") return WhenFull::kDropOldest;
  if (text == "drop_newest") return WhenFull::kDropNewest;
  return absl::InvalidArgumentError("when_full must be block, drop_oldest or drop_newest");
}

absl::Status BufferConfig::Validate() const {
  if (auto s = ParseFsyncPolicy(fsync); !s.ok()) return s.status();
  if (auto s = ParseWhenFull(when_full); !s.ok()) return s.status();
  if (segment_size.bytes < (64u << 10)) {
    return absl::InvalidArgumentError("segment_size must be at least 64KiB");
  }
  if (max_size.bytes < 4 * segment_size.bytes) {
    return absl::InvalidArgumentError("max_size must be at least 4 segment_size");
  }
  if (fsync_interval.count() <= 0) {
    return absl::InvalidArgumentError("fsync_interval must be > 0");
  }
  if (replay_rate < 0) return absl::InvalidArgumentError("replay_rate must be >= 0");
  return absl::OkStatus();
}

BufferOptions BufferOptions::From(const BufferConfig& config, const std::string& pipeline,
                                  Signal signal) {
  BufferOptions o;
  std::string folder = pipeline;
  std::replace(folder.begin(), folder.end(), '/', '_');
  o.directory = config.directory + "/" + folder;
  o.name = pipeline;
  o.signal = signal;
  o.max_bytes = config.max_size.bytes;
  o.segment_bytes = config.segment_size.bytes;
  o.fsync = ParseFsyncPolicy(config.fsync).value_or(FsyncPolicy::kInterval);
  o.fsync_interval = config.fsync_interval;
  o.when_full = ParseWhenFull(config.when_full).value_or(WhenFull::kBlock);
  o.replay_rate = static_cast<double>(config.replay_rate);
  return o;
}

namespace detail {
namespace {
void Put32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
void Put64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
uint32_t Get32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
}  // namespace

uint32_t RecordCrc(const char* header, const char* payload, size_t length) {
  uint32_t crc = Crc32c(header + 12, kRecordHeaderSize - 12);
  return Crc32c(payload, length, crc);
}

void EncodeRecordHeader(const RecordHeader& h, const std::string& payload, char* out) {
  Put32(out, kRecordMagic);
  Put32(out + 4, static_cast<uint32_t>(payload.size()));
  Put64(out + 12, h.seq);
  Put32(out + 20, h.records);
  out[24] = static_cast<char>(h.signal);
  out[25] = 0;
  out[26] = 0;
  out[27] = 0;
  Put32(out + 8, RecordCrc(out, payload.data(), payload.size()));
}

bool DecodeRecordHeader(const char* in, RecordHeader* h) {
  if (Get32(in) != kRecordMagic) return false;
  h->length = Get32(in + 4);
  h->crc = Get32(in + 8);
  h->seq = Get64(in + 12);
  h->records = Get32(in + 20);
  h->signal = static_cast<Signal>(static_cast<uint8_t>(in[24]));
  return true;
}

namespace {
// A record that is whole and matches its checksum.
bool ValidAt(const std::string& data, size_t p, RecordHeader* h) {
  if (data.size() - p < kRecordHeaderSize) return false;
  if (!DecodeRecordHeader(data.data() + p, h)) return false;
  if (h->length > kMaxRecordBytes || h->length > data.size() - p - kRecordHeaderSize) return false;
  if (static_cast<uint8_t>(h->signal) > 2) return false;
  return RecordCrc(data.data() + p, data.data() + p + kRecordHeaderSize, h->length) == h->crc;
}
}  // namespace

ScanResult ScanSegment(const std::string& data) {
  ScanResult r;
  size_t p = sizeof(kSegmentMagic);
  uint64_t last_seq = 0;
  while (p < data.size()) {
    RecordHeader h;
    if (ValidAt(data, p, &h) && h.seq > last_seq) {
      r.entries.push_back({h.seq, p, h.length, h.records});
      last_seq = h.seq;
      p += kRecordHeaderSize + h.length;
      r.valid_bytes = p;
      continue;
    }
    // The header may still be sound with a damaged payload: believe its
    // length when a valid record (or the end of the file) follows it.
    RecordHeader next;
    if (data.size() - p >= kRecordHeaderSize && DecodeRecordHeader(data.data() + p, &h) &&
        h.length <= data.size() - p - kRecordHeaderSize && h.seq > last_seq) {
      size_t q = p + kRecordHeaderSize + h.length;
      if (q < data.size() && ValidAt(data, q, &next) && next.seq > h.seq) {
        r.corrupt_records.emplace_back(h.seq, h.records);
        r.corrupt_bytes += q - p;
        last_seq = h.seq;
        p = q;
        continue;
      }
      if (q == data.size()) {
        r.corrupt_records.emplace_back(h.seq, h.records);
        break;
      }
    }
    // Resynchronise on the next valid record; none means a torn tail.
    size_t q = p + 1;
    bool found = false;
    static const char kMagicBytes[4] = {'T', 'R', 'B', '1'};
    while (q + kRecordHeaderSize <= data.size()) {
      const void* hit = memmem(data.data() + q, data.size() - q, kMagicBytes, sizeof(kMagicBytes));
      if (hit == nullptr) break;
      q = static_cast<const char*>(hit) - data.data();
      if (ValidAt(data, q, &next) && next.seq > last_seq) {
        found = true;
        break;
      }
      ++q;
    }
    if (!found) break;
    r.corrupt_bytes += q - p;
    p = q;
  }
  if (r.valid_bytes == 0) r.valid_bytes = std::min<size_t>(data.size(), sizeof(kSegmentMagic));
  r.truncated_bytes = data.size() - r.valid_bytes;
  return r;
}
}  // namespace detail

struct WriteAheadBuffer::FileHandle {
  int fd = -1;
  explicit FileHandle(int f) : fd(f) {}
  ~FileHandle() {
    if (fd >= 0) close(fd);
  }
};

namespace {
std::string SegmentName(uint64_t first_seq) { return absl::StrFormat("%020u.seg", first_seq); }

std::string CursorFileName(const std::string& name) {
  std::string out = "cursor-";
  for (char c : name) out += (isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out;
}

constexpr size_t kMaxIov = 512;
constexpr uint64_t kMaxPendingBytes = 8ull << 20;
constexpr auto kCursorPersistInterval = std::chrono::milliseconds(200);
}  // namespace

WriteAheadBuffer::WriteAheadBuffer(BufferOptions options)
    : options_(std::move(options)),
      component_("buffer/" + options_.name),
      bytes_gauge_(Telemetry::Get().BufferBytes(options_.name)),
      dropped_newest_(Telemetry::Get().Dropped(component_, options_.signal, "buffer_full")),
      corrupt_bytes_(Telemetry::Get().BufferCorruptBytes(options_.name)),
      fsync_duration_(Telemetry::Get().BufferFsyncDuration(options_.name)) {
  Telemetry::Get().BufferCapacity(options_.name).Set(static_cast<double>(options_.max_bytes));
}

WriteAheadBuffer::~WriteAheadBuffer() {
  Shutdown(Clock::now());
  Close();
}

void WriteAheadBuffer::AddCursor(const std::string& name, Consumer* next) {
  auto c = std::make_unique<Cursor>();
  c->name = name;
  c->next = next;
  Telemetry& t = Telemetry::Get();
  c->backlog_gauge = &t.BufferRecords(options_.name, name, options_.signal);
  c->dropped_full = &t.Dropped(name, options_.signal, "buffer_full");
  c->dropped_corrupt = &t.Dropped(name, options_.signal, "buffer_corrupt");
  cursors_.push_back(std::move(c));
}

std::string WriteAheadBuffer::CursorPath(const std::string& name) const {
  return options_.directory + "/" + CursorFileName(name);
}

absl::Status WriteAheadBuffer::Recover() {
  DIR* dir = opendir(options_.directory.c_str());
  if (dir == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", options_.directory, ": ", strerror(errno)));
  }
  std::vector<std::pair<uint64_t, std::string>> files;
  std::vector<std::string> cursor_files;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    uint64_t seq;
    if (name.size() == 24 && name.substr(20) == ".seg" &&
        absl::SimpleAtoi(name.substr(0, 20), &seq)) {
      files.emplace_back(seq, options_.directory + "/" + name);
    } else if (name.rfind("cursor-", 0) == 0 && name.find('.') == std::string::npos) {
      cursor_files.push_back(name);
    } else if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
      unlink((options_.directory + "/" + name).c_str());
    }
  }
  closedir(dir);
  std::sort(files.begin(), files.end());

  // Cursors: the last sequence number each had settled.
  for (auto& c : cursors_) {
    std::string data;
    if (ReadWholeFile(CursorPath(c->name), &data).ok() && data.size() == 12 &&
        Crc32c(data.data(), 8) == detail::Get32(data.data() + 8)) {
      c->committed = detail::Get64(data.data());
    }
    c->persisted = c->committed;
  }
  // Cursor files of exporters no longer configured would hold nothing back
  // but would be misleading; remove them.
  for (const std::string& f : cursor_files) {
    bool known = false;
    for (auto& c : cursors_) known |= CursorFileName(c->name) == f;
    if (!known) unlink((options_.directory + "/" + f).c_str());
  }

  uint64_t last_seq = 0;
  std::vector<std::pair<uint64_t, uint32_t>> corrupt;
  for (auto& [first_seq, path] : files) {
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
      continue;
    }
    detail::ScanResult scan = detail::ScanSegment(data);
    // Records must continue the sequence of earlier segments.
    std::vector<detail::IndexEntry> entries;
    for (const auto& e : scan.entries) {
      if (e.seq > last_seq) entries.push_back(e);
    }
    for (const auto& cr : scan.corrupt_records) corrupt.push_back(cr);
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
      continue;
    }
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot open ", path));
    Segment seg;
    seg.first_seq = first_seq;
    seg.path = path;
    seg.file = std::make_shared<FileHandle>(fd);
    seg.bytes = scan.valid_bytes;
    seg.index = std::move(entries);
    last_seq = seg.index.back().seq;
    disk_bytes_ += seg.bytes;
    segments_.emplace(first_seq, std::move(seg));
  }

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
    Telemetry::Get()
        .BufferRecovered(options_.name, c->name, options_.signal)
        .Increment(static_cast<double>(c->backlog + corrupt_records));
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
  return absl::OkStatus();
}

absl::Status WriteAheadBuffer::Start() {
  if (absl::Status s = MakeDirectories(options_.directory); !s.ok()) return s;
  if (absl::Status s = Recover(); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ReclaimLocked();
    UpdateGaugesLocked();
    started_ = true;
    accepting_ = true;
    last_sync_ = Clock::now();
  }
  PersistCursors(/*force=*/true);
  writer_ = std::thread([this] { WriterLoop(); });
  for (auto& c : cursors_) {
    Cursor* cursor = c.get();
    if (!cursor->replay.done) {
      cursor->replay.thread = std::thread([this, cursor] { ReaderLoop(cursor, &cursor->replay); });
    }
    cursor->live.thread = std::thread([this, cursor] { ReaderLoop(cursor, &cursor->live); });
  }
  return absl::OkStatus();
}

absl::Status WriteAheadBuffer::Consume(Envelope envelope) noexcept {
  if (!envelope.batch || envelope.batch->empty()) return absl::OkStatus();
  Pending p;
  p.records = static_cast<uint32_t>(envelope.batch->record_count());
  p.payload = payload_buffers_.Take();
  if (!envelope.batch->message().SerializeToString(&p.payload)) {
    return absl::InternalError("cannot serialise the batch");
  }
  if (p.payload.size() > detail::kMaxRecordBytes) {
    return absl::InvalidArgumentError("batch larger than the largest buffer record");
  }
  const uint64_t size = detail::kRecordHeaderSize + p.payload.size();
  std::lock_guard<std::mutex> lock(mu_);
  if (!accepting_) return absl::UnavailableError("buffer is not accepting data");
  if (pending_bytes_ > 0 && pending_bytes_ + size > kMaxPendingBytes) {
    // The disk is not keeping up: what waits for it is memory, so push back.
    return absl::ResourceExhaustedError(
        absl::StrCat("buffer of pipeline ", options_.name, " is behind on writing"));
  }
  if (disk_bytes_ + pending_bytes_ + size > options_.max_bytes) {
    bool make_room = options_.when_full == WhenFull::kDropOldest && DropOldestLocked(size);
    if (!make_room) {
      uint64_t held;
      if (options_.when_full == WhenFull::kBlock) {
        if (log_limiter_.Allow(&held)) {
          Log(LogLevel::kWarn, component_, "buffer full, refusing data",
              absl::StrCat("bytes=", disk_bytes_ + pending_bytes_, " suppressed=", held));
        }
        return absl::ResourceExhaustedError(
            absl::StrCat("buffer of pipeline ", options_.name, " is full"));
      }
      dropped_newest_.Increment(p.records);
      if (log_limiter_.Allow(&held)) {
        Log(LogLevel::kWarn, component_, "buffer full, dropping new data",
            absl::StrCat("records=", p.records, " suppressed=", held));
      }
      return absl::OkStatus();
    }
  }
  p.seq = next_seq_++;
  p.acks = std::move(envelope.acks);
  pending_bytes_ += size;
  pending_.push_back(std::move(p));
  writer_cv_.notify_one();
  return absl::OkStatus();
}

absl::Status WriteAheadBuffer::OpenSegment(uint64_t first_seq) {
  Segment seg;
  seg.first_seq = first_seq;
  seg.path = options_.directory + "/" + SegmentName(first_seq);
  int fd = open(seg.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create ", seg.path, ": ", strerror(errno)));
  }
  seg.file = std::make_shared<FileHandle>(fd);
  if (pwrite(fd, detail::kSegmentMagic, sizeof(detail::kSegmentMagic), 0) !=
      static_cast<ssize_t>(sizeof(detail::kSegmentMagic))) {
    int err = errno;
    unlink(seg.path.c_str());
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot write ", seg.path, ": ", strerror(err)));
  }
  if (options_.fsync != FsyncPolicy::kNever) SyncDirectory(options_.directory);
  seg.bytes = sizeof(detail::kSegmentMagic);
  std::lock_guard<std::mutex> lock(mu_);
  disk_bytes_ += seg.bytes;
  segments_.emplace(first_seq, std::move(seg));
  active_first_ = first_seq;
  return absl::OkStatus();
}

absl::Status WriteAheadBuffer::WriteGroup(std::vector<Pending>& group, size_t* written_records) {
  size_t i = 0;
  while (i < group.size()) {
    Segment* active = nullptr;
    uint64_t offset = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (active_first_ != 0) {
        active = &segments_.at(active_first_);
        offset = active->bytes;
      }
    }
    const uint64_t first_size = detail::kRecordHeaderSize + group[i].payload.size();
    if (active == nullptr ||
        (offset + first_size > options_.segment_bytes && offset > sizeof(detail::kSegmentMagic))) {
      if (active != nullptr && options_.fsync != FsyncPolicy::kNever) {
        fdatasync(active->file->fd);
      }
      if (absl::Status s = OpenSegment(group[i].seq); !s.ok()) return s;
      continue;
    }
    // As many records as fit in this segment, in one vectored write.
    std::vector<std::array<char, detail::kRecordHeaderSize>> headers;
    std::vector<iovec> iov;
    size_t j = i;
    uint64_t bytes = 0;
    headers.reserve(std::min(group.size() - i, kMaxIov / 2));
    while (j < group.size() && iov.size() + 2 <= kMaxIov) {
      const uint64_t size = detail::kRecordHeaderSize + group[j].payload.size();
      if (j > i && offset + bytes + size > options_.segment_bytes) break;
      detail::RecordHeader h;
      h.seq = group[j].seq;
      h.records = group[j].records;
      h.signal = options_.signal;
      headers.emplace_back();
      detail::EncodeRecordHeader(h, group[j].payload, headers.back().data());
      bytes += size;
      ++j;
    }
    for (size_t k = i; k < j; ++k) {
      iov.push_back({headers[k - i].data(), detail::kRecordHeaderSize});
      iov.push_back({group[k].payload.data(), group[k].payload.size()});
    }
    const int fd = active->file->fd;
    uint64_t written = 0;
    size_t first_iov = 0;
    while (written < bytes) {
      ssize_t n = pwritev(fd, iov.data() + first_iov, static_cast<int>(iov.size() - first_iov),
                          static_cast<off_t>(offset + written));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = errno;
        // Leave the segment as it was before this write; if even that
        // fails, recovery will cut the tail, and a new segment takes over.
        if (ftruncate(fd, static_cast<off_t>(offset)) != 0) {
          std::lock_guard<std::mutex> lock(mu_);
          active_first_ = 0;
        }
        return absl::ResourceExhaustedError(
            absl::StrCat("cannot write the buffer: ", strerror(n < 0 ? err : ENOSPC)));
      }
      written += static_cast<uint64_t>(n);
      size_t left = static_cast<size_t>(n);
      while (first_iov < iov.size() && left >= iov[first_iov].iov_len) {
        left -= iov[first_iov].iov_len;
        ++first_iov;
      }
      if (left > 0) {
        iov[first_iov].iov_base = static_cast<char*>(iov[first_iov].iov_base) + left;
        iov[first_iov].iov_len -= left;
      }
    }
    if (options_.fsync == FsyncPolicy::kAlways) {
      Clock::time_point begin = Clock::now();
      fdatasync(fd);
      fsync_duration_.Observe(std::chrono::duration<double>(Clock::now() - begin).count());
    } else {
      unsynced_ = true;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      uint64_t pos = offset;
      for (size_t k = i; k < j; ++k) {
        Pending& p = group[k];
        active->index.push_back({p.seq, pos, static_cast<uint32_t>(p.payload.size()), p.records});
        const uint64_t size = detail::kRecordHeaderSize + p.payload.size();
        pos += size;
        pending_bytes_ -= size;
        disk_bytes_ += size;
        head_seq_ = p.seq;
        for (auto& c : cursors_) c->backlog += p.records;
      }
      active->bytes = pos;
      UpdateGaugesLocked();
    }
    reader_cv_.notify_all();
    // The data is in the buffer: the senders may hear success.
    for (size_t k = i; k < j; ++k) group[k].acks.clear();
    i = j;
    *written_records = i;
  }
  return absl::OkStatus();
}

void WriteAheadBuffer::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  Clock::time_point last_persist = Clock::now();
  for (;;) {
    Clock::time_point wake = last_persist + kCursorPersistInterval;
    if (unsynced_ && options_.fsync == FsyncPolicy::kInterval) {
      wake = std::min(wake, last_sync_ + options_.fsync_interval);
    }
    writer_cv_.wait_until(lock, wake, [&] { return !pending_.empty() || stopping_; });
    std::vector<Pending> group;
    group.swap(pending_);
    const bool stop = stopping_ && group.empty();
    lock.unlock();
    // Written or failed, the payload buffers go back for the next batches.
    struct Recycle {
      StringPool* pool;
      std::vector<Pending>* group;
      ~Recycle() {
        for (Pending& p : *group) pool->Return(std::move(p.payload));
      }
    } recycle{&payload_buffers_, &group};
    if (!group.empty()) {
      size_t written = 0;
      absl::Status s = WriteGroup(group, &written);
      if (!s.ok()) {
        uint64_t held;
        if (log_limiter_.Allow(&held)) {
          Log(LogLevel::kError, component_, "buffer write failed",
              absl::StrCat("error=\"", s.message(), "\" suppressed=", held));
        }
        std::lock_guard<std::mutex> relock(mu_);
        for (size_t k = written; k < group.size(); ++k) {
          Pending& p = group[k];
          pending_bytes_ -= detail::kRecordHeaderSize + p.payload.size();
          head_seq_ = std::max(head_seq_, p.seq);
          for (const AckRef& a : p.acks) a->Fail(s);
          p.acks.clear();
        }
        UpdateGaugesLocked();
      }
    }
    const Clock::time_point now = Clock::now();
    if (unsynced_ && (stop || (options_.fsync == FsyncPolicy::kInterval &&
                               now - last_sync_ >= options_.fsync_interval))) {
      int fd = -1;
      std::shared_ptr<FileHandle> file;
      {
        std::lock_guard<std::mutex> relock(mu_);
        if (active_first_ != 0) file = segments_.at(active_first_).file;
      }
      if (file && options_.fsync != FsyncPolicy::kNever) {
        fd = file->fd;
        Clock::time_point begin = Clock::now();
        fdatasync(fd);
        fsync_duration_.Observe(std::chrono::duration<double>(Clock::now() - begin).count());
      }
      unsynced_ = false;
      last_sync_ = now;
    }
    if (now - last_persist >= kCursorPersistInterval) {
      PersistCursors(/*force=*/false);
      last_persist = now;
    }
    lock.lock();
    if (stop) break;
  }
}

bool WriteAheadBuffer::LocateLocked(Reader* r, Located* out) {
  auto seg = segments_.upper_bound(r->next);
  if (seg != segments_.begin()) --seg;
  for (; seg != segments_.end(); ++seg) {
    const auto& index = seg->second.index;
    auto e =
        std::lower_bound(index.begin(), index.end(), r->next,
                         [](const detail::IndexEntry& x, uint64_t seq) { return x.seq < seq; });
    if (e == index.end()) continue;
    if (e->seq >= r->end) break;
    out->seq = e->seq;
    out->records = e->records;
    out->file = seg->second.file;
    out->offset = e->offset;
    out->length = e->length;
    out->bytes = e->length;
    return true;
  }
  r->next = std::min(head_seq_ + 1, r->end);
  return false;
}

std::shared_ptr<const Batch> WriteAheadBuffer::ReadFromDisk(const Located& where,
                                                            std::string* error) {
  // One read buffer per reader thread, kept between records.
  thread_local std::string data;
  const size_t need = detail::kRecordHeaderSize + where.length;
  if (data.capacity() > (16u << 20) && need < data.capacity() / 4) std::string().swap(data);
  data.resize(need);
  ssize_t n = pread(where.file->fd, data.data(), data.size(), static_cast<off_t>(where.offset));
  if (n != static_cast<ssize_t>(data.size())) {
    *error = n < 0 ? strerror(errno) : "short read";
    return nullptr;
  }
  detail::RecordHeader h;
  const char* payload = data.data() + detail::kRecordHeaderSize;
  if (!detail::DecodeRecordHeader(data.data(), &h) || h.seq != where.seq ||
      h.length != where.length || detail::RecordCrc(data.data(), payload, h.length) != h.crc) {
    *error = "checksum mismatch";
    return nullptr;
  }
  const int size = static_cast<int>(h.length);
  switch (h.signal) {
    case Signal::kTraces: {
      TracesRequest req;
      if (req.ParseFromArray(payload, size)) return std::make_shared<const Batch>(std::move(req));
      break;
    }
    case Signal::kMetrics: {
      MetricsRequest req;
      if (req.ParseFromArray(payload, size)) return std::make_shared<const Batch>(std::move(req));
      break;
    }
    case Signal::kLogs: {
      LogsRequest req;
      if (req.ParseFromArray(payload, size)) return std::make_shared<const Batch>(std::move(req));
      break;
    }
  }
  *error = "payload does not parse";
  return nullptr;
}

void WriteAheadBuffer::ReaderLoop(Cursor* cursor, Reader* r) {
  // Records handed to the exporter and not yet settled live in memory: bound
  // them by count and by size (at least one is always allowed).
  constexpr size_t kMaxInFlight = 64;
  constexpr uint64_t kMaxInFlightBytes = 8ull << 20;
  Clock::time_point next_allowed = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    reader_cv_.wait(lock, [&] {
      return stopping_ || r->next >= r->end ||
             (r->next <= head_seq_ && cursor->in_flight.outstanding() < kMaxInFlight &&
              (cursor->in_flight.outstanding() == 0 ||
               cursor->in_flight_bytes < kMaxInFlightBytes));
    });
    if (stopping_ || r->next >= r->end) break;
    Located where;
    if (!LocateLocked(r, &where)) {
      AdvanceCommitLocked(cursor);
      continue;
    }
    cursor->in_flight.Add(where.seq, std::make_pair(where.records, where.bytes));
    cursor->in_flight_bytes += where.bytes;
    r->next = where.seq + 1;
    lock.unlock();

    std::string error;
    std::shared_ptr<const Batch> batch = ReadFromDisk(where, &error);
    if (!batch) {
      cursor->dropped_corrupt->Increment(where.records);
      uint64_t held;
      if (log_limiter_.Allow(&held)) {
        Log(LogLevel::kError, component_, "unreadable record skipped",
            absl::StrCat("exporter=", cursor->name, " seq=", where.seq, " records=", where.records,
                         " error=\"", error, "\" suppressed=", held));
      }
      Settle(cursor, where.seq, absl::OkStatus());
      lock.lock();
      continue;
    }
    if (r->replay && options_.replay_rate > 0) {
      // Pace the backlog so live data keeps its share of the exporter.
      std::unique_lock<std::mutex> wait_lock(mu_);
      reader_cv_.wait_until(wait_lock, next_allowed, [&] { return stopping_; });
      next_allowed = std::max(next_allowed, Clock::now()) +
                     std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                         static_cast<double>(where.records) / options_.replay_rate));
    }
    Envelope envelope;
    envelope.batch = std::move(batch);
    envelope.durable = true;
    const uint64_t seq = where.seq;
    envelope.acks.push_back(std::make_shared<Ack>(
        [this, cursor, seq](const absl::Status& s) { Settle(cursor, seq, s); }));
    for (;;) {
      absl::Status s = cursor->next->Consume(envelope);
      if (s.ok()) break;
      if (s.code() == absl::StatusCode::kResourceExhausted) {
        std::unique_lock<std::mutex> wait_lock(mu_);
        if (!reader_cv_.wait_for(wait_lock, std::chrono::milliseconds(5),
                                 [&] { return stopping_; })) {
          continue;
        }
        s = absl::UnavailableError("buffer is stopping");
      }
      envelope.Fail(s);
      break;
    }
    envelope = Envelope();
    lock.lock();
  }
  r->done = true;
  AdvanceCommitLocked(cursor);
}

void WriteAheadBuffer::Settle(Cursor* cursor, uint64_t seq, const absl::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!cursor->in_flight.Contains(seq)) return;
  if (!status.ok() && IsRetryable(status) && stopping_) {
    // The consumer is shutting down: the record stays for the next process.
    cursor->abandoned.insert(seq);
  } else {
    const std::optional<std::pair<uint32_t, uint64_t>> settled = cursor->in_flight.Acknowledge(seq);
    if (!settled) return;
    cursor->backlog -= std::min<uint64_t>(cursor->backlog, settled->first);
    cursor->in_flight_bytes -= settled->second;
    AdvanceCommitLocked(cursor);
    cursor->backlog_gauge->Set(static_cast<double>(cursor->backlog));
  }
  settle_cv_.notify_all();
  reader_cv_.notify_all();
}

void WriteAheadBuffer::AdvanceCommitLocked(Cursor* cursor) {
  uint64_t low = cursor->live.next;
  if (auto first = cursor->in_flight.first()) low = std::min(low, *first);
  if (!cursor->replay.done && cursor->replay.next < cursor->replay.end) {
    low = std::min(low, cursor->replay.next);
  }
  if (low - 1 > cursor->committed) {
    cursor->committed = low - 1;
    ReclaimLocked();
  }
}

void WriteAheadBuffer::ReclaimLocked() {
  if (cursors_.empty()) return;
  uint64_t settled = UINT64_MAX;
  for (auto& c : cursors_) settled = std::min(settled, c->committed);
  bool removed = false;
  while (!segments_.empty()) {
    Segment& seg = segments_.begin()->second;
    if (seg.first_seq == active_first_ || seg.last_seq() > settled) break;
    unlink(seg.path.c_str());
    disk_bytes_ -= std::min(disk_bytes_, seg.bytes);
    segments_.erase(segments_.begin());
    removed = true;
  }
  if (removed) UpdateGaugesLocked();
}

bool WriteAheadBuffer::DropOldestLocked(uint64_t needed) {
  while (disk_bytes_ + pending_bytes_ + needed > options_.max_bytes && !segments_.empty() &&
         segments_.begin()->first != active_first_) {
    Segment& seg = segments_.begin()->second;
    const uint64_t first = seg.first_seq;
    const uint64_t last = seg.last_seq();
    for (auto& c : cursors_) {
      uint64_t dropped = 0;
      for (Reader* r : {&c->replay, &c->live}) {
        if (r->done && r->replay) continue;
        const uint64_t from = std::max(r->next, first);
        const uint64_t to = std::min(last + 1, r->end);  // exclusive
        for (const auto& e : seg.index) {
          if (e.seq >= from && e.seq < to) dropped += e.records;
        }
        if (r->next < to) r->next = to;
      }
      if (dropped > 0) {
        c->dropped_full->Increment(static_cast<double>(dropped));
        c->backlog -= std::min(c->backlog, dropped);
        c->backlog_gauge->Set(static_cast<double>(c->backlog));
      }
    }
    uint64_t held;
    if (log_limiter_.Allow(&held)) {
      Log(LogLevel::kWarn, component_, "buffer full, dropping the oldest segment",
          absl::StrCat("file=", seg.path, " suppressed=", held));
    }
    unlink(seg.path.c_str());
    disk_bytes_ -= std::min(disk_bytes_, seg.bytes);
    segments_.erase(segments_.begin());
    for (auto& c : cursors_) AdvanceCommitLocked(c.get());
  }
  UpdateGaugesLocked();
  reader_cv_.notify_all();
  return disk_bytes_ + pending_bytes_ + needed <= options_.max_bytes;
}

void WriteAheadBuffer::UpdateGaugesLocked() {
  bytes_gauge_.Set(static_cast<double>(disk_bytes_ + pending_bytes_));
  for (auto& c : cursors_) c->backlog_gauge->Set(static_cast<double>(c->backlog));
}

void WriteAheadBuffer::PersistCursors(bool force) {
  std::vector<std::pair<Cursor*, uint64_t>> dirty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : cursors_) {
      if (force || c->committed != c->persisted) dirty.emplace_back(c.get(), c->committed);
    }
  }
  for (auto& [c, committed] : dirty) {
    char data[12];
    detail::Put64(data, committed);
    detail::Put32(data + 8, Crc32c(data, 8));
    const std::string path = CursorPath(c->name);
    if (ReplaceFile(path, std::string_view(data, sizeof(data)), Durability::kAtomic).ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      c->persisted = committed;
    }
  }
}

void WriteAheadBuffer::Shutdown(Deadline deadline) noexcept {
  std::vector<std::thread> threads;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    accepting_ = false;
    // What is queued is written before the writer stops.
    stopping_ = true;
    writer_cv_.notify_all();
    reader_cv_.notify_all();
    for (auto& c : cursors_) {
      if (c->replay.thread.joinable()) threads.push_back(std::move(c->replay.thread));
      if (c->live.thread.joinable()) threads.push_back(std::move(c->live.thread));
    }
  }
  if (writer_.joinable()) writer_.join();
  for (std::thread& t : threads) t.join();
  std::unique_lock<std::mutex> lock(mu_);
  settle_cv_.wait_until(lock, deadline, [&] {
    for (auto& c : cursors_) {
      if (c->in_flight.outstanding() > c->abandoned.size()) return false;
    }
    return true;
  });
}

void WriteAheadBuffer::Close() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || closed_) return;
    closed_ = true;
  }
  PersistCursors(/*force=*/true);
  std::lock_guard<std::mutex> lock(mu_);
  if (active_first_ != 0 && options_.fsync != FsyncPolicy::kNever) {
    fdatasync(segments_.at(active_first_).file->fd);
  }
  active_first_ = 0;
  segments_.clear();
}

uint64_t WriteAheadBuffer::size_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return disk_bytes_ + pending_bytes_;
}

uint64_t WriteAheadBuffer::backlog_records(const std::string& cursor) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& c : cursors_) {
    if (c->name == cursor) return c->backlog;
  }
  return 0;
}

uint64_t WriteAheadBuffer::committed(const std::string& cursor) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& c : cursors_) {
    if (c->name == cursor) return c->committed;
  }
  return 0;
}

}  // namespace tributary::core::runtime
