#include "common/otlp/wire_request.h"

#include <cstring>

#include "google/protobuf/io/coded_stream.h"
#include "tributary/core/wire.h"

namespace tributary::common::otlp {

namespace {

using core::wire::Field;
using core::wire::Reader;
using core::wire::Type;
using google::protobuf::io::CodedOutputStream;

// Splits a block into its elements (field 2) and its other fields.
template <class Block, class Each>
bool SplitBlock(std::string_view bytes, Block* block, Each&& each) {
  Reader reader(bytes);
  Field f;
  bool seen = false;
  const char* start = bytes.data();
  while (reader.Next(&f)) {
    const std::string_view raw(start, static_cast<size_t>(reader.position() - start));
    start = reader.position();
    if (f.number == 2 && f.type == Type::kLen) {
      seen = true;
      each(f.bytes);
      continue;
    }
    (seen ? block->tail : block->head).append(raw);
  }
  return reader.ok();
}

size_t FieldSize(size_t len) { return 1 + CodedOutputStream::VarintSize64(len) + len; }

char* WriteHeader(uint8_t field, size_t len, char* p) {
  *p++ = static_cast<char>(field << 3 | 2);
  return reinterpret_cast<char*>(
      CodedOutputStream::WriteVarint64ToArray(len, reinterpret_cast<uint8_t*>(p)));
}

char* WriteBytes(std::string_view bytes, char* p) {
  std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

// The last occurrence of bytes field `number` of `message`.
std::string_view LastBytes(std::string_view message, uint32_t number) {
  std::string_view id;
  Reader reader(message);
  Field f;
  while (reader.Next(&f)) {
    if (f.number == number && f.type == Type::kLen) id = f.bytes;
  }
  return id;
}

}  // namespace

bool WireRequest::Read(std::string_view request) {
  resources_.clear();
  Reader reader(request);
  Field f;
  std::vector<std::string_view> scopes;
  while (reader.Next(&f)) {
    if (f.number != 1 || f.type != Type::kLen) continue;
    Resource& r = resources_.emplace_back();
    scopes.clear();
    if (!SplitBlock(f.bytes, &r.block, [&](std::string_view s) { scopes.push_back(s); })) {
      return false;
    }
    for (const std::string* part : {&r.block.head, &r.block.tail}) {
      Reader other(*part);
      Field h;
      while (other.Next(&h)) {
        if (h.number == 1 && h.type == Type::kLen) r.resource.append(h.bytes);
      }
    }
    for (std::string_view bytes : scopes) {
      Scope& s = r.scopes.emplace_back();
      if (!SplitBlock(bytes, &s.block, [&s](std::string_view rec) { s.records.push_back(rec); })) {
        return false;
      }
    }
  }
  return reader.ok();
}

std::string WireRequest::Compose(const std::vector<WireRef>& refs, size_t begin, size_t end) const {
  std::string out;
  out.resize(Size(refs, begin, end));
  char* p = out.data();
  size_t i = begin;
  while (i < end) {
    const uint32_t r = refs[i].resource;
    size_t j = i;
    while (j < end && refs[j].resource == r) ++j;
    const Resource& rb = resources_[r];
    p = WriteHeader(1, ResourceBlockSize(refs, i, j), p);
    p = WriteBytes(rb.block.head, p);
    size_t k = i;
    while (k < j) {
      const uint32_t s = refs[k].scope;
      size_t l = k;
      while (l < j && refs[l].scope == s) ++l;
      const Scope& sb = rb.scopes[s];
      p = WriteHeader(2, ScopeBlockSize(refs, k, l), p);
      p = WriteBytes(sb.block.head, p);
      for (size_t m = k; m < l; ++m) {
        const std::string_view rec = sb.records[refs[m].record];
        p = WriteHeader(2, rec.size(), p);
        p = WriteBytes(rec, p);
      }
      p = WriteBytes(sb.block.tail, p);
      k = l;
    }
    p = WriteBytes(rb.block.tail, p);
    i = j;
  }
  return out;
}

size_t WireRequest::Size(const std::vector<WireRef>& refs, size_t begin, size_t end) const {
  size_t total = 0;
  size_t i = begin;
  while (i < end) {
    size_t j = i;
    while (j < end && refs[j].resource == refs[i].resource) ++j;
    total += FieldSize(ResourceBlockSize(refs, i, j));
    i = j;
  }
  return total;
}

size_t WireRequest::RecordSize(const WireRef& ref) const { return FieldSize(record(ref).size()); }
size_t WireRequest::ScopeOverhead(const WireRef& ref) const {
  return 8 + ScopeOf(ref).block.OtherSize();
}
size_t WireRequest::ResourceOverhead(const WireRef& ref) const {
  return 8 + resources_[ref.resource].block.OtherSize();
}

size_t WireRequest::ScopeBlockSize(const std::vector<WireRef>& refs, size_t i, size_t j) const {
  size_t n = ScopeOf(refs[i]).block.OtherSize();
  for (size_t m = i; m < j; ++m) n += FieldSize(record(refs[m]).size());
  return n;
}

size_t WireRequest::ResourceBlockSize(const std::vector<WireRef>& refs, size_t i, size_t j) const {
  size_t n = resources_[refs[i].resource].block.OtherSize();
  size_t k = i;
  while (k < j) {
    size_t l = k;
    while (l < j && refs[l].scope == refs[k].scope) ++l;
    n += FieldSize(ScopeBlockSize(refs, k, l));
    k = l;
  }
  return n;
}

std::string_view SpanTraceId(std::string_view span) { return LastBytes(span, 1); }
std::string_view LogTraceId(std::string_view log_record) { return LastBytes(log_record, 9); }

}  // namespace tributary::common::otlp
