#include "receivers/tail/tail_receiver.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "re2/re2.h"
#include "receivers/tail/file_identity.h"
#include "tributary/core/byte_pool.h"
#include "tributary/core/utf8.h"
#include "tributary/core/wire.h"

namespace tributary::receivers::tail {

namespace {

constexpr size_t kReadBudget = 4 << 20;
constexpr std::string_view kScopeName = "tributary/receiver/tail";
constexpr uint32_t kScopeLogsLogRecords = 2;
constexpr auto kRescanSoon = std::chrono::milliseconds(100);

int64_t NowUnixNano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct TailReceiver::Shared {
  std::atomic<int64_t> inflight_bytes{0};
  int wake_fd = -1;
  prometheus::Counter* accepted = nullptr;
  prometheus::Counter* refused = nullptr;
  prometheus::Counter* failed = nullptr;

  ~Shared() {
    if (wake_fd >= 0) close(wake_fd);
  }
  void Wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd, &one, sizeof one);
  }
};

TailReceiver::TailReceiver(std::string id, TailReceiverConfig config, core::Consumer* logs)
    : id_(std::move(id)),
      config_(std::move(config)),
      logs_(logs),
      checkpoints_(config_.checkpoint_dir.empty()
                       ? nullptr
                       : std::make_unique<CheckpointStore>(config_.checkpoint_dir, id_)),
      watcher_(config_.include, config_.exclude),
      metrics_(id_) {
  assembler_options_.format = *ParseFormat(config_.format);
  if (config_.multiline) {
    line_start_ = std::make_unique<re2::RE2>(config_.multiline->line_start_pattern);
    assembler_options_.line_start = line_start_.get();
    assembler_options_.flush_timeout = config_.multiline->flush_timeout;
  }
  assembler_options_.max_record_bytes = config_.max_record_bytes.bytes;
  assembler_options_.message_key = config_.message_key;
  if (!config_.stderr_severity.empty()) {
    assembler_options_.stderr_severity = SeverityFromText(config_.stderr_severity);
  }
  shared_ = std::make_shared<Shared>();
  shared_->accepted = &metrics_.accepted;
  shared_->refused = &metrics_.refused;
  shared_->failed = &metrics_.failed;
  read_buffer_size_ = std::max<size_t>(1 << 20, config_.max_record_bytes.bytes + (64 << 10));
}

TailReceiver::~TailReceiver() {
  Shutdown(core::Clock::now());
  // Acknowledgements that arrived after shutdown still move the offsets.
  SaveCheckpoints(false);
}

