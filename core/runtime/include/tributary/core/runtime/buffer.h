#ifndef TRIBUTARY_CORE_RUNTIME_BUFFER_H_
#define TRIBUTARY_CORE_RUNTIME_BUFFER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/log.h"
#include "tributary/core/ordered_acks.h"
#include "tributary/core/telemetry.h"

namespace tributary::core::runtime {

enum class FsyncPolicy { kAlways, kInterval, kNever };
enum class WhenFull { kBlock, kDropOldest, kDropNewest };

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(std::string_view text);
absl::StatusOr<WhenFull> ParseWhenFull(std::string_view text);

// `service.buffer`: the write-ahead buffer of every pipeline.
struct BufferConfig {
  std::string directory;
  ByteSize max_size{256ull << 20};
  ByteSize segment_size{16ull << 20};
  std::string fsync = "interval";
  std::chrono::milliseconds fsync_interval{1000};
  std::string when_full = "block";
  int64_t replay_rate = 50000;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("directory", directory,
               "where segment files live, one subfolder per pipeline; empty keeps data in memory "
               "only (acknowledged once exported)");
    v.Optional("max_size", max_size, "disk space one pipeline's buffer may use");
    v.Optional("segment_size", segment_size,
               "size of one segment file; space is reclaimed a segment at a time");
    v.Optional("fsync", fsync,
               "always (acknowledge after fsync), interval (fsync every fsync_interval; "
               "survives a process crash) or never (leave it to the kernel)");
    v.Optional("fsync_interval", fsync_interval, "how often `interval` syncs");
    v.Optional("when_full", when_full,
               "block (senders are answered retryable, tail pauses), drop_oldest or drop_newest; "
               "a pipeline's own `when_full` overrides it");
    v.Optional("replay_rate", replay_rate,
               "records per second replayed from a backlog found at start, per exporter, so "
               "that live data keeps flowing; 0 is unlimited");
  }
  absl::Status Validate() const;
};

// Options of one buffer (one pipeline).
struct BufferOptions {
  std::string directory;
  std::string name;  // the pipeline id, for metrics and logs
  Signal signal = Signal::kTraces;
  uint64_t max_bytes = 256ull << 20;
  uint64_t segment_bytes = 16ull << 20;
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  std::chrono::milliseconds fsync_interval{1000};
  WhenFull when_full = WhenFull::kBlock;
  double replay_rate = 50000;  // records per second; 0 unlimited
  // Opened by a reload in the process that wrote it: what it holds was
  // counted as received already, so it is not counted as recovered.
  bool reopened = false;

  static BufferOptions From(const BufferConfig& config, const std::string& pipeline, Signal signal);
};

namespace detail {
// On-disk record header; all fields little-endian.
//   magic u32 | length u32 | crc u32 | seq u64 | records u32 | signal u8 | flags u8 | reserved u16
// crc is CRC32C over everything after it: the rest of the header and the payload.
inline constexpr uint32_t kRecordMagic = 0x31425254;  // "TRB1"
inline constexpr size_t kRecordHeaderSize = 28;
inline constexpr char kSegmentMagic[8] = {'T', 'R', 'B', 'W', 'A', 'L', '0', '1'};
inline constexpr uint32_t kMaxRecordBytes = 256u << 20;

struct RecordHeader {
  uint32_t length = 0;
  uint32_t crc = 0;
  uint64_t seq = 0;
  uint32_t records = 0;
  Signal signal = Signal::kTraces;
};
void EncodeRecordHeader(const RecordHeader& h, std::string_view payload, char* out);
bool DecodeRecordHeader(const char* in, RecordHeader* h);  // false if the magic is wrong
uint32_t RecordCrc(const char* header, const char* payload, size_t length);
// A cursor file: the last sequence number settled, u64, and its CRC32C, u32.
std::string EncodeCursor(uint64_t committed);
bool DecodeCursor(std::string_view data, uint64_t* committed);  // false if damaged

struct IndexEntry {
  uint64_t seq;
  uint64_t offset;  // of the header
  uint32_t length;  // payload bytes
  uint32_t records;
};

// What recovery found in one segment file.
struct ScanResult {
  std::vector<IndexEntry> entries;
  uint64_t valid_bytes = 0;      // where the last valid record ends
  uint64_t corrupt_bytes = 0;    // skipped between valid records
  uint64_t truncated_bytes = 0;  // torn tail cut off
  // Records known to be lost to corruption (from headers whose length proved
  // right), by sequence number.
  std::vector<std::pair<uint64_t, uint32_t>> corrupt_records;
};
// Scans `data` (a whole segment file) record by record. A record that fails
// its checksum is skipped when the next record proves its length; otherwise
// the scan resynchronises on the next valid record, and a tail with no valid
// record after it is reported as torn.
ScanResult ScanSegment(const std::string& data);
}  // namespace detail

