#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "buffer_files.h"
#include "tributary/core/byte_pool.h"
#include "tributary/core/log.h"
#include "tributary/core/runtime/buffer.h"
#include "tributary/core/wire.h"

// How a write-ahead buffer's cursors read their records and settle them.
namespace tributary::core::runtime {

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

std::shared_ptr<const Batch> WriteAheadBuffer::ReadFromDisk(const Located& where, bool wire_form,
                                                            std::string* error) {
  // The header and the payload in one read, the payload straight into the
  // string the batch keeps (memory a finished batch gave back).
  char header[detail::kRecordHeaderSize];
  std::string payload = byte_pool::Take(where.length);
  iovec parts[2] = {{header, sizeof header}, {payload.data(), payload.size()}};
  ssize_t n = preadv(where.file->fd, parts, 2, static_cast<off_t>(where.offset));
  if (n != static_cast<ssize_t>(sizeof header + payload.size())) {
    *error = n < 0 ? strerror(errno) : "short read";
    byte_pool::Give(std::move(payload));
    return nullptr;
  }
  detail::RecordHeader h;
  if (!detail::DecodeRecordHeader(header, &h) || h.seq != where.seq || h.length != where.length ||
      detail::RecordCrc(header, payload.data(), h.length) != h.crc) {
    *error = "checksum mismatch";
    return nullptr;
  }
  auto batch = std::make_shared<const Batch>(h.signal, std::move(payload), h.records);
  if (wire_form) {
    // The bytes as they are, once their shape and record count agree with
    // the header.
    if (wire::CountOtlpRecords(h.signal, *batch->wire()) != h.records) {
      *error = "payload does not hold the records its header counts";
      return nullptr;
    }
    return batch;
  }
  // Parsed here, onto an arena, so that an exporter never meets a request
  // that does not parse.
  if (absl::Status parsed = batch->Parse(); !parsed.ok()) {
    *error = std::string(parsed.message());
    return nullptr;
  }
  return batch;
}

void WriteAheadBuffer::ReaderLoop(Cursor* cursor, Reader* r) {
  // Records handed to the exporter and not yet settled live in memory: bound
  // them by count and by size (at least one is always allowed). 6 MiB holds
  // three default batches of log lines (8192 of about 330 bytes), which keep
  // an exporter's consumers busy; a smaller bound cut tail → Elasticsearch
  // throughput by a third, a larger one only added memory.
  constexpr size_t kMaxInFlight = 64;
  constexpr uint64_t kMaxInFlightBytes = 6ull << 20;
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
    std::shared_ptr<const Batch> batch = ReadFromDisk(where, cursor->wire_form, &error);
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
    envelope.acks.push_back(
        std::make_shared<Ack>([link = link_, cursor, seq](const absl::Status& s) {
          std::lock_guard<std::mutex> guard(link->mu);
          if (link->buffer != nullptr) link->buffer->Settle(cursor, seq, s);
        }));
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

}  // namespace tributary::core::runtime