absl::Status TailReceiver::Start() {
  shared_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (shared_->wake_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  if (config_.discovery == "inotify") {
    if (absl::Status s = watcher_.StartInotify(); !s.ok()) {
      core::Log(core::LogLevel::kWarn, id_, "inotify unavailable, polling",
                absl::StrCat("error=\"", s.message(), "\""));
    }
  }
  if (absl::Status s = checkpoints_.Load(); !s.ok()) return s;
  read_buffer_ = std::make_unique<char[]>(read_buffer_size_);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void TailReceiver::Shutdown(core::Deadline /*deadline*/) noexcept {
  if (!thread_.joinable()) return;
  stop_ = true;
  shared_->Wake();
  thread_.join();
  SaveCheckpoints(true);
}

int64_t TailReceiver::CommittedOffset(const std::string& path) const {
  std::lock_guard<std::mutex> lock(files_mu_);
  for (const auto& [key, f] : files_) {
    if (f->path == path) return static_cast<int64_t>(f->Committed());
  }
  return -1;
}

void TailReceiver::Run() {
  bool first = true;
  next_scan_ = SteadyTime();
  next_checkpoint_ = std::chrono::steady_clock::now() + config_.checkpoint_interval;
  while (!stop_) {
    const SteadyTime now = std::chrono::steady_clock::now();
    observed_ = NowUnixNano();
    if (rescan_ || now >= next_scan_) {
      rescan_ = false;
      Scan(first);
      first = false;
      next_scan_ = now + (!copies_.waiting() ? config_.poll_interval
                                             : std::min<std::chrono::milliseconds>(
                                                   config_.poll_interval, kRescanSoon));
    }
    const bool waiting_timers = RewindRefused(now) || copies_.waiting();
    bool more = ReadInOrder(now);
    if (line_start_) {
      for (auto& [key, f] : files_) f->assembler->FlushIdle(now, observed_);
    }
    more |= CloseFinished(now);
    Flush();
    CountRecords();
    if (now >= next_checkpoint_) {
      SaveCheckpoints(false);
      next_checkpoint_ = now + config_.checkpoint_interval;
    }
    if (!more && !stop_) {
      auto timeout = std::min(config_.poll_interval, config_.checkpoint_interval);
      if (waiting_timers) timeout = std::min(timeout, std::chrono::milliseconds(100));
      Wait(timeout);
    }
  }
  Flush();
}

bool TailReceiver::RewindRefused(SteadyTime now) {
  bool waiting = false;
  for (auto& [key, f] : files_) {
    if (const std::optional<uint64_t> committed = f->Refused()) {
      const uint64_t reread = f->Rewind(*committed, now);
      if (reread > 0) metrics_.reread_bytes.Increment(static_cast<double>(reread));
    }
    waiting |= f->rotated || f->retry_at > now || f->assembler->HasUnfinished();
  }
  return waiting;
}

bool TailReceiver::ReadInOrder(SteadyTime now) {
  // Older files first (a rotated file before its successor, a copy before
  // its truncated original), and a directory's newer files wait while an
  // older one has more to read, so each container's lines keep their order.
  std::vector<File*> order;
  order.reserve(files_.size());
  for (auto& [key, f] : files_) order.push_back(f.get());
  std::sort(order.begin(), order.end(),
            [](const File* a, const File* b) { return a->order < b->order; });
  std::set<std::string_view> behind;
  bool more = false;
  for (File* f : order) {
    if (stop_) break;
    const std::string_view dir = DirName(f->path);
    if (behind.count(dir)) continue;
    if (now < f->retry_at) {
      behind.insert(dir);
      continue;
    }
    if (InflightFull()) break;
    if (Read(*f, kReadBudget, now)) {
      more = true;
      behind.insert(dir);
    }
  }
  return more;
}

void TailReceiver::CountRecords() {
  for (auto& [key, f] : files_) {
    const AssemblerCounts& c = f->assembler->counts();
    metrics_.records.Increment(static_cast<double>(c.records - f->reported.records));
    metrics_.truncated.Increment(static_cast<double>(c.truncated - f->reported.truncated));
    metrics_.parse_errors.Increment(static_cast<double>(c.parse_errors - f->reported.parse_errors));
    f->reported = c;
  }
}

void TailReceiver::Wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{shared_->wake_fd, POLLIN, 0}, {watcher_.fd(), POLLIN, 0}};
  const int n = poll(fds, watcher_.inotify() ? 2 : 1, static_cast<int>(timeout.count()));
  if (n <= 0) return;
  if (fds[0].revents & POLLIN) {
    uint64_t value;
    [[maybe_unused]] ssize_t r = read(shared_->wake_fd, &value, sizeof value);
  }
  if (watcher_.inotify() && (fds[1].revents & POLLIN) && watcher_.ReadEvents()) rescan_ = true;
}

void TailReceiver::Scan(bool first) {
  const SteadyTime now = std::chrono::steady_clock::now();
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (const Candidate& c : NewFiles(watcher_.Paths(), first, now, &seen)) {
    if (files_.size() >= static_cast<size_t>(config_.max_open_files)) {
      uint64_t held;
      if (log_limiter_.Allow(&held)) {
        core::Log(core::LogLevel::kWarn, id_, "max_open_files reached, file waits",
                  absl::StrCat("path=", c.path, " suppressed=", held));
      }
      break;
    }
    if (auto f = Open(c.path, first, c.rotated, c.known ? &*c.known : nullptr)) {
      std::lock_guard<std::mutex> lock(files_mu_);
      files_[c.key] = std::move(f);
    }
  }
  if (first) checkpoints_.FirstScanDone();
  CheckOpenFiles(seen, now);
  copies_.Expire(now);
  // What appeared in a newly watched directory before its watch is found
  // by one more scan.
  if (watcher_.WatchDirectories()) rescan_ = true;
  UpdateGauges();
}

