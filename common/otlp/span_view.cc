#include "common/otlp/span_view.h"

namespace tributary::common::otlp {

namespace wire = core::wire;

bool SpanView::Read(std::string_view span) {
  *this = SpanView();
  bytes = span;
  wire::Reader reader(span);
  wire::Field f;
  while (reader.Next(&f)) {
    switch (f.number) {
      case 1:
        if (f.type == wire::Type::kLen) trace_id = f.bytes;
        break;
      case 2:
        if (f.type == wire::Type::kLen) span_id = f.bytes;
        break;
      case 4:
        if (f.type == wire::Type::kLen) parent_span_id = f.bytes;
        break;
      case 5:
        if (f.type == wire::Type::kLen) name = f.bytes;
        break;
      case 6:
        if (f.type == wire::Type::kVarint) kind = static_cast<int>(f.value);
        break;
      case 7:
        if (f.type == wire::Type::kFixed64) start = f.value;
        break;
      case 8:
        if (f.type == wire::Type::kFixed64) end = f.value;
        break;
      case 15: {
        if (f.type != wire::Type::kLen) break;
        wire::Reader status(f.bytes);
        wire::Field g;
        while (status.Next(&g)) {
          if (g.number == 3 && g.type == wire::Type::kVarint)
            status_code = static_cast<int>(g.value);
        }
        if (!status.ok()) return false;
        break;
      }
      default:
        break;
    }
  }
  return reader.ok();
}

bool SpansReader::Read(std::string_view request) {
  blocks_.clear();
  merged_.clear();
  spans_.clear();
  wire::Reader reader(request);
  wire::Field f;
  while (reader.Next(&f)) {
    if (f.number != 1 || f.type != wire::Type::kLen) continue;  // resource_spans
    Block& block = blocks_.emplace_back();
    block.first = spans_.size();
    wire::Reader rs(f.bytes);
    wire::Field g;
    while (rs.Next(&g)) {
      if (g.type != wire::Type::kLen) continue;
      if (g.number == 1) {  // resource
        if (block.merged > 0) {
          merged_[block.merged - 1].append(g.bytes);
        } else if (!block.has_resource) {
          block.resource = g.bytes;
          block.has_resource = true;
        } else {
          merged_.emplace_back(block.resource).append(g.bytes);
          block.merged = merged_.size();
        }
      } else if (g.number == 2) {  // scope_spans
        wire::Reader ss(g.bytes);
        wire::Field h;
        while (ss.Next(&h)) {
          if (h.number == 2 && h.type == wire::Type::kLen && !spans_.emplace_back().Read(h.bytes)) {
            return false;
          }
        }
        if (!ss.ok()) return false;
      }
    }
    if (!rs.ok()) return false;
    block.last = spans_.size();
  }
  return reader.ok();
}

std::string_view SpansReader::resource(size_t b) const {
  const Block& block = blocks_[b];
  return block.merged > 0 ? std::string_view(merged_[block.merged - 1]) : block.resource;
}

namespace {

// A KeyValue's key, and its value when it is written once, as encoders
// write it: [key][value], each with a one-byte length. False for any other
// layout, which wire::ReadKeyValue reads.
bool SplitKeyValue(std::string_view kv, std::string_view* key, std::string_view* value) {
  const auto* p = reinterpret_cast<const uint8_t*>(kv.data());
  const size_t n = kv.size();
  if (n < 2 || p[0] != 0x0a || p[1] >= 0x80 || 2u + p[1] > n) return false;
  *key = kv.substr(2, p[1]);
  const size_t v = 2u + p[1];
  if (n == v) {
    *value = {};
    return true;
  }
  if (n < v + 2 || p[v] != 0x12 || p[v + 1] >= 0x80 || v + 2 + p[v + 1] != n) return false;
  *value = kv.substr(v + 2);
  return true;
}

// Calls fn(key, value) for each KeyValue of field `number`; stops when fn
// returns true.
template <typename Fn>
void ForEachAttribute(std::string_view message, uint32_t number, wire::MessageField* value, Fn fn) {
  wire::Reader reader(message);
  wire::Field f;
  while (reader.Next(&f)) {
    if (f.number != number || f.type != wire::Type::kLen) continue;
    std::string_view k, v;
    value->Reset();
    if (SplitKeyValue(f.bytes, &k, &v)) {
      if (v.data() != nullptr) value->Add(v);
    } else if (!wire::ReadKeyValue(f.bytes, &k, value)) {
      continue;
    }
    if (fn(k)) return;
  }
  value->Reset();
}

}  // namespace

bool FindAttribute(std::string_view message, uint32_t number, std::string_view key,
                   wire::MessageField* value) {
  bool found = false;
  ForEachAttribute(message, number, value, [&](std::string_view k) { return found = k == key; });
  return found;
}

void FindAttributes(std::string_view message, uint32_t number, const std::string* keys,
                    size_t count, wire::MessageField* values) {
  size_t missing = count;
  for (size_t i = 0; i < count; ++i) values[i].Reset();
  if (count == 0) return;
  wire::MessageField value;
  ForEachAttribute(message, number, &value, [&](std::string_view k) {
    for (size_t i = 0; i < count; ++i) {
      if (values[i].present() || keys[i] != k) continue;
      const std::string_view v = value.bytes();
      values[i].Add(v);
      // A value written in pieces was joined in `value`, which the next
      // attribute reuses: a second Add makes values[i] keep a copy.
      if (!v.empty() &&
          (v.data() < message.data() || v.data() >= message.data() + message.size())) {
        values[i].Add({});
      }
      --missing;
    }
    return missing == 0;
  });
}

std::string_view FindString(std::string_view message, uint32_t number, std::string_view key,
                            AttributeScratch* scratch) {
  if (!FindAttribute(message, number, key, &scratch->value)) return {};
  wire::AnyValue& any = scratch->any;
  any.member = wire::AnyValue::kNone;
  any.value = 0;
  any.bytes.Reset();
  if (!wire::ReadAnyValue(scratch->value.bytes(), &any) || any.member != wire::AnyValue::kString) {
    return {};
  }
  return any.bytes.bytes();
}

}  // namespace tributary::common::otlp
