#include <algorithm>
#include <cstring>

#include "tributary/core/crc32c.h"
#include "tributary/core/runtime/buffer.h"

namespace tributary::core::runtime {

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

std::string EncodeCursor(uint64_t committed) {
  char data[12];
  Put64(data, committed);
  Put32(data + 8, Crc32c(data, 8));
  return std::string(data, sizeof data);
}

bool DecodeCursor(std::string_view data, uint64_t* committed) {
  if (data.size() != 12 || Crc32c(data.data(), 8) != Get32(data.data() + 8)) return false;
  *committed = Get64(data.data());
  return true;
}

uint32_t RecordCrc(const char* header, const char* payload, size_t length) {
  uint32_t crc = Crc32c(header + 12, kRecordHeaderSize - 12);
  return Crc32c(payload, length, crc);
}

void EncodeRecordHeader(const RecordHeader& h, std::string_view payload, char* out) {
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

}  // namespace tributary::core::runtime
