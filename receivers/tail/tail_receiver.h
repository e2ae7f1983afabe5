#ifndef TRIBUTARY_RECEIVERS_TAIL_TAIL_RECEIVER_H_
#define TRIBUTARY_RECEIVERS_TAIL_TAIL_RECEIVER_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "receivers/tail/checkpointer.h"
#include "receivers/tail/copy_tracker.h"
#include "receivers/tail/path_watcher.h"
#include "receivers/tail/record_assembler.h"
#include "receivers/tail/tail_metrics.h"
#include "receivers/tail/tail_receiver_config.h"
#include "receivers/tail/tailed_file.h"
#include "tributary/core/component.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::receivers::tail {

// Reads log files as they grow and hands their lines downstream as log
// records. One thread finds files (inotify events on the directories the
// globs reach, and a scan every poll_interval), reads them, and builds
// batches; acknowledgements arrive on pipeline threads and move each file's
// committed offset, which alone is written to the checkpoint store. A file
// is known by device and inode, checked against a fingerprint of its first
// bytes; one renamed away or deleted is read to its end before it is closed,
// and one truncated under the reader is read again from the start.
class TailReceiver : public core::Receiver {
 public:
  TailReceiver(std::string id, TailReceiverConfig config, core::Consumer* logs);
  ~TailReceiver() override;

  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;

  // For tests: the committed offset of the file at `path` (-1 if unknown).
  int64_t CommittedOffset(const std::string& path) const;
  size_t open_files() const { return open_files_.load(); }

 private:
  using File = TailedFile;
  struct Shared;
  // A file a scan found and does not yet read.
  struct Candidate {
    int64_t mtime_ns;
    std::string path;
    std::pair<uint64_t, uint64_t> key;
    std::optional<Checkpoint> known;
    bool rotated;
  };

  void Run();
  // Rewinds the files downstream refused; true if one waits for a timer.
  bool RewindRefused(SteadyTime now);
  // Reads the files in order; true if one has more to read.
  bool ReadInOrder(SteadyTime now);
  void CountRecords();
  void Scan(bool first);
  // Files the scan found that are not yet read, oldest first.
  std::vector<Candidate> NewFiles(const std::set<std::string>& paths, bool first, SteadyTime now,
                                  std::set<std::pair<uint64_t, uint64_t>>* seen);
  // Marks files no scan finds any more as rotated, and notices truncation.
  void CheckOpenFiles(const std::set<std::pair<uint64_t, uint64_t>>& seen, SteadyTime now);
  std::shared_ptr<File> Open(const std::string& path, bool first, bool rotated,
                             const Checkpoint* known);
  uint64_t StartOffset(File& f, const std::string& path, uint64_t size, bool first,
                       const Checkpoint* known);
  // The files read and the checkpoints loaded, as originals a new file
  // could be the rotated copy of.
  std::vector<CopyTracker::Origin> Origins() const;
  // Reads up to `budget` bytes of f; false at the end of its data.
  bool Read(File& f, size_t budget, SteadyTime now);
  bool InflightFull() const;
  void CheckTruncated(File& f, uint64_t size, SteadyTime now);
  void BeginFile(File& f);
  // Appends record_, if one is being filled, to its file's records.
  void FinishRecord();
  void Flush();
  // The batch's export request from batch_files_.
  std::string Compose();
  bool CloseFinished(SteadyTime now);
  void SaveCheckpoints(bool force);
  void UpdateGauges();
  // Waits for an inotify event, an acknowledgement or the timeout.
  void Wait(std::chrono::milliseconds timeout);

  const std::string id_;
  const TailReceiverConfig config_;
  core::Consumer* const logs_;
  AssemblerOptions assembler_options_;
  std::unique_ptr<re2::RE2> line_start_;
  Checkpointer checkpoints_;
  PathWatcher watcher_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> open_files_{0};
  core::LogLimiter log_limiter_;

  // Reading thread only.
  std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<File>> files_;  // by device, inode
  CopyTracker copies_;
  bool rescan_ = true;
  uint64_t next_order_ = 0;
  SteadyTime next_scan_;
  SteadyTime next_checkpoint_;
  std::unique_ptr<char[]> read_buffer_;
  size_t read_buffer_size_ = 0;
  int64_t observed_ = 0;
  // The batch being built, written in the wire form as its records come:
  // the files it holds records of, each with its serialized records.
  struct BatchFile {
    std::shared_ptr<File> file;
    std::string resource;  // the Resource naming the file, serialized
    std::string records;   // ScopeLogs.log_records fields
    size_t count = 0;
  };
  static constexpr size_t kNoFile = ~size_t{0};
  std::vector<BatchFile> batch_files_;
  size_t current_ = kNoFile;  // index into batch_files_
  size_t batch_records_ = 0;
  // The record the assembler is filling, written to batch_files_[record_file_]
  // when the next one begins or the batch is sent.
  opentelemetry::proto::logs::v1::LogRecord record_;
  size_t record_file_ = kNoFile;
  size_t last_batch_bytes_ = 0;  // records of the largest file of the last batch

  mutable std::mutex files_mu_;  // guards files_ against CommittedOffset()

  TailMetrics metrics_;
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_TAIL_RECEIVER_H_
