// A protocol-buffers wire writer for the OTLP messages the SDK sends. Field
// numbers follow the .proto files in proto/opentelemetry/proto; the unit
// tests parse the output with the classes generated from them.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace tributary::sdk::detail {

class WireWriter {
 public:
  explicit WireWriter(std::string& out) : out_(out) {}

  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Tag(uint32_t field, uint32_t wire_type) { Varint((uint64_t{field} << 3) | wire_type); }
  void UInt64(uint32_t field, uint64_t v) {
    if (v == 0) return;
    Tag(field, 0);
    Varint(v);
  }
  void Int64(uint32_t field, int64_t v) { UInt64(field, static_cast<uint64_t>(v)); }
  void Bool(uint32_t field, bool v) { UInt64(field, v ? 1 : 0); }
  void Fixed64(uint32_t field, uint64_t v) {
    if (v == 0) return;
    Tag(field, 1);
    RawFixed64(v);
  }
  void SFixed64(uint32_t field, int64_t v) { Fixed64(field, static_cast<uint64_t>(v)); }
  void Double(uint32_t field, double v) { Fixed64(field, std::bit_cast<uint64_t>(v)); }
  // A double that is written even when zero (inside oneofs and optionals).
  void DoubleAlways(uint32_t field, double v) {
    Tag(field, 1);
    RawFixed64(std::bit_cast<uint64_t>(v));
  }
  void Fixed32(uint32_t field, uint32_t v) {
    if (v == 0) return;
    Tag(field, 5);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Bytes(uint32_t field, std::string_view v) {
    if (v.empty()) return;
    BytesAlways(field, v);
  }
  void BytesAlways(uint32_t field, std::string_view v) {
    Tag(field, 2);
    Varint(v.size());
    out_.append(v.data(), v.size());
  }
  void RawFixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }

  // Opens a length-delimited field; Close writes its length. Most nested
  // messages are under 128 bytes, so one byte is reserved and only longer
  // ones move their body.
  size_t Open(uint32_t field) {
    Tag(field, 2);
    out_.push_back('\0');
    return out_.size();
  }
  void Close(size_t body_start) {
    size_t len = out_.size() - body_start;
    if (len < 0x80) {
      out_[body_start - 1] = static_cast<char>(len);
      return;
    }
    char buf[10];
    size_t n = 0;
    for (uint64_t v = len;; v >>= 7) {
      if (v < 0x80) {
        buf[n++] = static_cast<char>(v);
        break;
      }
      buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    }
    out_.replace(body_start - 1, 1, buf, n);
  }

  std::string& out() { return out_; }

 private:
  std::string& out_;
};

}  // namespace tributary::sdk::detail