std::vector<TailReceiver::Candidate> TailReceiver::NewFiles(
    const std::set<std::string>& paths, bool first, SteadyTime now,
    std::set<std::pair<uint64_t, uint64_t>>* seen) {
  // Opened oldest first, so that a rotated file comes before its successor
  // in the reading order.
  std::vector<Candidate> candidates;
  auto mtime_ns = [](const struct stat& st) {
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  };
  for (const std::string& path : paths) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const std::pair<uint64_t, uint64_t> key{st.st_dev, st.st_ino};
    seen->insert(key);
    if (auto it = files_.find(key); it != files_.end()) {
      // The same file under another matching name: a rotated sibling, not a new file.
      if (it->second->path != path && !it->second->rotated) metrics_.renamed_files.Increment();
      it->second->path = path;
      it->second->rotated = false;
      continue;
    }
    std::optional<Checkpoint> known = checkpoints_.Claim(key.first, key.second);
    if (!known && copies_.InProgress(path, static_cast<uint64_t>(st.st_size), Origins(), now)) {
      continue;
    }
    candidates.push_back(Candidate{mtime_ns(st), path, key, std::move(known), false});
  }
  if (first) {
    // Files rotated away while the process was down.
    for (Checkpointer::Moved& m : checkpoints_.ClaimMoved()) {
      struct stat st;
      if (stat(m.path.c_str(), &st) != 0) continue;
      candidates.push_back(Candidate{
          mtime_ns(st), std::move(m.path), {st.st_dev, st.st_ino}, std::move(m.checkpoint), true});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.mtime_ns < b.mtime_ns; });
  return candidates;
}

void TailReceiver::CheckOpenFiles(const std::set<std::pair<uint64_t, uint64_t>>& seen,
                                  SteadyTime now) {
  for (auto& [key, f] : files_) {
    struct stat st;
    if (fstat(f->fd, &st) != 0) continue;
    if (!seen.count(key) && !f->rotated) {
      f->rotated = true;
      f->last_data = now;
      (st.st_nlink == 0 ? metrics_.deleted_files : metrics_.renamed_files).Increment();
      core::Log(core::LogLevel::kDebug, id_, st.st_nlink == 0 ? "file deleted" : "file rotated",
                absl::StrCat("path=", f->path));
    }
    CheckTruncated(*f, static_cast<uint64_t>(st.st_size), now);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (f->fingerprint_size < kFingerprintSize && size > f->fingerprint_size) {
      const auto fp_size = static_cast<uint32_t>(std::min<uint64_t>(size, kFingerprintSize));
      if (auto fp = Fingerprint(f->fd, fp_size)) {
        f->fingerprint_size = fp_size;
        f->fingerprint = *fp;
      }
    }
  }
}

std::shared_ptr<TailReceiver::File> TailReceiver::Open(const std::string& path, bool first,
                                                       bool rotated, const Checkpoint* known) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    uint64_t held;
    if (log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kWarn, id_, "cannot open file",
                absl::StrCat("path=", path, " error=\"", strerror(errno), "\" suppressed=", held));
    }
    return nullptr;
  }
  auto f = std::make_shared<File>();
  f->fd = fd;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
  f->path = path;
  f->device = st.st_dev;
  f->inode = st.st_ino;
  f->size = static_cast<uint64_t>(st.st_size);
  f->rotated = rotated;
  f->last_data = std::chrono::steady_clock::now();
  f->fingerprint_size = static_cast<uint32_t>(std::min<uint64_t>(f->size, kFingerprintSize));
  f->fingerprint = Fingerprint(fd, f->fingerprint_size).value_or(0);
  f->order = next_order_ += 2;
  const uint64_t offset = StartOffset(*f, path, f->size, first, known);
  f->StartAt(offset);
  File* raw = f.get();
  f->assembler = std::make_unique<RecordAssembler>(&assembler_options_, [this, raw] {
    FinishRecord();
    BeginFile(*raw);
    ++batch_records_;
    ++batch_files_[current_].count;
    record_file_ = current_;
    record_.Clear();
    return &record_;
  });
  core::Log(core::LogLevel::kInfo, id_, "reading file",
            absl::StrCat("path=", path, " offset=", offset, rotated ? " rotated=true" : ""));
  return f;
}

