#include "exporters/kafka/message_builder.h"

#include <algorithm>
#include <deque>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "common/otlp/wire_request.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/wire.h"

namespace tributary::exporters::kafka {

using common::kafka::Encoding;

namespace {

using common::otlp::WireRef;
using common::otlp::WireRequest;
using core::wire::Field;
using core::wire::MessageField;
using core::wire::Reader;
using core::wire::Type;

std::string HexId(std::string_view id) {
  return absl::BytesToHexString(absl::string_view(id.data(), id.size()));
}

struct Group {
  std::string topic;
  std::string key;
  std::vector<WireRef> refs;
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
  WireRequest request;
  if (!request.Read(core::wire::SerializedRequest(batch, &scratch))) return false;

  // Groups by (topic, key), in order of first appearance.
  std::vector<Group> groups;
  absl::flat_hash_map<std::pair<std::string, std::string>, size_t> index;
  auto group = [&](const std::string& topic, std::string key) -> Group& {
    auto [it, inserted] = index.try_emplace(std::make_pair(topic, key), groups.size());
    if (inserted) groups.push_back(Group{topic, std::move(key), {}});
    return groups[it->second];
  };
  const bool by_trace = signal == core::Signal::kTraces && options.key_by_trace_id;
  for (uint32_t r = 0; r < static_cast<uint32_t>(request.resources()); ++r) {
    std::optional<std::string> named;
    if (!options.topic_from_attribute.empty()) {
      named = core::wire::StringAttribute(request.resource(r), 1, options.topic_from_attribute);
    }
    const std::string& topic = named && !named->empty() ? *named : options.topic;
    std::string resource_key;
    if (signal != core::Signal::kTraces && options.key_by_resource) {
      resource_key = ResourceKey(request.resource(r));
    }
    Group* shared = by_trace ? nullptr : &group(topic, resource_key);
    for (uint32_t s = 0; s < static_cast<uint32_t>(request.scopes(r)); ++s) {
      for (uint32_t i = 0; i < static_cast<uint32_t>(request.records(r, s)); ++i) {
        const WireRef ref{r, s, i};
        if (by_trace) {
          group(topic, HexId(common::otlp::SpanTraceId(request.record(ref)))).refs.push_back(ref);
        } else {
          shared->refs.push_back(ref);
        }
      }
    }
  }

  const WireRequest& composer = request;
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
      const WireRef& ref = g.refs[i];
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
