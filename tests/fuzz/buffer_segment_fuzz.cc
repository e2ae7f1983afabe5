// Recovery of a write-ahead buffer segment from whatever is on disk: the
// scan must never read out of bounds nor report a record that fails its
// checksum.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tributary/core/runtime/buffer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tributary::core::runtime::detail;
  std::string segment(kSegmentMagic, sizeof(kSegmentMagic));
  segment.append(reinterpret_cast<const char*>(data), size);
  ScanResult r = ScanSegment(segment);
  if (r.valid_bytes > segment.size() || r.valid_bytes + r.truncated_bytes != segment.size()) {
    abort();
  }
  uint64_t last = 0;
  for (const IndexEntry& e : r.entries) {
    if (e.seq <= last || e.offset + kRecordHeaderSize + e.length > r.valid_bytes) abort();
    RecordHeader h;
    if (!DecodeRecordHeader(segment.data() + e.offset, &h)) abort();
    if (RecordCrc(segment.data() + e.offset, segment.data() + e.offset + kRecordHeaderSize,
                  e.length) != h.crc) {
      abort();
    }
    last = e.seq;
  }
  return 0;
}