std::vector<CopyTracker::Origin> TailReceiver::Origins() const {
  std::vector<CopyTracker::Origin> origins;
  for (const auto& [key, g] : files_) {
    origins.push_back({g->path, g->fingerprint_size, g->fingerprint,
                       g->assembler->SafeOffset(g->consumed), g->order});
  }
  // After a restart: a file checkpointed before it was truncated.
  for (const Checkpoint& c : checkpoints_.loaded()) {
    origins.push_back({c.path, c.fingerprint_size, c.fingerprint, c.offset, std::nullopt});
  }
  return origins;
}

uint64_t TailReceiver::StartOffset(File& f, const std::string& path, uint64_t size, bool first,
                                   const Checkpoint* known) {
  if (known) {
    if (known->fingerprint_size <= size &&
        Fingerprint(f.fd, known->fingerprint_size) == known->fingerprint) {
      if (known->offset <= size) return known->offset;
      metrics_.truncated_files.Increment();  // truncated while we were away
    }
    return 0;  // the inode now belongs to another file
  }
  // The copy that copytruncate makes of a file before truncating it.
  if (const auto original = copies_.CopyOf(f.fd, path, size, Origins())) {
    if (original->order) f.order = *original->order - 1;
    return std::min(size, original->offset);
  }
  if (first && config_.start_at == "end") return size;
  return 0;
}

void TailReceiver::CheckTruncated(File& f, uint64_t size, SteadyTime now) {
  bool truncated = size < f.read_offset;
  if (!truncated && f.fingerprint_size > 0 && f.read_offset > 0) {
    truncated = Fingerprint(f.fd, f.fingerprint_size) != std::optional<uint32_t>(f.fingerprint);
  }
  if (!truncated) return;
  metrics_.truncated_files.Increment();
  core::Log(core::LogLevel::kDebug, id_, "file truncated", absl::StrCat("path=", f.path));
  copies_.Truncated(
      {f.path, f.fingerprint_size, f.fingerprint, f.assembler->SafeOffset(f.consumed), f.order},
      now);
  f.Restart(size);
}

bool TailReceiver::InflightFull() const {
  return shared_->inflight_bytes.load() >= static_cast<int64_t>(config_.max_inflight_bytes.bytes);
}

bool TailReceiver::Read(File& f, size_t budget, SteadyTime now) {
  if (f.at_eof && f.read_offset > 0) {
    // Woken at the end of the file: make sure it is still the same content
    // (truncated and rewritten past our offset looks like growth otherwise).
    struct stat st;
    if (fstat(f.fd, &st) == 0 && static_cast<uint64_t>(st.st_size) != f.size) {
      CheckTruncated(f, static_cast<uint64_t>(st.st_size), now);
    }
  }
  // After each line: a full batch goes on, and reading stops while
  // downstream is behind (what was read beyond the line is read again later).
  auto after_line = [this] {
    if (batch_records_ < static_cast<size_t>(config_.max_batch_records)) return true;
    Flush();
    return !InflightFull();
  };
  size_t total = 0;
  while (total < budget && !stop_) {
    if (InflightFull()) return false;
    size_t len = 0;
    const int64_t n = f.Fill(read_buffer_.get(), read_buffer_size_, &len);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        uint64_t held;
        if (log_limiter_.Allow(&held)) {
          core::Log(core::LogLevel::kWarn, id_, "read failed",
                    absl::StrCat("path=", f.path, " error=\"", strerror(errno), "\""));
        }
      }
      struct stat st;
      if (fstat(f.fd, &st) == 0) {
        f.size = static_cast<uint64_t>(st.st_size);
        if (f.size < f.read_offset) {
          CheckTruncated(f, f.size, now);
          return true;
        }
      }
      f.at_eof = true;
      return total > 0;
    }
    total += static_cast<size_t>(n);
    if (f.read_offset > f.counted) {
      // Bytes read again (after a pause or a refusal) are counted once.
      metrics_.read_bytes.Increment(static_cast<double>(f.read_offset - f.counted));
      f.counted = f.read_offset;
    }
    f.last_data = now;
    if (!f.Frame(read_buffer_.get(), len, config_.max_record_bytes.bytes, now, observed_,
                 after_line)) {
      return false;
    }
  }
  return true;
}