// A write-ahead buffer: append-only segment files shared by several readers
// (cursors), one per exporter, each with its own persisted position.
//
// Consume (from processor or receiver threads) serialises the batch and
// queues it for the writer thread, which group-commits whatever is queued
// with one write and, under `always`, one fsync; the envelope's acks are
// released once their record is written (synced under `always`), so a sender
// hears success only for data that survives the process. Each cursor's
// threads read records back from the files (the page cache, while they keep
// up) and hand them to the cursor's consumer; a record settles
// for a cursor when its consumer's ack fires. A segment is deleted once every
// cursor has settled all of its records.
class WriteAheadBuffer : public Consumer {
 public:
  explicit WriteAheadBuffer(BufferOptions options);
  ~WriteAheadBuffer() override;
  WriteAheadBuffer(const WriteAheadBuffer&) = delete;
  WriteAheadBuffer& operator=(const WriteAheadBuffer&) = delete;

  // Before Start: one cursor per exporter, named after it. Its consumer
  // must outlive the buffer's Shutdown. An envelope it settles after the
  // buffer is destroyed settles nothing: its records are read again by the
  // next buffer on the directory. With `wire_form` the
  // consumer is handed batches that hold the serialized request as read
  // (Batch::wire()), checked for shape and record count but not parsed;
  // else they are parsed, and a record that does not parse is skipped.
  void AddCursor(const std::string& name, Consumer* next, bool wire_form = false);

  // Recovers what an earlier process left (truncating a torn tail, skipping
  // and counting corrupt records), then starts the writer and the readers.
  absl::Status Start();

  absl::Status Consume(Envelope envelope) noexcept override;

  // Stops taking data, writes what is queued, stops reading, and waits until
  // the deadline for records handed to consumers to settle.
  void Shutdown(Deadline deadline) noexcept;
  // Persists the cursors and closes the files; call after the consumers
  // have shut down. Records never settled are read again by the next process.
  void Close() noexcept;

  // Bytes on disk plus bytes queued for the writer.
  uint64_t size_bytes() const;
  // Records a cursor has not settled yet (on disk or in flight).
  uint64_t backlog_records(const std::string& cursor) const;
  // Last sequence number a cursor has settled, with everything before it.
  uint64_t committed(const std::string& cursor) const;
  const BufferOptions& options() const { return options_; }

