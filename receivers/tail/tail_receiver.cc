#include "receivers/tail/tail_receiver.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "re2/re2.h"
#include "tributary/core/crc32c.h"
#include "tributary/core/ordered_acks.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::tail {

using core::Signal;

namespace {

constexpr uint32_t kFingerprintSize = 1024;
// A file is taken for the copy of a rotating one only on this much evidence.
constexpr uint32_t kMinCopyFingerprint = 64;
constexpr size_t kReadBudget = 4 << 20;
constexpr auto kTruncationMemory = std::chrono::minutes(5);
constexpr auto kCopyWait = std::chrono::seconds(5);
constexpr auto kRescanSoon = std::chrono::milliseconds(100);

int64_t NowUnixNano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view DirName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? "." : path.substr(0, std::max<size_t>(slash, 1));
}

std::string_view BaseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// CRC32C of the first `size` bytes of fd, or nullopt if it has fewer.
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

struct TailFamilies {
  prometheus::Family<prometheus::Counter>& read_bytes;
  prometheus::Family<prometheus::Counter>& records;
  prometheus::Family<prometheus::Counter>& truncated;
  prometheus::Family<prometheus::Counter>& parse_errors;
  prometheus::Family<prometheus::Counter>& rotations;
  prometheus::Family<prometheus::Counter>& reread;
  prometheus::Family<prometheus::Gauge>& open_files;
  prometheus::Family<prometheus::Gauge>& lag;

  static TailFamilies& Get() {
    static TailFamilies* f = [] {
      auto& r = core::Telemetry::Get().registry();
      return new TailFamilies{
          prometheus::BuildCounter()
              .Name("tributary_tail_read_bytes_total")
              .Help("Bytes read from log files, each byte once")
              .Register(r),
          prometheus::BuildCounter()
              .Name("tributary_tail_records_total")
              .Help("Log records made from the lines read")
              .Register(r),
          prometheus::BuildCounter()
              .Name("tributary_tail_truncated_records_total")
              .Help("Records cut at max_record_bytes")
              .Register(r),
          prometheus::BuildCounter()
              .Name("tributary_tail_parse_errors_total")
              .Help("Lines not in the configured format, handed on as raw records")
              .Register(r),
          prometheus::BuildCounter()
              .Name("tributary_tail_rotations_total")
              .Help("Files renamed away, truncated or deleted while being read")
              .Register(r),
          prometheus::BuildCounter()
              .Name("tributary_tail_reread_bytes_total")
              .Help("Bytes read again after downstream refused them")
              .Register(r),
          prometheus::BuildGauge()
              .Name("tributary_tail_open_files")
              .Help("Files held open")
              .Register(r),
          prometheus::BuildGauge()
              .Name("tributary_tail_checkpoint_lag_bytes")
              .Help("Bytes in the files beyond their acknowledged offsets")
              .Register(r),
      };
    }();
    return *f;
  }
};

}  // namespace

struct TailReceiver::Shared {
  std::atomic<int64_t> inflight_bytes{0};
  int wake_fd = -1;
  std::string id;
  prometheus::Counter* accepted = nullptr;

  ~Shared() {
    if (wake_fd >= 0) close(wake_fd);
  }
  void Wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd, &one, sizeof one);
  }
};

struct TailReceiver::File : std::enable_shared_from_this<File> {
  std::string path;
  uint64_t device = 0;
  uint64_t inode = 0;
  int fd = -1;
  uint32_t fingerprint_size = 0;
  uint32_t fingerprint = 0;
  uint64_t size = 0;
  uint64_t read_offset = 0;  // next byte to read
  uint64_t consumed = 0;     // bytes before it are records, or in `carry`... after it
  uint64_t sent = 0;         // offset covered by the batches handed on
  uint64_t counted = 0;      // bytes up to here are in tributary_tail_read_bytes_total
  std::string carry;         // the incomplete last line, from `consumed`
  bool skipping = false;     // dropping the rest of an over-long line
  bool at_eof = false;
  bool rotated = false;  // renamed away, deleted, or no longer matched
  bool final_flushed = false;
  int failures = 0;
  uint64_t order = 0;  // reading order: older files first
  SteadyTime last_data;
  SteadyTime retry_at;
  std::unique_ptr<RecordAssembler> assembler;
  AssemblerCounts reported;