void TailReceiver::BeginFile(File& f) {
  if (current_ != kNoFile && batch_files_[current_].file.get() == &f) return;
  for (size_t i = 0; i < batch_files_.size(); ++i) {
    if (batch_files_[i].file.get() == &f) {
      current_ = i;
      return;
    }
  }
  BatchFile bf;
  bf.file = f.shared_from_this();
  opentelemetry::proto::resource::v1::Resource resource;
  auto* path = resource.add_attributes();
  path->set_key("log.file.path");
  core::utf8::AppendValid(f.path, path->mutable_value()->mutable_string_value());
  auto* name = resource.add_attributes();
  name->set_key("log.file.name");
  core::utf8::AppendValid(BaseName(f.path), name->mutable_value()->mutable_string_value());
  resource.SerializeToString(&bf.resource);
  // The first file of a batch usually holds most of it: room for its
  // records comes from memory a batch before gave back.
  if (batch_files_.empty()) bf.records = core::byte_pool::TakeEmpty(last_batch_bytes_);
  batch_files_.push_back(std::move(bf));
  current_ = batch_files_.size() - 1;
}

void TailReceiver::FinishRecord() {
  if (record_file_ == kNoFile) return;
  std::string& out = batch_files_[record_file_].records;
  record_file_ = kNoFile;
  const size_t size = record_.ByteSizeLong();
  core::wire::AppendLenHeader(kScopeLogsLogRecords, size, &out);
  const size_t at = out.size();
  out.resize(at + size);
  record_.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out.data() + at));
}

std::string TailReceiver::Compose() {
  // ExportLogsServiceRequest { resource_logs = 1 }, ResourceLogs { resource
  // = 1, scope_logs = 2 }, ScopeLogs { scope = 1, log_records = 2 },
  // InstrumentationScope { name = 1 }; files whose lines made no records
  // (blank lines) leave no empty resource.
  using core::wire::LenFieldSize;
  const size_t scope = LenFieldSize(1, kScopeName.size());
  auto scope_logs_size = [&](const BatchFile& bf) {
    return LenFieldSize(1, scope) + bf.records.size();
  };
  auto resource_logs_size = [&](const BatchFile& bf) {
    return LenFieldSize(1, bf.resource.size()) + LenFieldSize(2, scope_logs_size(bf));
  };
  size_t total = 0;
  for (const BatchFile& bf : batch_files_) {
    if (bf.count > 0) total += LenFieldSize(1, resource_logs_size(bf));
  }
  std::string out = core::byte_pool::TakeEmpty(total);
  size_t largest = 0;
  for (const BatchFile& bf : batch_files_) {
    largest = std::max(largest, bf.records.size());
    if (bf.count == 0) continue;
    core::wire::AppendLenHeader(1, resource_logs_size(bf), &out);
    core::wire::AppendLenHeader(1, bf.resource.size(), &out);
    out += bf.resource;
    core::wire::AppendLenHeader(2, scope_logs_size(bf), &out);
    core::wire::AppendLenHeader(1, scope, &out);
    core::wire::AppendLenHeader(1, kScopeName.size(), &out);
    out += kScopeName;
    out += bf.records;
  }
  last_batch_bytes_ = largest;
  return out;
}

