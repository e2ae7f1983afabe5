#ifndef TRIBUTARY_RECEIVERS_TAIL_TAILED_FILE_H_
#define TRIBUTARY_RECEIVERS_TAIL_TAILED_FILE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "receivers/tail/record_assembler.h"
#include "tributary/core/ordered_acks.h"

namespace tributary::receivers::tail {

// One file being read: where reading, framing and the batches handed on
// stand, and which of those batches downstream has acknowledged. Offsets
// only grow, except when the file is rewound (downstream refused a batch)
// or restarted (truncated under the reader). The reading thread owns
// everything but the acknowledgement state, which acknowledgement callbacks
// reach on pipeline threads under `mu`.
struct TailedFile : std::enable_shared_from_this<TailedFile> {
  TailedFile() = default;
  TailedFile(const TailedFile&) = delete;
  TailedFile& operator=(const TailedFile&) = delete;
  ~TailedFile();

  // Reading starts at `offset`, everything before it taken as acknowledged.
  void StartAt(uint64_t offset);
  // Reads what follows read_offset into buf (capacity bytes) after the
  // carried incomplete line, which it moves to the front: on success
  // buf[0, *len) holds the carry and the new bytes. Returns pread's result.
  int64_t Fill(char* buf, size_t capacity, size_t* len);
  // Hands each complete line of buf[0, len) (carry first) to the assembler
  // and keeps the incomplete last line as the carry. A line of max_record
  // bytes or more goes on cut at max_record, and the rest of it is skipped.
  // After each line `after_line` may stop framing (false): then what follows
  // that line is read again later. False if it stopped.
  bool Frame(const char* buf, size_t len, size_t max_record, SteadyTime now,
             int64_t observed_unix_nano, absl::FunctionRef<bool()> after_line);
  // Reading goes back to `offset` (acknowledgements of batches handed on
  // before no longer count) and waits a little longer after each refusal
  // in a row. Returns the bytes that will be read again.
  uint64_t Rewind(uint64_t offset, SteadyTime now);
  // Reading starts over from offset 0 of the file, now `size` bytes long.
  void Restart(uint64_t size);

  // A batch covering the file up to `end` is handed on: its generation and
  // sequence, for Settle().
  std::pair<uint64_t, uint64_t> Hand(uint64_t end);
  // The batch (generation, seq) was acknowledged (ok) or refused.
  void Settle(uint64_t generation, uint64_t seq, bool ok);
  // The committed offset if a batch was refused since the last rewind.
  std::optional<uint64_t> Refused();
  uint64_t Committed();
  // Everything read was handed on and acknowledged.
  bool Settled();

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

 private:
  std::mutex mu_;
  uint64_t generation_ = 0;
  uint64_t next_seq_ = 0;
  core::OrderedAcks<uint64_t, uint64_t> pending_;  // batch sequence -> end offset
  uint64_t committed_ = 0;
  bool failed_ = false;
};

}  // namespace tributary::receivers::tail

#endif  // TRIBUTARY_RECEIVERS_TAIL_TAILED_FILE_H_
