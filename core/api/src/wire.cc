#include "tributary/core/wire.h"

#include <cstring>
#include <limits>

namespace tributary::core::wire {

bool ReadVarint(const char** p, const char* end, uint64_t* value) {
  uint64_t result = 0;
  const char* q = *p;
  for (int shift = 0; shift < 70; shift += 7) {
    if (q == end) return false;
    const uint8_t byte = static_cast<uint8_t>(*q++);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *p = q;
      *value = result;
      return true;
    }
  }
  return false;  // an eleventh byte
}

size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

void AppendVarint(uint64_t value, std::string* out) {
  char bytes[10];
  size_t n = 0;
  while (value >= 0x80) {
    bytes[n++] = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  bytes[n++] = static_cast<char>(value);
  out->append(bytes, n);
}

void AppendLenHeader(uint32_t number, size_t length, std::string* out) {
  AppendVarint(static_cast<uint64_t>(number) << 3 | static_cast<uint64_t>(Type::kLen), out);
  AppendVarint(length, out);
}

size_t LenFieldSize(uint32_t number, size_t length) {
  return VarintSize(static_cast<uint64_t>(number) << 3) + VarintSize(length) + length;
}

namespace {

// A tag is a varint of at most five bytes whose value is kept to 32 bits,
// as protobuf's parser reads it: field number and wire type.
bool ReadTag(const char** p, const char* end, uint32_t* number, uint32_t* type) {
  uint32_t tag = 0;
  const char* q = *p;
  for (int i = 0;; ++i) {
    if (i == 5 || q == end) return false;
    const uint32_t byte = static_cast<uint8_t>(*q++);
    tag |= (byte & 0x7f) << (7 * i);
    if (byte < 0x80) break;
  }
  *p = q;
  *number = tag >> 3;
  *type = tag & 7;
  return *number != 0;
}

// A length is a varint of at most five bytes whose value stays below 2^31
// less 16, as protobuf's parser reads it (ReadSize), and within the data.
bool ReadLength(const char** p, const char* end, uint64_t* length) {
  const char* q = *p;
  if (!ReadVarint(&q, end, length) || q - *p > 5 ||
      *length > static_cast<uint64_t>(std::numeric_limits<int32_t>::max() - 16) ||
      *length > static_cast<uint64_t>(end - q)) {
    return false;
  }
  *p = q;
  return true;
}

}  // namespace

bool Reader::SkipGroup(uint32_t number, const char** group_end) {
  // Groups nest; each ends with an end tag of its own number.
  constexpr int kMaxDepth = 100;
  uint32_t open[kMaxDepth];
  int depth = 0;
  open[depth++] = number;
  while (p_ < end_) {
    const char* tag_start = p_;
    uint32_t n, type;
    if (!ReadTag(&p_, end_, &n, &type)) return false;
    uint64_t value;
    switch (type) {
      case 0:
        if (!ReadVarint(&p_, end_, &value)) return false;
        break;
      case 1:
        if (end_ - p_ < 8) return false;
        p_ += 8;
        break;
      case 2:
        if (!ReadLength(&p_, end_, &value)) return false;
        p_ += value;
        break;
      case 3:
        if (depth == kMaxDepth) return false;
        open[depth++] = n;
        break;
      case 4:
        if (open[--depth] != n) return false;
        if (depth == 0) {
          *group_end = tag_start;
          return true;
        }
        break;
      case 5:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        break;
      default:
        return false;
    }
  }
  return false;
}

bool Reader::NextSlow(Field* field) {
  uint32_t number, type;
  if (!ReadTag(&p_, end_, &number, &type)) return Fail();
  field->number = number;
  field->type = static_cast<Type>(type);
  field->value = 0;
  field->bytes = {};
  switch (type) {
    case 0:
      if (!ReadVarint(&p_, end_, &field->value)) return Fail();
      return true;
    case 1:
      if (end_ - p_ < 8) return Fail();
      std::memcpy(&field->value, p_, 8);
      p_ += 8;
      return true;
    case 2: {
      uint64_t length;
      if (!ReadLength(&p_, end_, &length)) return Fail();
      field->bytes = std::string_view(p_, length);
      p_ += length;
      return true;
    }
    case 3: {
      const char* start = p_;
      const char* group_end;
      if (!SkipGroup(number, &group_end)) return Fail();
      field->bytes = std::string_view(start, group_end - start);
      return true;
    }
    case 5: {
      if (end_ - p_ < 4) return Fail();
      uint32_t v;
      std::memcpy(&v, p_, 4);
      field->value = v;
      p_ += 4;
      return true;
    }
    default:  // an end tag without its start, or wire types 6 and 7
      return Fail();
  }
}

std::string_view SerializedRequest(const Batch& batch, std::string* scratch) {
  if (const std::string* bytes = batch.wire()) return *bytes;
  batch.message().SerializeToString(scratch);
  return *scratch;
}

void MessageField::Add(std::string_view payload) {
  if (!present_) {
    present_ = true;
    bytes_ = payload;
    return;
  }
  std::string joined;
  joined.reserve(bytes_.size() + payload.size());
  joined.append(bytes_);
  joined.append(payload);
  merged_ = std::move(joined);
  bytes_ = merged_;
}

bool ReadAnyValue(std::string_view bytes, AnyValue* any) {
  Reader reader(bytes);
  Field f;
  while (reader.Next(&f)) {
    switch (f.number) {
      case AnyValue::kString:
      case AnyValue::kArray:
      case AnyValue::kKvlist:
      case AnyValue::kBytes:
        if (f.type != Type::kLen) break;
        if (any->member != f.number || f.number == AnyValue::kString ||
            f.number == AnyValue::kBytes) {
          any->bytes.Reset();
        }
        any->member = f.number;
        any->bytes.Add(f.bytes);
        break;
      case AnyValue::kBool:
      case AnyValue::kInt:
        if (f.type != Type::kVarint) break;
        any->member = f.number;
        any->value = f.value;
        break;
      case AnyValue::kDouble:
        if (f.type != Type::kFixed64) break;
        any->member = f.number;
        any->value = f.value;
        break;
      default:
        break;
    }
  }
  return reader.ok();
}

bool ReadKeyValue(std::string_view bytes, std::string_view* key, MessageField* value) {
  Reader reader(bytes);
  Field f;
  *key = {};
  while (reader.Next(&f)) {
    if (f.type != Type::kLen) continue;
    if (f.number == 1) {
      *key = f.bytes;
    } else if (f.number == 2) {
      value->Add(f.bytes);
    }
  }
  return reader.ok();
}

std::optional<std::string> StringAttribute(std::string_view message, uint32_t number,
                                           std::string_view key) {
  Reader reader(message);
  Field f;
  while (reader.Next(&f)) {
    if (f.number != number || f.type != Type::kLen) continue;
    std::string_view k;
    MessageField value;
    if (!ReadKeyValue(f.bytes, &k, &value) || k != key) continue;
    AnyValue any;
    if (ReadAnyValue(value.bytes(), &any) && any.member == AnyValue::kString) {
      return std::string(any.bytes.bytes());
    }
  }
  return std::nullopt;
}

namespace {

// Counts the fields numbered `number` (length-delimited) of one message.
std::optional<size_t> CountRepeated(std::string_view message, uint32_t number) {
  Reader reader(message);
  Field f;
  size_t n = 0;
  while (reader.Next(&f)) n += f.number == number && f.type == Type::kLen;
  if (!reader.ok()) return std::nullopt;
  return n;
}

// A Metric's data points: its data oneof holds the last member written; a
// member written twice is merged, so its points add up.
std::optional<size_t> CountMetricPoints(std::string_view metric) {
  Reader reader(metric);
  Field f;
  uint32_t member = 0;
  size_t points = 0;
  while (reader.Next(&f)) {
    const bool data =
        f.number == 5 || f.number == 7 || f.number == 9 || f.number == 10 || f.number == 11;
    if (!data || f.type != Type::kLen) continue;
    std::optional<size_t> n = CountRepeated(f.bytes, 1);  // data_points
    if (!n) return std::nullopt;
    if (f.number != member) {
      member = f.number;
      points = 0;
    }
    points += *n;
  }
  if (!reader.ok()) return std::nullopt;
  return points;
}

// Export request → resources (field 1) → scopes (field 2) → records
// (field 2); a metrics scope's records are metrics, whose points count.
std::optional<size_t> CountScopes(std::string_view resource, Signal signal) {
  Reader reader(resource);
  Field f;
  size_t n = 0;
  while (reader.Next(&f)) {
    if (f.number != 2 || f.type != Type::kLen) continue;
    if (signal != Signal::kMetrics) {
      std::optional<size_t> records = CountRepeated(f.bytes, 2);
      if (!records) return std::nullopt;
      n += *records;
      continue;
    }
    Reader scope(f.bytes);
    Field m;
    while (scope.Next(&m)) {
      if (m.number != 2 || m.type != Type::kLen) continue;
      std::optional<size_t> points = CountMetricPoints(m.bytes);
      if (!points) return std::nullopt;
      n += *points;
    }
    if (!scope.ok()) return std::nullopt;
  }
  if (!reader.ok()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<size_t> CountOtlpRecords(Signal signal, std::string_view request) {
  Reader reader(request);
  Field f;
  size_t n = 0;
  while (reader.Next(&f)) {
    if (f.number != 1 || f.type != Type::kLen) continue;
    std::optional<size_t> records = CountScopes(f.bytes, signal);
    if (!records) return std::nullopt;
    n += *records;
  }
  if (!reader.ok()) return std::nullopt;
  return n;
}

}  // namespace tributary::core::wire