  // Shared with acknowledgement callbacks.
  std::mutex mu;
  uint64_t generation = 0;
  uint64_t next_seq = 0;
  core::OrderedAcks<uint64_t, uint64_t> pending;  // batch sequence -> end offset
  uint64_t committed = 0;
  bool failed = false;

  ~File() {
    if (fd >= 0) close(fd);
  }
};

absl::Status MultilineConfig::Validate() const {
  re2::RE2 re(line_start_pattern, re2::RE2::Quiet);
  if (!re.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("line_start_pattern does not compile: ", re.error()));
  }
  if (flush_timeout.count() <= 0) return absl::InvalidArgumentError("flush_timeout must be > 0");
  return absl::OkStatus();
}

absl::Status TailReceiverConfig::Validate() const {
  if (include.empty()) return absl::InvalidArgumentError("include needs at least one pattern");
  if (!ParseFormat(format)) {
    return absl::InvalidArgumentError("format must be one of cri, docker, json, raw");
  }
  if (start_at != "beginning" && start_at != "end") {
    return absl::InvalidArgumentError("start_at must be beginning or end");
  }
  if (discovery != "inotify" && discovery != "poll") {
    return absl::InvalidArgumentError("discovery must be inotify or poll");
  }
  if (!stderr_severity.empty() && SeverityFromText(stderr_severity) == 0) {
    return absl::InvalidArgumentError("stderr_severity must name a severity (e.g. warn, error)");
  }
  if (max_record_bytes.bytes < 64) return absl::InvalidArgumentError("max_record_bytes >= 64");
  if (max_batch_records < 1) return absl::InvalidArgumentError("max_batch_records must be >= 1");
  if (max_open_files < 1) return absl::InvalidArgumentError("max_open_files must be >= 1");
  if (max_inflight_bytes.bytes == 0) return absl::InvalidArgumentError("max_inflight_bytes > 0");
  if (poll_interval.count() <= 0 || checkpoint_interval.count() <= 0 || rotate_wait.count() < 0) {
    return absl::InvalidArgumentError("poll_interval and checkpoint_interval must be > 0");
  }
  return absl::OkStatus();
}

TailReceiver::TailReceiver(std::string id, TailReceiverConfig config, core::Consumer* logs)
    : id_(std::move(id)), config_(std::move(config)), logs_(logs) {
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
  if (!config_.checkpoint_dir.empty()) {
    store_ = std::make_unique<CheckpointStore>(config_.checkpoint_dir, id_);
  }
  shared_ = std::make_shared<Shared>();
  shared_->id = id_;
  shared_->accepted = &core::Telemetry::Get().ReceiverAccepted(id_, Signal::kLogs, "file");
  TailFamilies& fam = TailFamilies::Get();
  const prometheus::Labels labels{{"receiver", id_}};
  read_bytes_ = &fam.read_bytes.Add(labels);
  records_ = &fam.records.Add(labels);
  truncated_ = &fam.truncated.Add(labels);
  parse_errors_ = &fam.parse_errors.Add(labels);
  rotations_renamed_ = &fam.rotations.Add({{"receiver", id_}, {"kind", "rename"}});
  rotations_truncated_ = &fam.rotations.Add({{"receiver", id_}, {"kind", "truncate"}});
  deleted_ = &fam.rotations.Add({{"receiver", id_}, {"kind", "delete"}});
  reread_bytes_ = &fam.reread.Add(labels);
  open_files_gauge_ = &fam.open_files.Add(labels);
  checkpoint_lag_ = &fam.lag.Add(labels);
  read_buffer_size_ = std::max<size_t>(1 << 20, config_.max_record_bytes.bytes + (64 << 10));
}

