#include "exporters/kafka/message_builder.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "google/protobuf/io/coded_stream.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/wire.h"

namespace tributary::exporters::kafka {

using common::kafka::Encoding;

namespace {

using core::wire::Field;
using core::wire::MessageField;
using core::wire::Reader;
using core::wire::Type;
using google::protobuf::io::CodedOutputStream;

// The three OTLP request types share one shape: field 1 of the request is a
// repeated resource block {1: resource, 2: repeated scope block, 3:
// schema_url}, a scope block is {1: scope, 2: repeated record, 3:
// schema_url}. Messages are composed from the serialized request directly:
// a block's other fields and each record are copied as they are.

// A block's fields other than its repeated part, as serialized: those before
// the first element, and those after (a field between elements goes after).
struct Block {
  std::string head;
  std::string tail;
  size_t OtherSize() const { return head.size() + tail.size(); }
};

struct Scope {
  Block block;
  std::vector<std::string_view> records;
};

struct Resource {
  Block block;
  std::string resource;  // field 1 (its occurrences merged): for keys and topics
  std::vector<Scope> scopes;
};

// Splits a block into its elements (field 2) and its other fields.
template <class Each>
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

bool ReadRequest(std::string_view request, std::vector<Resource>* resources) {
  Reader reader(request);
  Field f;
  std::vector<std::string_view> scopes;
  while (reader.Next(&f)) {
    if (f.number != 1 || f.type != Type::kLen) continue;
    Resource& r = resources->emplace_back();
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

struct Ref {
  uint32_t resource;
  uint32_t scope;
  uint32_t record;
};

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

class Composer {
 public:
  explicit Composer(const std::vector<Resource>& resources) : resources_(resources) {}

  // The serialised request holding refs[begin, end), which are in order.
  std::string Compose(const std::vector<Ref>& refs, size_t begin, size_t end) const {
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

  size_t Size(const std::vector<Ref>& refs, size_t begin, size_t end) const {
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

  // Sizes of the parts a message adds for a record: the record itself, and
  // the resource and scope blocks' other fields (and headers, at most 8
  // bytes) when it starts a new block.
  size_t RecordSize(const Ref& ref) const { return FieldSize(RecordOf(ref).size()); }
  size_t ScopeOverhead(const Ref& ref) const { return 8 + ScopeOf(ref).block.OtherSize(); }
  size_t ResourceOverhead(const Ref& ref) const {
    return 8 + resources_[ref.resource].block.OtherSize();
  }

 private:
  const Scope& ScopeOf(const Ref& ref) const { return resources_[ref.resource].scopes[ref.scope]; }
  std::string_view RecordOf(const Ref& ref) const { return ScopeOf(ref).records[ref.record]; }

  // refs[i, j) share a scope block.
  size_t ScopeBlockSize(const std::vector<Ref>& refs, size_t i, size_t j) const {
    size_t n = ScopeOf(refs[i]).block.OtherSize();
    for (size_t m = i; m < j; ++m) n += FieldSize(RecordOf(refs[m]).size());
    return n;
  }
  // refs[i, j) share a resource block.
  size_t ResourceBlockSize(const std::vector<Ref>& refs, size_t i, size_t j) const {
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

  const std::vector<Resource>& resources_;
};

std::string HexId(std::string_view id) {
  return absl::BytesToHexString(absl::string_view(id.data(), id.size()));
}

// A span's trace id (field 1), as a parser keeps it: the last one written.
std::string_view TraceId(std::string_view span) {
  std::string_view id;
  Reader reader(span);
  Field f;
  while (reader.Next(&f)) {
    if (f.number == 1 && f.type == Type::kLen) id = f.bytes;
  }
  return id;
}

struct Group {
  std::string topic;
  std::string key;
  std::vector<Ref> refs;
};

}  // namespace

std::string ResourceKey(std::string_view resource) {
  // The attributes (field 1) sorted by key.
  std::vector<std::pair<std::string_view, std::string_view>> attrs;
  Reader reader(resource);
  Field f;
  std::deque<MessageField> values;  // where merged values live
  while (reader.Next(&f)) {
    if (f.number != 1 || f.type != Type::kLen) continue;
    std::string_view key;
    MessageField& value = values.emplace_back();
    core::wire::ReadKeyValue(f.bytes, &key, &value);
    attrs.emplace_back(key, value.bytes());
  }
  std::sort(attrs.begin(), attrs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // FNV-1a, 64 bits: stable across processes and versions.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  for (const auto& [key, value] : attrs) {
    mix(key);
    mix(value);
  }
  std::string out(16, '0');
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, h >>= 4) out[i] = kDigits[h & 15];
  return out;
}

bool BuildMessages(const core::Batch& batch, const MessageOptions& options,
                   std::vector<Message>* messages, std::vector<core::Batch>* oversized) {
  const core::Signal signal = batch.signal();
  std::string scratch;
  std::vector<Resource> resources;
  if (!ReadRequest(core::wire::SerializedRequest(batch, &scratch), &resources)) return false;

  // Groups by (topic, key), in order of first appearance.
  std::vector<Group> groups;
  absl::flat_hash_map<std::pair<std::string, std::string>, size_t> index;
  auto group = [&](const std::string& topic, std::string key) -> Group& {
    auto [it, inserted] = index.try_emplace(std::make_pair(topic, key), groups.size());
    if (inserted) groups.push_back(Group{topic, std::move(key), {}});
    return groups[it->second];
  };
  const bool by_trace = signal == core::Signal::kTraces && options.key_by_trace_id;
  for (uint32_t r = 0; r < static_cast<uint32_t>(resources.size()); ++r) {
    const Resource& rb = resources[r];
    std::optional<std::string> named;
    if (!options.topic_from_attribute.empty()) {
      named = core::wire::StringAttribute(rb.resource, 1, options.topic_from_attribute);
    }
    const std::string& topic = named && !named->empty() ? *named : options.topic;
    std::string resource_key;
    if (signal != core::Signal::kTraces && options.key_by_resource) {
      resource_key = ResourceKey(rb.resource);
    }
    Group* shared = by_trace ? nullptr : &group(topic, resource_key);
    for (uint32_t s = 0; s < static_cast<uint32_t>(rb.scopes.size()); ++s) {
      const auto& records = rb.scopes[s].records;
      for (uint32_t i = 0; i < static_cast<uint32_t>(records.size()); ++i) {
        if (by_trace) {
          group(topic, HexId(TraceId(records[i]))).refs.push_back(Ref{r, s, i});
        } else {
          shared->refs.push_back(Ref{r, s, i});
        }
      }
    }
  }

  const Composer composer(resources);
  auto emit = [&](const Group& g, size_t begin, size_t end, auto&& self) -> void {
    std::string value = composer.Compose(g.refs, begin, end);
    if (options.encoding == Encoding::kOtlpJson) {
      std::string json;
      value = core::AppendOtlpJson(signal, value, &json) ? std::move(json) : std::string();
    }
    if (value.size() > options.max_message_bytes) {
      if (end - begin > 1) {
        const size_t mid = begin + (end - begin) / 2;
        self(g, begin, mid, self);
        self(g, mid, end, self);
        return;
      }
      auto decoded = core::DecodeOtlpProto(signal, composer.Compose(g.refs, begin, end));
      if (decoded.ok()) oversized->push_back(*std::move(decoded));
      return;
    }
    messages->push_back(Message{g.topic, g.key, std::move(value), end - begin});
  };
  for (const Group& g : groups) {
    // Cuts the group greedily by the encoded size of its parts.
    size_t begin = 0;
    size_t size = 0;
    for (size_t i = 0; i < g.refs.size(); ++i) {
      const Ref& ref = g.refs[i];
      size_t add = composer.RecordSize(ref);
      const bool new_resource = i == begin || ref.resource != g.refs[i - 1].resource;
      if (new_resource) add += composer.ResourceOverhead(ref);
      if (new_resource || ref.scope != g.refs[i - 1].scope) add += composer.ScopeOverhead(ref);
      if (i > begin && size + add > options.max_message_bytes) {
        emit(g, begin, i, emit);
        begin = i;
        add =
            composer.RecordSize(ref) + composer.ResourceOverhead(ref) + composer.ScopeOverhead(ref);
        size = 0;
      }
      size += add;
    }
    if (begin < g.refs.size()) emit(g, begin, g.refs.size(), emit);
  }
  return true;
}

}  // namespace tributary::exporters::kafka