void TailReceiver::Flush() {
  FinishRecord();
  // Files read since the last batch: their offsets move even without records.
  for (auto& [key, f] : files_) {
    if (f->assembler->SafeOffset(f->consumed) != f->sent) BeginFile(*f);
  }
  current_ = kNoFile;
  if (batch_files_.empty()) return;
  core::Envelope envelope;
  for (BatchFile& bf : batch_files_) {
    File& f = *bf.file;
    const uint64_t end = f.assembler->SafeOffset(f.consumed);
    const uint64_t bytes = end > f.sent ? end - f.sent : 0;
    f.sent = end;
    const size_t records = bf.count;
    // Plain names, not a structured binding, for the callback to capture.
    const std::pair<uint64_t, uint64_t> handed = f.Hand(end);
    const uint64_t generation = handed.first;
    const uint64_t seq = handed.second;
    shared_->inflight_bytes += static_cast<int64_t>(bytes);
    envelope.acks.push_back(
        std::make_shared<core::Ack>([shared = shared_, file = bf.file, generation, seq, bytes,
                                     records](const absl::Status& status) {
          shared->inflight_bytes -= static_cast<int64_t>(bytes);
          file->Settle(generation, seq, status.ok());
          prometheus::Counter* counter = status.ok()                 ? shared->accepted
                                         : core::IsRetryable(status) ? shared->refused
                                                                     : shared->failed;
          counter->Increment(static_cast<double>(records));
          shared->Wake();
        }));
  }
  const size_t records = batch_records_;
  batch_records_ = 0;
  std::string request = records > 0 ? Compose() : std::string();
  for (BatchFile& bf : batch_files_) core::byte_pool::Give(std::move(bf.records));
  batch_files_.clear();
  if (records == 0) return;  // the acks settle as the envelope goes
  std::vector<core::AckRef> acks = envelope.acks;
  envelope.batch =
      std::make_shared<const core::Batch>(core::Signal::kLogs, std::move(request), records);
  absl::Status status = logs_->Consume(std::move(envelope));
  if (!status.ok()) {
    for (const core::AckRef& ack : acks) ack->Fail(status);
    uint64_t held;
    if (log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kWarn, id_, "pipeline refused records, pausing",
                absl::StrCat("records=", records, " error=\"", status.ToString(),
                             "\" suppressed=", held));
    }
  }
}

bool TailReceiver::CloseFinished(SteadyTime now) {
  bool flushed = false;
  for (auto it = files_.begin(); it != files_.end();) {
    File& f = *it->second;
    if (!f.rotated || !f.at_eof || now - f.last_data < config_.rotate_wait) {
      ++it;
      continue;
    }
    if (!f.final_flushed) {
      // Nothing more will be appended: what is unfinished is complete.
      f.assembler->FlushAll(observed_);
      f.final_flushed = true;
      flushed = true;
      ++it;
      continue;
    }
    if (!f.Settled()) {
      ++it;
      continue;
    }
    core::Log(core::LogLevel::kInfo, id_, "closing file",
              absl::StrCat("path=", f.path, " offset=", f.consumed));
    std::lock_guard<std::mutex> lock(files_mu_);
    it = files_.erase(it);
  }
  return flushed;
}

void TailReceiver::SaveCheckpoints(bool force) {
  std::vector<Checkpoint> checkpoints;
  uint64_t lag = 0;
  {
    std::lock_guard<std::mutex> lock(files_mu_);
    for (const auto& [key, f] : files_) {
      Checkpoint c;
      c.device = f->device;
      c.inode = f->inode;
      c.fingerprint_size = f->fingerprint_size;
      c.fingerprint = f->fingerprint;
      c.offset = f->Committed();
      c.path = f->path;
      lag += f->size > c.offset ? f->size - c.offset : 0;
      checkpoints.push_back(std::move(c));
    }
  }
  metrics_.checkpoint_lag.Set(static_cast<double>(lag));
  if (absl::Status s = checkpoints_.Save(std::move(checkpoints), force); !s.ok()) {
    uint64_t held;
    if (log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kError, id_, "checkpoint not saved",
                absl::StrCat("error=\"", s.ToString(), "\" suppressed=", held));
    }
  }
}

void TailReceiver::UpdateGauges() {
  open_files_ = files_.size();
  metrics_.open_files.Set(static_cast<double>(files_.size()));
}

}  // namespace tributary::receivers::tail
