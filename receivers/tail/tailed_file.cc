#include "receivers/tail/tailed_file.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "receivers/tail/file_identity.h"

namespace tributary::receivers::tail {

TailedFile::~TailedFile() {
  if (fd >= 0) close(fd);
}

void TailedFile::StartAt(uint64_t offset) {
  read_offset = consumed = sent = counted = offset;
  std::lock_guard<std::mutex> lock(mu_);
  committed_ = offset;
}

int64_t TailedFile::Fill(char* buf, size_t capacity, size_t* len) {
  const size_t carried = carry.size();
  std::memcpy(buf, carry.data(), carried);
  const ssize_t n = pread(fd, buf + carried, capacity - carried, static_cast<off_t>(read_offset));
  if (n <= 0) return n;
  at_eof = false;
  carry.clear();
  read_offset += static_cast<uint64_t>(n);
  size = std::max(size, read_offset);
  *len = carried + static_cast<size_t>(n);
  return n;
}

bool TailedFile::Frame(const char* buf, size_t len, size_t max_record, SteadyTime now,
                       int64_t observed_unix_nano, absl::FunctionRef<bool()> after_line) {
  const uint64_t base = consumed;
  size_t pos = 0;
  if (skipping) {
    const void* nl = std::memchr(buf, '\n', len);
    if (nl == nullptr) {
      consumed = base + len;
      return true;
    }
    pos = static_cast<size_t>(static_cast<const char*>(nl) - buf) + 1;
    skipping = false;
    consumed = base + pos;
  }
  while (pos < len) {
    const void* nl = std::memchr(buf + pos, '\n', len - pos);
    if (nl == nullptr) break;
    const size_t line_len = static_cast<size_t>(static_cast<const char*>(nl) - buf) - pos;
    assembler->AddLine(std::string_view(buf + pos, line_len), base + pos, base + pos + line_len + 1,
                       false, now, observed_unix_nano);
    pos += line_len + 1;
    consumed = base + pos;
    if (!after_line()) {
      read_offset = consumed;
      return false;
    }
  }
  const size_t rest = len - pos;
  if (rest >= max_record) {
    // A line longer than a record may be: its beginning goes on, marked as
    // cut; the rest is dropped up to its newline.
    assembler->AddLine(std::string_view(buf + pos, max_record), base + pos, base + len, true, now,
                       observed_unix_nano);
    skipping = true;
    consumed = base + len;
  } else {
    carry.assign(buf + pos, rest);
  }
  return true;
}

uint64_t TailedFile::Rewind(uint64_t offset, SteadyTime now) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    pending_.Clear();
    failed_ = false;
  }
  const uint64_t reread = read_offset > offset ? read_offset - offset : 0;
  read_offset = consumed = sent = offset;
  carry.clear();
  skipping = false;
  at_eof = false;
  final_flushed = false;
  assembler->Reset();
  failures = std::min(failures + 1, 6);
  retry_at = now + std::chrono::milliseconds(100 << failures);
  return reread;
}

void TailedFile::Restart(uint64_t new_size) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    pending_.Clear();
    failed_ = false;
    committed_ = 0;
  }
  read_offset = consumed = sent = counted = 0;
  carry.clear();
  skipping = false;
  at_eof = false;
  assembler->Reset();
  size = new_size;
  fingerprint_size = static_cast<uint32_t>(std::min<uint64_t>(new_size, kFingerprintSize));
  fingerprint = Fingerprint(fd, fingerprint_size).value_or(0);
}

std::pair<uint64_t, uint64_t> TailedFile::Hand(uint64_t end) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t seq = next_seq_++;
  pending_.Add(seq, end);
  return {generation_, seq};
}

void TailedFile::Settle(uint64_t generation, uint64_t seq, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (generation != generation_ || !pending_.Contains(seq)) return;
  if (ok) {
    pending_.Acknowledge(seq,
                         [&](uint64_t, uint64_t end) { committed_ = std::max(committed_, end); });
  } else {
    failed_ = true;
  }
}

std::optional<uint64_t> TailedFile::Refused() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed_ && pending_.empty()) failures = 0;
  if (!failed_) return std::nullopt;
  return committed_;
}

uint64_t TailedFile::Committed() {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_;
}

bool TailedFile::Settled() {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.empty() && !failed_ && sent == consumed;
}

}  // namespace tributary::receivers::tail
