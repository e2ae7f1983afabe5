// Spans read on their wire form (common/otlp/span_view.h, which the
// spanmetrics and servicegraph connectors use on what senders sent),
// against protobuf's parse of the same bytes: whatever parses as an
// ExportTraceServiceRequest is read, block by block, with the same
// resources, the same spans in the same order, the same fields of each, and
// the same first value of each of its attributes' keys, looked up one by
// one and all at once. No input makes it read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/otlp/span_view.h"
#include "tributary/core/batch.h"

namespace {

namespace otlp = tributary::common::otlp;
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;

void Require(bool condition) {
  if (!condition) std::abort();
}

// The first value of `key` among `attributes`, serialized, and whether
// there is one.
bool First(const google::protobuf::RepeatedPtrField<KeyValue>& attributes, const std::string& key,
           AnyValue* value) {
  for (const KeyValue& kv : attributes) {
    if (kv.key() == key) {
      *value = kv.value();
      return true;
    }
  }
  return false;
}

void SameValue(bool found, const AnyValue& want, std::string_view got_bytes) {
  if (!found) return;
  AnyValue got;
  Require(got.ParseFromArray(got_bytes.data(), static_cast<int>(got_bytes.size())));
  Require(got.SerializeAsString() == want.SerializeAsString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  otlp::SpansReader reader;
  const bool read = reader.Read(bytes);
  tributary::core::TracesRequest parsed;
  if (!parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return 0;
  Require(read);  // protobuf parses it: the reader must too
  Require(reader.blocks() == static_cast<size_t>(parsed.resource_spans_size()));
  for (size_t b = 0; b < reader.blocks(); ++b) {
    const auto& rs = parsed.resource_spans(static_cast<int>(b));
    opentelemetry::proto::resource::v1::Resource resource;
    const std::string_view rb = reader.resource(b);
    Require(resource.ParseFromArray(rb.data(), static_cast<int>(rb.size())));
    Require(resource.SerializeAsString() == rs.resource().SerializeAsString());
    const otlp::SpanView* span = reader.begin(b);
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        Require(span != reader.end(b));
        Require(span->trace_id == s.trace_id() && span->span_id == s.span_id() &&
                span->parent_span_id == s.parent_span_id() && span->name == s.name());
        Require(span->kind == s.kind() && span->start == s.start_time_unix_nano() &&
                span->end == s.end_time_unix_nano() && span->status_code == s.status().code());
        std::vector<std::string> keys;
        for (const KeyValue& kv : s.attributes()) keys.push_back(kv.key());
        keys.push_back("absent.key");
        std::vector<tributary::core::wire::MessageField> all(keys.size());
        otlp::FindAttributes(span->bytes, 9, keys.data(), keys.size(), all.data());
        for (size_t k = 0; k < keys.size(); ++k) {
          AnyValue want;
          const bool found = First(s.attributes(), keys[k], &want);
          tributary::core::wire::MessageField one;
          Require(otlp::FindAttribute(span->bytes, 9, keys[k], &one) == found);
          Require(all[k].present() == found);
          SameValue(found, want, one.bytes());
          SameValue(found, want, all[k].bytes());
          otlp::AttributeScratch scratch;
          const std::string_view text = otlp::FindString(span->bytes, 9, keys[k], &scratch);
          Require(text == (found && want.has_string_value() ? want.string_value() : ""));
        }
        ++span;
      }
    }
    Require(span == reader.end(b));
  }
  return 0;
}
