// OTLP protobuf encoding of spans and log records.
#include <algorithm>

#include "state.h"

namespace tributary::sdk::detail {
namespace {

std::string_view Bytes(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

constexpr const char* SeverityText(Severity s) {
  switch (s) {
    case Severity::kTrace:
      return "TRACE";
    case Severity::kDebug:
      return "DEBUG";
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarn:
      return "WARN";
    case Severity::kError:
      return "ERROR";
    case Severity::kFatal:
      return "FATAL";
  }
  return "";
}

void WriteResource(WireWriter& w, const std::string& resource) {
  // resource = 1 in ResourceSpans / ResourceLogs / ResourceMetrics
  w.BytesAlways(1, resource);
}

template <class T, class Fn>
void ByScope(const std::vector<T*>& records, Fn&& fn) {
  // Records arrive in end order; group them by scope, keeping that order inside one.
  std::vector<const void*> scopes;
  for (T* r : records)
    if (std::find(scopes.begin(), scopes.end(), r->scope) == scopes.end())
      scopes.push_back(r->scope);
  for (const void* s : scopes) fn(s);
}

}  // namespace

void WriteAnyValue(WireWriter& w, uint32_t field, const OwnedValue& v) {
  size_t any = w.Open(field);
  switch (v.type) {
    case AttributeValue::Type::kString:
      w.BytesAlways(1, v.string_value);
      break;
    case AttributeValue::Type::kBool:
      w.Tag(2, 0);
      w.Varint(v.int_value != 0 ? 1 : 0);
      break;
    case AttributeValue::Type::kInt:
      w.Tag(3, 0);
      w.Varint(static_cast<uint64_t>(v.int_value));
      break;
    case AttributeValue::Type::kDouble:
      w.DoubleAlways(4, v.double_value);
      break;
  }
  w.Close(any);
}

void WriteKeyValue(WireWriter& w, uint32_t field, std::string_view key, const OwnedValue& v) {
  size_t kv = w.Open(field);
  w.Bytes(1, key);
  WriteAnyValue(w, 2, v);
  w.Close(kv);
}

void WriteAttributes(WireWriter& w, uint32_t field, const AttributeStore& a) {
  for (uint32_t i = 0; i < a.size; ++i) WriteKeyValue(w, field, a.items[i].key, a.items[i].value);
}

void WriteAttributes(WireWriter& w, uint32_t field, const std::vector<OwnedAttribute>& a) {
  for (const OwnedAttribute& kv : a) WriteKeyValue(w, field, kv.key, kv.value);
}

void WriteScope(WireWriter& w, uint32_t field, const ScopeInfo& scope) {
  size_t s = w.Open(field);
  w.Bytes(1, scope.name);
  w.Bytes(2, scope.version);
  w.Close(s);
}

void EncodeSpans(const std::vector<SpanRecord*>& spans, const std::string& resource,
                 std::string& out) {
  out.clear();
  WireWriter w(out);
  size_t rs = w.Open(1);  // ExportTraceServiceRequest.resource_spans
  WriteResource(w, resource);
  ByScope(spans, [&](const void* scope) {
    size_t ss = w.Open(2);  // ResourceSpans.scope_spans
    WriteScope(w, 1, static_cast<const TracerState*>(scope)->scope);
    for (const SpanRecord* r : spans) {
      if (r->scope != scope) continue;
      size_t sp = w.Open(2);  // ScopeSpans.spans
      w.BytesAlways(1, Bytes(r->context.trace_id.data(), 16));
      w.BytesAlways(2, Bytes(r->context.span_id.data(), 8));
      w.Bytes(3, r->context.trace_state);
      if (r->has_parent) w.BytesAlways(4, Bytes(r->parent_span_id.data(), 8));
      w.Bytes(5, r->name);
      w.UInt64(6, static_cast<uint64_t>(r->kind));
      w.Fixed64(7, r->start_ns);
      w.Fixed64(8, r->end_ns);
      WriteAttributes(w, 9, r->attributes);
      w.UInt64(10, r->attributes.dropped);
      for (uint32_t i = 0; i < r->event_count; ++i) {
        const SpanEvent& e = r->events[i];
        size_t ev = w.Open(11);
        w.Fixed64(1, e.time_ns);
        w.Bytes(2, e.name);
        WriteAttributes(w, 3, e.attributes);
        w.UInt64(4, e.attributes.dropped);
        w.Close(ev);
      }
      w.UInt64(12, r->dropped_events);
      for (uint32_t i = 0; i < r->link_count; ++i) {
        const SpanLink& l = r->links[i];
        size_t lk = w.Open(13);
        w.BytesAlways(1, Bytes(l.context.trace_id.data(), 16));
        w.BytesAlways(2, Bytes(l.context.span_id.data(), 8));
        w.Bytes(3, l.context.trace_state);
        WriteAttributes(w, 4, l.attributes);
        w.UInt64(5, l.attributes.dropped);
        // flags: trace flags, and whether the linked context is remote
        w.Fixed32(6, l.context.trace_flags | 0x100u | (l.context.remote ? 0x200u : 0u));
        w.Close(lk);
      }
      w.UInt64(14, r->dropped_links);
      if (r->status != StatusCode::kUnset) {
        size_t st = w.Open(15);
        w.Bytes(2, r->status_message);
        w.UInt64(3, static_cast<uint64_t>(r->status));
        w.Close(st);
      }
      // flags: trace flags, and whether the parent is remote
      w.Fixed32(
          16, r->context.trace_flags | 0x100u | (r->has_parent && r->parent_remote ? 0x200u : 0u));
      w.Close(sp);
    }
    w.Close(ss);
  });
  w.Close(rs);
}

void EncodeLogs(const std::vector<LogRecordData*>& logs, const std::string& resource,
                std::string& out) {
  out.clear();
  WireWriter w(out);
  size_t rl = w.Open(1);  // ExportLogsServiceRequest.resource_logs
  WriteResource(w, resource);
  ByScope(logs, [&](const void* scope) {
    size_t sl = w.Open(2);  // ResourceLogs.scope_logs
    WriteScope(w, 1, static_cast<const LoggerState*>(scope)->scope);
    for (const LogRecordData* r : logs) {
      if (r->scope != scope) continue;
      size_t lr = w.Open(2);  // ScopeLogs.log_records
      w.Fixed64(1, r->time_ns);
      w.UInt64(2, static_cast<uint64_t>(r->severity));
      w.Bytes(3, SeverityText(r->severity));
      size_t body = w.Open(5);
      w.BytesAlways(1, r->body);
      w.Close(body);
      WriteAttributes(w, 6, r->attributes);
      w.UInt64(7, r->attributes.dropped);
      w.Fixed32(8, r->trace_flags);
      bool has_trace =
          std::any_of(r->trace_id.begin(), r->trace_id.end(), [](uint8_t b) { return b != 0; });
      if (has_trace) {
        w.BytesAlways(9, Bytes(r->trace_id.data(), 16));
        w.BytesAlways(10, Bytes(r->span_id.data(), 8));
      }
      w.Fixed64(11, r->time_ns);
      w.Close(lr);
    }
    w.Close(sl);
  });
  w.Close(rl);
}

}  // namespace tributary::sdk::detail