 private:
  struct FileHandle;
  struct Segment {
    uint64_t first_seq = 0;
    std::string path;
    std::shared_ptr<FileHandle> file;
    uint64_t bytes = 0;  // valid bytes, including the segment header
    std::vector<detail::IndexEntry> index;
    uint64_t last_seq() const { return index.empty() ? first_seq - 1 : index.back().seq; }
  };
  struct Pending {
    uint64_t seq;
    uint32_t records;
    // The record's bytes: those the batch holds while `source` is set
    // (written from there, not copied), else `serialized`.
    std::shared_ptr<const Batch> source;
    std::string serialized;
    std::vector<AckRef> acks;
    std::string_view payload() const {
      return source ? std::string_view(*source->wire()) : std::string_view(serialized);
    }
  };
  struct Reader {
    uint64_t next = 0;
    uint64_t end = UINT64_MAX;  // exclusive
    bool replay = false;
    bool done = false;
    std::thread thread;
  };
  struct Cursor {
    std::string name;
    Consumer* next = nullptr;
    bool wire_form = false;
    uint64_t committed = 0;
    uint64_t persisted = 0;
    OrderedAcks<uint64_t, std::pair<uint32_t, uint64_t>> in_flight;  // seq -> records, bytes
    uint64_t in_flight_bytes = 0;
    std::set<uint64_t> abandoned;  // failed by a stopping consumer
    uint64_t backlog = 0;          // records not yet settled
    Reader replay;
    Reader live;
    prometheus::Gauge* backlog_gauge = nullptr;
    prometheus::Counter* dropped_full = nullptr;
    prometheus::Counter* dropped_corrupt = nullptr;
  };
  struct Located {
    uint64_t seq = 0;
    uint32_t records = 0;
    uint64_t bytes = 0;
    std::shared_ptr<FileHandle> file;
    uint64_t offset = 0;
    uint32_t length = 0;
  };

  absl::Status Recover();
  // The position of each cursor; cursor files of exporters no longer
  // configured are removed.
  void LoadCursors(const std::vector<std::string>& files);
  // Indexes one segment file, cutting a torn tail and counting corrupt
  // records; one with nothing left to read is removed.
  absl::Status RecoverSegment(uint64_t first_seq, const std::string& path, uint64_t* last_seq,
                              std::vector<std::pair<uint64_t, uint32_t>>* corrupt);
  // Each cursor replays what it had not settled; records lost to corruption
  // are counted as dropped.
  void ResumeCursors(uint64_t last_seq, const std::vector<std::pair<uint64_t, uint32_t>>& corrupt);
  void WriterLoop();
  absl::Status WriteGroup(std::vector<Pending>& group, size_t* written_records);
  absl::Status OpenSegment(uint64_t first_seq);
  // group[from, to) was written to `segment` at `offset`: readers may see it.
  void IndexWritten(Segment* segment, const std::vector<Pending>& group, size_t from, size_t to,
                    uint64_t offset);
  void ReaderLoop(Cursor* cursor, Reader* reader);
  bool LocateLocked(Reader* reader, Located* out);
  std::shared_ptr<const Batch> ReadFromDisk(const Located& where, bool wire_form,
                                            std::string* error);
  void Settle(Cursor* cursor, uint64_t seq, const absl::Status& status);
  void AdvanceCommitLocked(Cursor* cursor);
  void ReclaimLocked();
  bool DropOldestLocked(uint64_t needed);
  void PersistCursors(bool force);
  void UpdateGaugesLocked();
  std::string CursorPath(const std::string& name) const;

  const BufferOptions options_;
  const std::string component_;  // "buffer/<pipeline>", the label of its drop counters

  // What the acks of records handed to consumers reach: the buffer until
  // it is destroyed, then nothing.
  struct SettleLink {
    std::mutex mu;
    WriteAheadBuffer* buffer;
  };
  std::shared_ptr<SettleLink> link_;
  mutable std::mutex mu_;
  std::condition_variable writer_cv_;
  std::condition_variable reader_cv_;
  std::condition_variable settle_cv_;
  std::map<uint64_t, Segment> segments_;  // by first_seq
  uint64_t active_first_ = 0;             // the segment written to; 0 before the first write
  uint64_t disk_bytes_ = 0;
  uint64_t pending_bytes_ = 0;
  std::vector<Pending> pending_;
  uint64_t next_seq_ = 1;
  uint64_t head_seq_ = 0;  // every record up to here is written or failed
  std::vector<std::unique_ptr<Cursor>> cursors_;
  bool started_ = false;
  bool accepting_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  std::thread writer_;
  std::chrono::steady_clock::time_point last_sync_;
  bool unsynced_ = false;

  prometheus::Gauge& bytes_gauge_;
  prometheus::Counter& dropped_newest_;
  prometheus::Counter& corrupt_bytes_;
  prometheus::Histogram& fsync_duration_;
  LogLimiter log_limiter_;
};

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_BUFFER_H_
