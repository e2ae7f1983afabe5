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
#include "buffer_files.h"
#include "tributary/core/byte_pool.h"
#include "tributary/core/crc32c.h"
#include "tributary/core/durable_file.h"
#include "tributary/core/log.h"

namespace tributary::core::runtime {

namespace {
constexpr size_t kMaxIov = 512;
constexpr uint64_t kMaxPendingBytes = 8ull << 20;
constexpr auto kCursorPersistInterval = std::chrono::milliseconds(200);

// Writes `bytes` bytes, all of iov, at `offset` of fd; 0, or the errno of
// the failure (ENOSPC for a write that made no progress).
int WriteFully(int fd, std::vector<iovec>& iov, uint64_t offset, uint64_t bytes) {
  uint64_t written = 0;
  size_t first_iov = 0;
  while (written < bytes) {
    ssize_t n = pwritev(fd, iov.data() + first_iov, static_cast<int>(iov.size() - first_iov),
                        static_cast<off_t>(offset + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : ENOSPC;
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
  return 0;
}
}  // namespace

WriteAheadBuffer::WriteAheadBuffer(BufferOptions options)
    : options_(std::move(options)),
      component_("buffer/" + options_.name),
      bytes_gauge_(Telemetry::Get().BufferBytes(options_.name)),
      dropped_newest_(Telemetry::Get().Dropped(component_, options_.signal, "buffer_full")),
      corrupt_bytes_(Telemetry::Get().BufferCorruptBytes(options_.name)),
      fsync_duration_(Telemetry::Get().BufferFsyncDuration(options_.name)) {
  link_ = std::make_shared<SettleLink>();
  link_->buffer = this;
  Telemetry::Get().BufferCapacity(options_.name).Set(static_cast<double>(options_.max_bytes));
}

WriteAheadBuffer::~WriteAheadBuffer() {
  {
    std::lock_guard<std::mutex> lock(link_->mu);
    link_->buffer = nullptr;
  }
  Shutdown(Clock::now());
  Close();
}

void WriteAheadBuffer::AddCursor(const std::string& name, Consumer* next, bool wire_form) {
  auto c = std::make_unique<Cursor>();
  c->name = name;
  c->next = next;
  c->wire_form = wire_form;
  Telemetry& t = Telemetry::Get();
  c->backlog_gauge = &t.BufferRecords(options_.name, name, options_.signal);
  c->dropped_full = &t.Dropped(name, options_.signal, "buffer_full");
  c->dropped_corrupt = &t.Dropped(name, options_.signal, "buffer_corrupt");
  cursors_.push_back(std::move(c));
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
  if (envelope.batch->wire() != nullptr) {
    p.source = envelope.batch;  // serialized already
  } else {
    const google::protobuf::Message& request = envelope.batch->message();
    p.serialized = byte_pool::Take(request.ByteSizeLong());
    request.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p.serialized.data()));
  }
  if (p.payload().size() > detail::kMaxRecordBytes) {
    return absl::InvalidArgumentError("batch larger than the largest buffer record");
  }
  const uint64_t size = detail::kRecordHeaderSize + p.payload().size();
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
    const uint64_t first_size = detail::kRecordHeaderSize + group[i].payload().size();
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
      const uint64_t size = detail::kRecordHeaderSize + group[j].payload().size();
      if (j > i && offset + bytes + size > options_.segment_bytes) break;
      detail::RecordHeader h;
      h.seq = group[j].seq;
      h.records = group[j].records;
      h.signal = options_.signal;
      headers.emplace_back();
      detail::EncodeRecordHeader(h, group[j].payload(), headers.back().data());
      bytes += size;
      ++j;
    }
    for (size_t k = i; k < j; ++k) {
      iov.push_back({headers[k - i].data(), detail::kRecordHeaderSize});
      const std::string_view payload = group[k].payload();
      iov.push_back({const_cast<char*>(payload.data()), payload.size()});
    }
    const int fd = active->file->fd;
    if (int err = WriteFully(fd, iov, offset, bytes); err != 0) {
      // Leave the segment as it was before this write; if even that
      // fails, recovery will cut the tail, and a new segment takes over.
      if (ftruncate(fd, static_cast<off_t>(offset)) != 0) {
        std::lock_guard<std::mutex> lock(mu_);
        active_first_ = 0;
      }
      return absl::ResourceExhaustedError(absl::StrCat("cannot write the buffer: ", strerror(err)));
    }
    if (options_.fsync == FsyncPolicy::kAlways) {
      Clock::time_point begin = Clock::now();
      fdatasync(fd);
      fsync_duration_.Observe(std::chrono::duration<double>(Clock::now() - begin).count());
    } else {
      unsynced_ = true;
    }
    IndexWritten(active, group, i, j, offset);
    reader_cv_.notify_all();
    // The data is in the buffer: the senders may hear success.
    for (size_t k = i; k < j; ++k) group[k].acks.clear();
    i = j;
    *written_records = i;
  }
  return absl::OkStatus();
}

void WriteAheadBuffer::IndexWritten(Segment* segment, const std::vector<Pending>& group,
                                    size_t from, size_t to, uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t pos = offset;
  for (size_t k = from; k < to; ++k) {
    const Pending& p = group[k];
    segment->index.push_back({p.seq, pos, static_cast<uint32_t>(p.payload().size()), p.records});
    const uint64_t size = detail::kRecordHeaderSize + p.payload().size();
    pos += size;
    pending_bytes_ -= size;
    disk_bytes_ += size;
    head_seq_ = p.seq;
    for (auto& c : cursors_) c->backlog += p.records;
  }
  segment->bytes = pos;
  UpdateGaugesLocked();
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
    // Written or failed, serialized records' memory goes back to the pool.
    struct Recycle {
      std::vector<Pending>* group;
      ~Recycle() {
        for (Pending& p : *group) byte_pool::Give(std::move(p.serialized));
      }
    } recycle{&group};
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
          pending_bytes_ -= detail::kRecordHeaderSize + p.payload().size();
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
    const std::string path = CursorPath(c->name);
    if (ReplaceFile(path, detail::EncodeCursor(committed), Durability::kAtomic).ok()) {
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
