#ifndef TRIBUTARY_CORE_WIRE_H_
#define TRIBUTARY_CORE_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "tributary/core/batch.h"

// The protobuf wire form read without building message objects: the fields of
// one message in the order they were written, each with its number, type and
// value. Nested messages are length-delimited fields whose bytes a new Reader
// reads.
namespace tributary::core::wire {

enum class Type : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

struct Field {
  uint32_t number = 0;
  Type type = Type::kVarint;
  // kVarint, kFixed64 and kFixed32: the value.
  uint64_t value = 0;
  // kLen: the payload; kStartGroup: the group's fields, without its end tag.
  std::string_view bytes;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}

  // The next field. False at the end of the data and when the data is
  // malformed where a protobuf parser would fail (a truncated value, a length
  // past the end, field number 0, wire types 6 and 7, an unmatched group):
  // then ok() is false.
  bool Next(Field* field) {
    if (!ok_ || p_ == end_) return false;
    // Inline, the common case: a one-byte tag, and a one-byte varint or
    // length, or a fixed64.
    const uint8_t tag = static_cast<uint8_t>(*p_);
    if (tag < 0x80 && tag >= 8 && end_ - p_ >= 2) {
      const uint8_t next = static_cast<uint8_t>(p_[1]);
      switch (tag & 7) {
        case 0:
          if (next >= 0x80) break;
          field->number = tag >> 3;
          field->type = Type::kVarint;
          field->value = next;
          field->bytes = {};
          p_ += 2;
          return true;
        case 1:
          if (end_ - p_ < 9) break;
          field->number = tag >> 3;
          field->type = Type::kFixed64;
          std::memcpy(&field->value, p_ + 1, 8);
          field->bytes = {};
          p_ += 9;
          return true;
        case 2:
          if (next >= 0x80 || end_ - p_ - 2 < next) break;
          field->number = tag >> 3;
          field->type = Type::kLen;
          field->value = 0;
          field->bytes = std::string_view(p_ + 2, next);
          p_ += 2 + next;
          return true;
        default:
          break;
      }
    }
    return NextSlow(field);
  }
  bool ok() const { return ok_; }
  // Where the next field begins: the bytes of the fields read so far, tags
  // included, end here.
  const char* position() const { return p_; }

 private:
  bool Fail() {
    ok_ = false;
    return false;
  }
  bool NextSlow(Field* field);
  bool SkipGroup(uint32_t number, const char** group_end);

  const char* p_;
  const char* end_;
  bool ok_ = true;
};

// A singular message field: absent, or its bytes. A field that occurs more
// than once is, as protobuf parses it, the merge of its occurrences, which is
// what parsing their concatenation gives.
class MessageField {
 public:
  MessageField() = default;
  MessageField(const MessageField&) = delete;  // bytes_ may point into merged_
  MessageField& operator=(const MessageField&) = delete;

  bool present() const { return present_; }
  std::string_view bytes() const { return bytes_; }
  void Add(std::string_view payload);
  void Reset() {
    present_ = false;
    bytes_ = {};
  }

 private:
  bool present_ = false;
  std::string_view bytes_;
  std::string merged_;
};

// The member an OTLP AnyValue holds, as protobuf parses it: the last one
// written; a message member (array, kvlist) written again after itself
// merges.
struct AnyValue {
  enum Member : uint32_t {
    kNone = 0,
    kString = 1,
    kBool = 2,
    kInt = 3,
    kDouble = 4,
    kArray = 5,   // ArrayValue: values are field 1
    kKvlist = 6,  // KeyValueList: values are field 1
    kBytes = 7,
  };
  uint32_t member = kNone;
  uint64_t value = 0;  // bool, int and double (bits) members
  MessageField bytes;  // string, bytes, array and kvlist members
};
bool ReadAnyValue(std::string_view bytes, AnyValue* any);

// A KeyValue's key (field 1) and value (field 2, an AnyValue).
bool ReadKeyValue(std::string_view bytes, std::string_view* key, MessageField* value);

// The first attribute `key` with a string value among the KeyValues of
// field `number` of `message`.
std::optional<std::string> StringAttribute(std::string_view message, uint32_t number,
                                           std::string_view key);

// The batch's serialized export request: the bytes it holds, or its
// objects serialized into `scratch` (for a stage that reads the wire form
// whichever way the batch came).
std::string_view SerializedRequest(const Batch& batch, std::string* scratch);

// Reads a base-128 varint at *p (at most 10 bytes) and advances *p.
bool ReadVarint(const char** p, const char* end, uint64_t* value);

// Writing, as protobuf serializes: a varint in as few bytes as it takes,
// and the tag and length that come before a length-delimited field's bytes.
size_t VarintSize(uint64_t value);
void AppendVarint(uint64_t value, std::string* out);
void AppendLenHeader(uint32_t number, size_t length, std::string* out);
// The bytes a length-delimited field `number` of `length` bytes takes.
size_t LenFieldSize(uint32_t number, size_t length);

// The records of a serialized OTLP export request of `signal` (spans,
// metric data points, log records), counted on the wire form as a parser
// would count them (a repeated oneof member, a field of an unexpected wire
// type). Walks the request, its resources, scopes and metrics, not the
// records themselves. nullopt when that structure is malformed. A request
// that parses is counted exactly as CountRecords counts it once parsed.
std::optional<size_t> CountOtlpRecords(Signal signal, std::string_view request);

}  // namespace tributary::core::wire

#endif  // TRIBUTARY_CORE_WIRE_H_