TailReceiver::~TailReceiver() {
  Shutdown(core::Clock::now());
  // Acknowledgements that arrived after shutdown still move the offsets.
  if (store_) SaveCheckpoints(false);
}

absl::Status TailReceiver::Start() {
  shared_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (shared_->wake_fd < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  if (config_.discovery == "inotify") {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      core::Log(core::LogLevel::kWarn, id_, "inotify unavailable, polling",
                absl::StrCat("error=\"", strerror(errno), "\""));
    }
  }
  if (store_) {
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
  }
  read_buffer_ = std::make_unique<char[]>(read_buffer_size_);
  NewBatch();
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void TailReceiver::Shutdown(core::Deadline /*deadline*/) noexcept {
  if (!thread_.joinable()) return;
  stop_ = true;
  shared_->Wake();
  thread_.join();
  if (store_) SaveCheckpoints(true);
  if (inotify_fd_ >= 0) {
    close(inotify_fd_);
    inotify_fd_ = -1;
  }
}

int64_t TailReceiver::CommittedOffset(const std::string& path) const {
  std::lock_guard<std::mutex> lock(files_mu_);
  for (const auto& [key, f] : files_) {
    if (f->path != path) continue;
    std::lock_guard<std::mutex> file_lock(f->mu);
    return static_cast<int64_t>(f->committed);
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
      next_scan_ = now + (deferred_.empty() ? config_.poll_interval
                                            : std::min<std::chrono::milliseconds>(
                                                  config_.poll_interval, kRescanSoon));
    }
    bool waiting_timers = !deferred_.empty();
    for (auto& [key, f] : files_) {
      bool failed;
      uint64_t committed;
      {
        std::lock_guard<std::mutex> lock(f->mu);
        failed = f->failed;
        committed = f->committed;
        if (!failed && f->pending.empty()) f->failures = 0;
      }
      if (failed) Rewind(*f, committed, now);
      waiting_timers |= f->rotated || f->retry_at > now || f->assembler->HasUnfinished();
    }
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
      if (shared_->inflight_bytes.load() >=
          static_cast<int64_t>(config_.max_inflight_bytes.bytes)) {
        break;
      }
      if (Read(*f, kReadBudget, now)) {
        more = true;
        behind.insert(dir);
      }
    }
    if (line_start_) {
      for (auto& [key, f] : files_) f->assembler->FlushIdle(now, observed_);
    }
    more |= CloseFinished(now);
    Flush();
    for (auto& [key, f] : files_) {
      const AssemblerCounts& c = f->assembler->counts();
      records_->Increment(static_cast<double>(c.records - f->reported.records));
      truncated_->Increment(static_cast<double>(c.truncated - f->reported.truncated));
      parse_errors_->Increment(static_cast<double>(c.parse_errors - f->reported.parse_errors));
      f->reported = c;
    }
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

void TailReceiver::Wait(std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{shared_->wake_fd, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
  const int n = poll(fds, inotify_fd_ >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (n <= 0) return;
  if (fds[0].revents & POLLIN) {
    uint64_t value;
    [[maybe_unused]] ssize_t r = read(shared_->wake_fd, &value, sizeof value);
  }
  if (inotify_fd_ >= 0 && (fds[1].revents & POLLIN)) {
    alignas(inotify_event) char buf[64 << 10];
    while (true) {
      const ssize_t len = read(inotify_fd_, buf, sizeof buf);
      if (len <= 0) break;
      for (ssize_t i = 0; i < len;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + i);
        if (e->mask & IN_IGNORED) watches_.erase(e->wd);
        if (e->mask & ~(IN_MODIFY | IN_ISDIR)) rescan_ = true;
        i += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
  }
}

void TailReceiver::Scan(bool first) {
  std::set<std::string> paths;
  for (const std::string& pattern : config_.include) {
    glob_t g{};
    if (glob(pattern.c_str(), GLOB_NOSORT | GLOB_BRACE, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.insert(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  std::set<std::pair<uint64_t, uint64_t>> seen;
  const SteadyTime now = std::chrono::steady_clock::now();
  // New files, opened oldest first so that a rotated file comes before its
  // successor in the reading order.
  struct Candidate {
    int64_t mtime_ns;
    std::string path;
    std::pair<uint64_t, uint64_t> key;
    std::optional<Checkpoint> known;
    bool rotated;
  };
  std::vector<Candidate> candidates;
  auto mtime_ns = [](const struct stat& st) {
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  };
  for (const std::string& path : paths) {
    bool excluded = false;
    for (const std::string& pattern : config_.exclude) {
      excluded |= fnmatch(pattern.c_str(), path.c_str(), 0) == 0;
    }
    struct stat st;
    if (excluded || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const std::pair<uint64_t, uint64_t> key{st.st_dev, st.st_ino};
    seen.insert(key);
    if (auto it = files_.find(key); it != files_.end()) {
      // The same file under another matching name: a rotated sibling, not a new file.
      if (it->second->path != path && !it->second->rotated) rotations_renamed_->Increment();
      it->second->path = path;
      it->second->rotated = false;
      continue;
    }
    std::optional<Checkpoint> known;
    for (auto c = unclaimed_.begin(); c != unclaimed_.end(); ++c) {
      if (c->device == key.first && c->inode == key.second) {
        known = *c;
        unclaimed_.erase(c);
        break;
      }
    }
    if (!known && CopyInProgress(path, static_cast<uint64_t>(st.st_size), now)) continue;
    candidates.push_back(Candidate{mtime_ns(st), path, key, std::move(known), false});
  }
  if (first) {
    // Files rotated away while the process was down: look for each remaining
    // checkpoint's inode in the directory it was last seen in.
    for (const Checkpoint& c : unclaimed_) {
      const std::string dir(DirName(c.path));
      DIR* d = opendir(dir.c_str());
      if (d == nullptr) continue;
      while (dirent* e = readdir(d)) {
        if (e->d_ino != c.inode) continue;
        const std::string path = absl::StrCat(dir, "/", e->d_name);
        struct stat st;
        if (stat(path.c_str(), &st) != 0 || st.st_dev != c.device || !S_ISREG(st.st_mode)) {
          continue;
        }
        candidates.push_back(Candidate{mtime_ns(st), path, {st.st_dev, st.st_ino}, c, true});
        break;
      }
      closedir(d);
    }
    unclaimed_.clear();
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.mtime_ns < b.mtime_ns; });
  for (const Candidate& c : candidates) {
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
  if (first) loaded_.clear();
  for (auto& [key, f] : files_) {
    struct stat st;
    if (fstat(f->fd, &st) != 0) continue;
    if (!seen.count(key) && !f->rotated) {
      f->rotated = true;
      f->last_data = now;
      (st.st_nlink == 0 ? deleted_ : rotations_renamed_)->Increment();
      core::Log(core::LogLevel::kDebug, id_, st.st_nlink == 0 ? "file deleted" : "file rotated",
                absl::StrCat("path=", f->path));
    }
    CheckTruncated(*f, static_cast<uint64_t>(st.st_size), now);
    if (f->fingerprint_size<kFingerprintSize&& static_cast<uint64_t>(st.st_size)> f
            ->fingerprint_size) {
      const auto size = static_cast<uint32_t>(std::min<uint64_t>(st.st_size, kFingerprintSize));
      if (auto fp = Fingerprint(f->fd, size)) {
        f->fingerprint_size = size;
        f->fingerprint = *fp;
      }
    }
  }
  while (!truncations_.empty() && now - truncations_.front().at > kTruncationMemory) {
    truncations_.pop_front();
  }
  if (inotify_fd_ >= 0) WatchDirectories();
  UpdateGauges();
}

void TailReceiver::WatchDirectories() {
  std::set<std::string> dirs;
  for (const std::string& pattern : config_.include) {
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
    dirs.insert(existing);
    // Every directory the wildcard levels reach.
    std::string prefix = fixed;
    for (; i + 1 < parts.size(); ++i) {
      prefix += "/" + parts[i];
      glob_t g{};
      if (glob(prefix.c_str(), GLOB_NOSORT | GLOB_BRACE | GLOB_ONLYDIR, nullptr, &g) == 0) {
        for (size_t k = 0; k < g.gl_pathc; ++k) {
          if (stat(g.gl_pathv[k], &st) == 0 && S_ISDIR(st.st_mode)) dirs.insert(g.gl_pathv[k]);
        }
      }
      globfree(&g);
    }
  }
  std::set<std::string> watched;
  for (const auto& [wd, dir] : watches_) watched.insert(dir);
  for (const std::string& dir : dirs) {
    if (watched.count(dir)) continue;
    const int wd = inotify_add_watch(inotify_fd_, dir.c_str(),
                                     IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                         IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
    if (wd >= 0) {
      watches_[wd] = dir;
      // What appeared in it before the watch existed is found by one more scan.
      rescan_ = true;
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
  f->read_offset = f->consumed = f->sent = f->committed = f->counted = offset;
  File* raw = f.get();
  f->assembler = std::make_unique<RecordAssembler>(&assembler_options_, [this, raw] {
    BeginFile(*raw);
    ++batch_records_;
    return current_->scope->add_log_records();
  });
  core::Log(core::LogLevel::kInfo, id_, "reading file",
            absl::StrCat("path=", path, " offset=", offset, rotated ? " rotated=true" : ""));
  return f;
}

uint64_t TailReceiver::StartOffset(File& f, const std::string& path, uint64_t size, bool first,
                                   const Checkpoint* known) {
  if (known) {
    if (known->fingerprint_size <= size &&
        Fingerprint(f.fd, known->fingerprint_size) == known->fingerprint) {
      if (known->offset <= size) return known->offset;
      rotations_truncated_->Increment();  // truncated while we were away
    }
    return 0;  // the inode now belongs to another file
  }
  // The copy that copytruncate makes before truncating the original: same
  // directory, a name extending the original's, the same first bytes. Reading
  // it from where the original stood takes what the truncation cut off.
  auto copy_of = [&](const std::string& original, uint32_t fp_size, uint32_t fp) {
    return fp_size >= kMinCopyFingerprint && fp_size <= size &&
           DirName(original) == DirName(path) && BaseName(path) != BaseName(original) &&
           BaseName(path).starts_with(BaseName(original)) && Fingerprint(f.fd, fp_size) == fp;
  };
  for (const auto& [key, g] : files_) {
    if (copy_of(g->path, g->fingerprint_size, g->fingerprint)) {
      f.order = g->order - 1;
      return std::min(size, g->assembler->SafeOffset(g->consumed));
    }
  }
  // After a restart: the copy of a file checkpointed before it was truncated.
  for (const Checkpoint& c : loaded_) {
    if (copy_of(c.path, c.fingerprint_size, c.fingerprint)) return std::min(size, c.offset);
  }
  for (const Truncation& t : truncations_) {
    if (copy_of(t.path, t.fingerprint_size, t.fingerprint)) {
      f.order = t.order - 1;
      return std::min(size, t.offset);
    }
  }
  if (first && config_.start_at == "end") return size;
  return 0;
}

bool TailReceiver::CopyInProgress(const std::string& path, uint64_t size, SteadyTime now) {
  // Named like a rotated copy of a file we know, and shorter than either its
  // fingerprint or the offset reading would start at: still being written.
  auto short_copy = [&](const std::string& original, uint64_t needed) {
    return size < needed && DirName(original) == DirName(path) &&
           BaseName(path) != BaseName(original) && BaseName(path).starts_with(BaseName(original));
  };
  bool maybe = false;
  for (const auto& [key, g] : files_) {
    maybe |= short_copy(
        g->path, std::max<uint64_t>(g->fingerprint_size, g->assembler->SafeOffset(g->consumed)));
  }
  for (const Truncation& t : truncations_) {
    maybe |= short_copy(t.path, std::max<uint64_t>(t.fingerprint_size, t.offset));
  }
  for (const Checkpoint& c : loaded_) {
    maybe |= short_copy(c.path, std::max<uint64_t>(c.fingerprint_size, c.offset));
  }
  if (!maybe) {
    deferred_.erase(path);
    return false;
  }
  // Too short yet to tell whether it is a copy: look again shortly, for a while.
  auto [it, inserted] = deferred_.emplace(path, now);
  if (now - it->second > kCopyWait) {
    deferred_.erase(it);
    return false;
  }
  return true;
}

void TailReceiver::CheckTruncated(File& f, uint64_t size, SteadyTime now) {
  bool truncated = size < f.read_offset;
  if (!truncated && f.fingerprint_size > 0 && f.read_offset > 0) {
    truncated = Fingerprint(f.fd, f.fingerprint_size) != std::optional<uint32_t>(f.fingerprint);
  }
  if (!truncated) return;
  rotations_truncated_->Increment();
  core::Log(core::LogLevel::kDebug, id_, "file truncated", absl::StrCat("path=", f.path));
  truncations_.push_back(Truncation{f.path, f.fingerprint_size, f.fingerprint,
                                    f.assembler->SafeOffset(f.consumed), f.order, now});
  if (truncations_.size() > 256) truncations_.pop_front();
  {
    std::lock_guard<std::mutex> lock(f.mu);
    ++f.generation;
    f.pending.Clear();
    f.failed = false;
    f.committed = 0;
  }
  f.read_offset = f.consumed = f.sent = f.counted = 0;
  f.carry.clear();
  f.skipping = false;
  f.at_eof = false;
  f.assembler->Reset();
  f.size = size;
  f.fingerprint_size = static_cast<uint32_t>(std::min<uint64_t>(size, kFingerprintSize));
  f.fingerprint = Fingerprint(f.fd, f.fingerprint_size).value_or(0);
}

void TailReceiver::Rewind(File& f, uint64_t offset, SteadyTime now) {
  {
    std::lock_guard<std::mutex> lock(f.mu);
    ++f.generation;
    f.pending.Clear();
    f.failed = false;
  }
  if (f.read_offset > offset) reread_bytes_->Increment(static_cast<double>(f.read_offset - offset));
  f.read_offset = f.consumed = f.sent = offset;
  f.carry.clear();
  f.skipping = false;
  f.at_eof = false;
  f.final_flushed = false;
  f.assembler->Reset();
  f.failures = std::min(f.failures + 1, 6);
  f.retry_at = now + std::chrono::milliseconds(100 << f.failures);
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
  size_t total = 0;
  char* const buf = read_buffer_.get();
  const size_t max_record = config_.max_record_bytes.bytes;
  while (total < budget && !stop_) {
    if (shared_->inflight_bytes.load() >= static_cast<int64_t>(config_.max_inflight_bytes.bytes)) {
      return false;
    }
    const size_t carried = f.carry.size();
    std::memcpy(buf, f.carry.data(), carried);
    const ssize_t n =
        pread(f.fd, buf + carried, read_buffer_size_ - carried, static_cast<off_t>(f.read_offset));
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
    f.at_eof = false;
    f.carry.clear();
    f.read_offset += static_cast<uint64_t>(n);
    f.size = std::max(f.size, f.read_offset);
    total += static_cast<size_t>(n);
    if (f.read_offset > f.counted) {
      // Bytes read again (after a pause or a refusal) are counted once.
      read_bytes_->Increment(static_cast<double>(f.read_offset - f.counted));
      f.counted = f.read_offset;
    }
    f.last_data = now;
    const size_t len = carried + static_cast<size_t>(n);
    const uint64_t base = f.consumed;
    size_t pos = 0;
    if (f.skipping) {
      const void* nl = std::memchr(buf, '\n', len);
      if (nl == nullptr) {
        f.consumed = base + len;
        continue;
      }
      pos = static_cast<size_t>(static_cast<const char*>(nl) - buf) + 1;
      f.skipping = false;
      f.consumed = base + pos;
    }
    while (pos < len) {
      const void* nl = std::memchr(buf + pos, '\n', len - pos);
      if (nl == nullptr) break;
      const size_t line_len = static_cast<size_t>(static_cast<const char*>(nl) - buf) - pos;
      f.assembler->AddLine(std::string_view(buf + pos, line_len), base + pos,
                           base + pos + line_len + 1, false, now, observed_);
      pos += line_len + 1;
      f.consumed = base + pos;
      if (batch_records_ >= static_cast<size_t>(config_.max_batch_records)) {
        Flush();
        if (shared_->inflight_bytes.load() >=
            static_cast<int64_t>(config_.max_inflight_bytes.bytes)) {
          // Downstream is behind: what was read beyond this line is read again later.
          f.read_offset = f.consumed;
          return false;
        }
      }
    }
    const size_t rest = len - pos;
    if (rest >= max_record) {
      // A line longer than a record may be: its beginning goes on, marked as
      // cut; the rest is dropped up to its newline.
      f.assembler->AddLine(std::string_view(buf + pos, max_record), base + pos, base + len, true,
                           now, observed_);
      f.skipping = true;
      f.consumed = base + len;
    } else {
      f.carry.assign(buf + pos, rest);
    }
  }
  return true;
}

void TailReceiver::NewBatch() {
  // Blocks below the allocator's mmap threshold are reused from its heap.
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;
  options.max_block_size = 128 << 10;
  arena_ = std::make_unique<google::protobuf::Arena>(options);
  batch_ = google::protobuf::Arena::CreateMessage<core::LogsRequest>(arena_.get());
}

void TailReceiver::BeginFile(File& f) {
  if (current_ != nullptr && current_->file.get() == &f) return;
  for (BatchFile& bf : batch_files_) {
    if (bf.file.get() == &f) {
      current_ = &bf;
      return;
    }
  }
  auto* resource = batch_->add_resource_logs();
  auto* attrs = resource->mutable_resource()->mutable_attributes();
  auto* path = attrs->Add();
  path->set_key("log.file.path");
  AppendValidUtf8(f.path, path->mutable_value()->mutable_string_value());
  auto* name = attrs->Add();
  name->set_key("log.file.name");
  AppendValidUtf8(BaseName(f.path), name->mutable_value()->mutable_string_value());
  auto* scope = resource->add_scope_logs();
  scope->mutable_scope()->set_name("tributary/receiver/tail");
  batch_files_.push_back(BatchFile{f.shared_from_this(), scope});
  current_ = &batch_files_.back();
}

void TailReceiver::Flush() {
  // Files read since the last batch: their offsets move even without records.
  for (auto& [key, f] : files_) {
    if (f->assembler->SafeOffset(f->consumed) != f->sent) BeginFile(*f);
  }
  current_ = nullptr;
  if (batch_files_.empty()) return;
  core::Envelope envelope;
  for (BatchFile& bf : batch_files_) {
    File& f = *bf.file;
    const uint64_t end = f.assembler->SafeOffset(f.consumed);
    const uint64_t bytes = end > f.sent ? end - f.sent : 0;
    f.sent = end;
    const size_t records = static_cast<size_t>(bf.scope->log_records_size());
    uint64_t generation;
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(f.mu);
      generation = f.generation;
      seq = f.next_seq++;
      f.pending.Add(seq, end);
    }
    shared_->inflight_bytes += static_cast<int64_t>(bytes);
    envelope.acks.push_back(
        std::make_shared<core::Ack>([shared = shared_, file = bf.file, generation, seq, bytes,
                                     records](const absl::Status& status) {
          shared->inflight_bytes -= static_cast<int64_t>(bytes);
          {
            std::lock_guard<std::mutex> lock(file->mu);
            if (file->generation == generation && file->pending.Contains(seq)) {
              if (status.ok()) {
                file->pending.Acknowledge(seq, [&](uint64_t, uint64_t end) {
                  file->committed = std::max(file->committed, end);
                });
              } else {
                file->failed = true;
              }
            }
          }
          if (records > 0) {
            if (status.ok()) {
              shared->accepted->Increment(static_cast<double>(records));
            } else {
              core::Telemetry::Get()
                  .ReceiverRefused(shared->id, Signal::kLogs, "file",
                                   core::IsRetryable(status) ? "refused" : "failed")
                  .Increment(static_cast<double>(records));
            }
          }
          shared->Wake();
        }));
  }
  // Files whose lines made no records (blank lines) leave no empty resource.
  auto* resources = batch_->mutable_resource_logs();
  for (int i = resources->size() - 1; i >= 0; --i) {
    if (resources->Get(i).scope_logs(0).log_records_size() == 0) resources->DeleteSubrange(i, 1);
  }
  batch_files_.clear();
  const size_t records = batch_records_;
  batch_records_ = 0;
  if (records == 0) return;  // the acks settle as the envelope goes
  std::vector<core::AckRef> acks = envelope.acks;
  envelope.batch = std::make_shared<const core::Batch>(std::move(arena_), batch_);
  NewBatch();
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
    {
      std::lock_guard<std::mutex> lock(f.mu);
      if (!f.pending.empty() || f.failed || f.sent != f.consumed) {
        ++it;
        continue;
      }
    }
    core::Log(core::LogLevel::kInfo, id_, "closing file",
              absl::StrCat("path=", f.path, " offset=", f.consumed));
    std::lock_guard<std::mutex> lock(files_mu_);
    it = files_.erase(it);
  }
  return flushed;
}

void TailReceiver::SaveCheckpoints(bool force) {
  std::vector<Checkpoint> checkpoints = unclaimed_;
  uint64_t lag = 0;
  {
    std::lock_guard<std::mutex> lock(files_mu_);
    for (const auto& [key, f] : files_) {
      Checkpoint c;
      c.device = f->device;
      c.inode = f->inode;
      c.fingerprint_size = f->fingerprint_size;
      c.fingerprint = f->fingerprint;
      {
        std::lock_guard<std::mutex> file_lock(f->mu);
        c.offset = f->committed;
      }
      c.path = f->path;
      lag += f->size > c.offset ? f->size - c.offset : 0;
      checkpoints.push_back(std::move(c));
    }
  }
  checkpoint_lag_->Set(static_cast<double>(lag));
  if (!store_) return;
  std::sort(checkpoints.begin(), checkpoints.end(), [](const Checkpoint& a, const Checkpoint& b) {
    return std::tie(a.device, a.inode) < std::tie(b.device, b.inode);
  });
  if (!force && checkpoints == last_saved_) return;
  if (absl::Status s = store_->Save(checkpoints); !s.ok()) {
    uint64_t held;
    if (log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kError, id_, "checkpoint not saved",
                absl::StrCat("error=\"", s.ToString(), "\" suppressed=", held));
    }
    return;
  }
  last_saved_ = std::move(checkpoints);
}

void TailReceiver::UpdateGauges() {
  open_files_ = files_.size();
  open_files_gauge_->Set(static_cast<double>(files_.size()));
}

}  // namespace tributary::receivers::tail

namespace tributary {

void RegisterReceiverTail(core::Registry& registry) {
  using receivers::tail::TailReceiverConfig;
  registry.Add(
      core::MakeFactory<core::Receiver, TailReceiverConfig, const core::ReceiverConsumers&>(
          "tail", {core::Signal::kLogs},
          "Log files as they grow (container logs in cri or docker format, json, raw), with "
          "rotation handling and acknowledged checkpoints.",
          [](const core::CreateContext& ctx, const TailReceiverConfig& config,
             const core::ReceiverConsumers& consumers)
              -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
            if (consumers.logs == nullptr) {
              return absl::InvalidArgumentError("the tail receiver serves logs pipelines only");
            }
            return std::make_unique<receivers::tail::TailReceiver>(ctx.id.ToString(), config,
                                                                   consumers.logs);
          }));
}

}  // namespace tributary
