#include "exporters/kafka/message_builder.h"

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/io/coded_stream.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::exporters::kafka {

using common::kafka::Encoding;

namespace {

namespace common = opentelemetry::proto::common::v1;
namespace resource = opentelemetry::proto::resource::v1;
using google::protobuf::io::CodedOutputStream;

// The three OTLP request types share one shape: field 1 of the request is a
// repeated resource block {1: resource, 2: repeated scope block, 3:
// schema_url}, a scope block is {1: scope, 2: repeated record, 3:
// schema_url}. Messages are composed from that shape directly, each record
// serialised once into the message, without building requests to copy.
template <class Request>
struct Shape;
template <>
struct Shape<core::TracesRequest> {
  static const auto& Resources(const core::TracesRequest& r) { return r.resource_spans(); }
  template <class R>
  static const auto& Scopes(const R& r) {
    return r.scope_spans();
  }
  template <class S>
  static const auto& Records(const S& s) {
    return s.spans();
  }
};
template <>
struct Shape<core::MetricsRequest> {
  static const auto& Resources(const core::MetricsRequest& r) { return r.resource_metrics(); }
  template <class R>
  static const auto& Scopes(const R& r) {
    return r.scope_metrics();
  }
  template <class S>
  static const auto& Records(const S& s) {
    return s.metrics();
  }
};
template <>
struct Shape<core::LogsRequest> {
  static const auto& Resources(const core::LogsRequest& r) { return r.resource_logs(); }
  template <class R>
  static const auto& Scopes(const R& r) {
    return r.scope_logs();
  }
  template <class S>
  static const auto& Records(const S& s) {
    return s.log_records();
  }
};

struct Ref {
  uint32_t resource;
  uint32_t scope;
  uint32_t record;
};

size_t FieldSize(size_t len) { return 1 + CodedOutputStream::VarintSize64(len) + len; }

uint8_t* WriteHeader(uint8_t field, size_t len, uint8_t* p) {
  *p++ = static_cast<uint8_t>(field << 3 | 2);
  return CodedOutputStream::WriteVarint64ToArray(len, p);
}

uint8_t* WriteString(uint8_t field, const std::string& s, uint8_t* p) {
  p = WriteHeader(field, s.size(), p);
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

template <class Request>
class Composer {
 public:
  explicit Composer(const Request& request) : request_(request) {}

  // The serialised request holding refs[begin, end), which are in order.
  // Uses the sizes protobuf cached when RecordSize, ScopeOverhead and
  // ResourceOverhead measured the parts, so that each is measured once.
  std::string Compose(const std::vector<Ref>& refs, size_t begin, size_t end) const {
    const size_t size = Size(refs, begin, end);
    std::string out;
    out.resize(size);
    auto* p = reinterpret_cast<uint8_t*>(out.data());
    size_t i = begin;
    while (i < end) {
      const uint32_t r = refs[i].resource;
      size_t j = i;
      while (j < end && refs[j].resource == r) ++j;
      const auto& rb = Shape<Request>::Resources(request_)[r];
      p = WriteHeader(1, ResourceBlockSize(refs, i, j), p);
      if (rb.has_resource()) {
        p = WriteHeader(1, rb.resource().GetCachedSize(), p);
        p = rb.resource().SerializeWithCachedSizesToArray(p);
      }
      size_t k = i;
      while (k < j) {
        const uint32_t s = refs[k].scope;
        size_t l = k;
        while (l < j && refs[l].scope == s) ++l;
        const auto& sb = Shape<Request>::Scopes(rb)[s];
        p = WriteHeader(2, ScopeBlockSize(refs, k, l), p);
        if (sb.has_scope()) {
          p = WriteHeader(1, sb.scope().GetCachedSize(), p);
          p = sb.scope().SerializeWithCachedSizesToArray(p);
        }
        for (size_t m = k; m < l; ++m) {
          const auto& rec = Shape<Request>::Records(sb)[refs[m].record];
          p = WriteHeader(2, rec.GetCachedSize(), p);
          p = rec.SerializeWithCachedSizesToArray(p);
        }
        if (!sb.schema_url().empty()) p = WriteString(3, sb.schema_url(), p);
        k = l;
      }
      if (!rb.schema_url().empty()) p = WriteString(3, rb.schema_url(), p);
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
  // the resource and scope headers when it starts a new block.
  size_t RecordSize(const Ref& ref) const { return FieldSize(RecordOf(ref).ByteSizeLong()); }
  size_t ScopeOverhead(const Ref& ref) const {
    const auto& sb = ScopeOf(ref);
    size_t n = 8;  // the block's own header, at most
    if (sb.has_scope()) n += FieldSize(sb.scope().ByteSizeLong());
    if (!sb.schema_url().empty()) n += FieldSize(sb.schema_url().size());
    return n;
  }
  size_t ResourceOverhead(const Ref& ref) const {
    const auto& rb = Shape<Request>::Resources(request_)[ref.resource];
    size_t n = 8;
    if (rb.has_resource()) n += FieldSize(rb.resource().ByteSizeLong());
    if (!rb.schema_url().empty()) n += FieldSize(rb.schema_url().size());
    return n;
  }

 private:
  const auto& ScopeOf(const Ref& ref) const {
    return Shape<Request>::Scopes(Shape<Request>::Resources(request_)[ref.resource])[ref.scope];
  }
  const auto& RecordOf(const Ref& ref) const {
    return Shape<Request>::Records(ScopeOf(ref))[ref.record];
  }

  // refs[i, j) share a scope block.
  size_t ScopeBlockSize(const std::vector<Ref>& refs, size_t i, size_t j) const {
    const auto& sb = ScopeOf(refs[i]);
    size_t n = 0;
    if (sb.has_scope()) n += FieldSize(sb.scope().GetCachedSize());
    for (size_t m = i; m < j; ++m) n += FieldSize(RecordOf(refs[m]).GetCachedSize());
    if (!sb.schema_url().empty()) n += FieldSize(sb.schema_url().size());
    return n;
  }
  // refs[i, j) share a resource block.
  size_t ResourceBlockSize(const std::vector<Ref>& refs, size_t i, size_t j) const {
    const auto& rb = Shape<Request>::Resources(request_)[refs[i].resource];
    size_t n = 0;
    if (rb.has_resource()) n += FieldSize(rb.resource().GetCachedSize());
    size_t k = i;
    while (k < j) {
      size_t l = k;
      while (l < j && refs[l].scope == refs[k].scope) ++l;
      n += FieldSize(ScopeBlockSize(refs, k, l));
      k = l;
    }
    if (!rb.schema_url().empty()) n += FieldSize(rb.schema_url().size());
    return n;
  }

  const Request& request_;
};

const std::string* StringAttribute(const resource::Resource& res, const std::string& key) {
  for (const auto& kv : res.attributes()) {
    if (kv.key() == key && kv.value().has_string_value()) return &kv.value().string_value();
  }
  return nullptr;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[static_cast<uint8_t>(bytes[i]) >> 4];
    out[2 * i + 1] = kDigits[static_cast<uint8_t>(bytes[i]) & 15];
  }
  return out;
}

struct Group {
  std::string topic;
  std::string key;
  std::vector<Ref> refs;
};

template <class Request>
void Build(const core::Batch& batch, const Request& request, const MessageOptions& options,
           std::vector<Message>* messages, std::vector<core::Batch>* oversized) {
  const core::Signal signal = batch.signal();
  // Groups by (topic, key), in order of first appearance.
  std::vector<Group> groups;
  absl::flat_hash_map<std::pair<std::string, std::string>, size_t> index;
  auto group = [&](const std::string& topic, std::string key) -> Group& {
    auto [it, inserted] = index.try_emplace(std::make_pair(topic, key), groups.size());
    if (inserted) groups.push_back(Group{topic, std::move(key), {}});
    return groups[it->second];
  };
  const auto& resources = Shape<Request>::Resources(request);
  for (uint32_t r = 0; r < static_cast<uint32_t>(resources.size()); ++r) {
    const auto& rb = resources[r];
    const std::string* named = options.topic_from_attribute.empty()
                                   ? nullptr
                                   : StringAttribute(rb.resource(), options.topic_from_attribute);
    const std::string& topic = named != nullptr && !named->empty() ? *named : options.topic;
    const bool by_trace = signal == core::Signal::kTraces && options.key_by_trace_id;
    std::string resource_key;
    if (!by_trace && signal != core::Signal::kTraces && options.key_by_resource) {
      resource_key = ResourceKey(rb.resource());
    }
    Group* shared = by_trace ? nullptr : &group(topic, resource_key);
    const auto& scopes = Shape<Request>::Scopes(rb);
    for (uint32_t s = 0; s < static_cast<uint32_t>(scopes.size()); ++s) {
      const auto& records = Shape<Request>::Records(scopes[s]);
      for (uint32_t i = 0; i < static_cast<uint32_t>(records.size()); ++i) {
        if constexpr (std::is_same_v<Request, core::TracesRequest>) {
          if (by_trace) {
            group(topic, Hex(records[i].trace_id())).refs.push_back(Ref{r, s, i});
            continue;
          }
        }
        shared->refs.push_back(Ref{r, s, i});
      }
    }
  }

  const Composer<Request> composer(request);
  auto emit = [&](const Group& g, size_t begin, size_t end, auto&& self) -> void {
    std::string value = composer.Compose(g.refs, begin, end);
    if (options.encoding == Encoding::kOtlpJson) {
      auto decoded = core::DecodeOtlpProto(signal, value);
      value = decoded.ok() ? core::EncodeOtlpJson(*decoded) : std::string();
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
}

}  // namespace

std::string ResourceKey(const resource::Resource& res) {
  std::vector<const common::KeyValue*> attrs;
  attrs.reserve(res.attributes_size());
  for (const auto& kv : res.attributes()) attrs.push_back(&kv);
  std::sort(attrs.begin(), attrs.end(), [](const common::KeyValue* a, const common::KeyValue* b) {
    return a->key() < b->key();
  });
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
  std::string value;
  for (const common::KeyValue* kv : attrs) {
    mix(kv->key());
    value.clear();
    kv->value().SerializeToString(&value);
    mix(value);
  }
  std::string key(16, '0');
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, h >>= 4) key[i] = kDigits[h & 15];
  return key;
}

void BuildMessages(const core::Batch& batch, const MessageOptions& options,
                   std::vector<Message>* messages, std::vector<core::Batch>* oversized) {
  switch (batch.signal()) {
    case core::Signal::kTraces:
      Build(batch, batch.traces(), options, messages, oversized);
      break;
    case core::Signal::kMetrics:
      Build(batch, batch.metrics(), options, messages, oversized);
      break;
    case core::Signal::kLogs:
      Build(batch, batch.logs(), options, messages, oversized);
      break;
  }
}

}  // namespace tributary::exporters::kafka
