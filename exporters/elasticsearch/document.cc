#include "exporters/elasticsearch/document.h"

#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "exporters/elasticsearch/murmur3.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/wire.h"

namespace tributary::exporters::elasticsearch {

namespace {

using core::wire::AnyValue;
using core::wire::Field;
using core::wire::ReadAnyValue;
using core::wire::Reader;
using core::wire::ReadKeyValue;
using core::wire::Type;

// Nesting of values deeper than protobuf's parser accepts is malformed.
constexpr int kMaxDepth = 100;

// Span kinds and status codes as the trace proto numbers them.
enum SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
enum StatusCode { kStatusOk = 1, kStatusError = 2 };

void AppendHex(std::string_view bytes, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    out->push_back(kDigits[c >> 4]);
    out->push_back(kDigits[c & 15]);
  }
}

void AppendU64Hex(uint64_t v, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kDigits[(v >> shift) & 15]);
}

void AppendEscapedKey(std::string_view name, std::string* out) {
  out->push_back('"');
  core::AppendJsonEscaped(name, out);
  out->append("\":");
}

void AppendDouble(double d, std::string* out) {
  if (!std::isfinite(d)) {
    core::AppendJsonString(std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"), out);
    return;
  }
  char buf[32];
  const int n = snprintf(buf, sizeof buf, "%.17g", d);
  out->append(buf, static_cast<size_t>(n));
}

bool AppendValue(std::string_view v, int depth, std::string* out);

// The KeyValues of field `number` of `message` as an object, keys made
// field names.
bool AppendAttributes(std::string_view message, uint32_t number, int depth, std::string* out) {
  out->push_back('{');
  bool first = true;
  Reader reader(message);
  Field f;
  while (reader.Next(&f)) {
    if (f.number != number || f.type != Type::kLen) continue;
    std::string_view key;
    MessageField value;
    if (!ReadKeyValue(f.bytes, &key, &value)) return false;
    if (!first) out->push_back(',');
    first = false;
    AppendEscapedKey(FieldName(key), out);
    if (!AppendValue(value.bytes(), depth + 1, out)) return false;
  }
  out->push_back('}');
  return reader.ok();
}

bool AppendValue(std::string_view v, int depth, std::string* out) {
  if (depth > kMaxDepth) return false;
  AnyValue any;
  if (!ReadAnyValue(v, &any)) return false;
  switch (any.member) {
    case AnyValue::kString:
      core::AppendJsonString(any.bytes.bytes(), out);
      return true;
    case AnyValue::kBool:
      out->append(any.value != 0 ? "true" : "false");
      return true;
    case AnyValue::kInt:
      absl::StrAppend(out, static_cast<int64_t>(any.value));
      return true;
    case AnyValue::kDouble: {
      double d;
      std::memcpy(&d, &any.value, sizeof d);
      AppendDouble(d, out);
      return true;
    }
    case AnyValue::kBytes:
      core::AppendJsonString(
          absl::Base64Escape(absl::string_view(any.bytes.bytes().data(), any.bytes.bytes().size())),
          out);
      return true;
    case AnyValue::kArray: {
      out->push_back('[');
      bool first = true;
      Reader reader(any.bytes.bytes());
      Field f;
      while (reader.Next(&f)) {
        if (f.number != 1 || f.type != Type::kLen) continue;
        if (!first) out->push_back(',');
        first = false;
        if (!AppendValue(f.bytes, depth + 1, out)) return false;
      }
      out->push_back(']');
      return reader.ok();
    }
    case AnyValue::kKvlist:
      return AppendAttributes(any.bytes.bytes(), 1, depth, out);
    default:
      out->append("null");
      return true;
  }
}

// A body as the `message` text: strings as they are, anything else as JSON.
bool AppendMessage(std::string_view body, std::string* out) {
  AnyValue any;
  if (!ReadAnyValue(body, &any)) return false;
  if (any.member == AnyValue::kString) {
    core::AppendJsonString(any.bytes.bytes(), out);
    return true;
  }
  std::string json;
  if (!AppendValue(body, 0, &json)) return false;
  core::AppendJsonString(json, out);
  return true;
}

const char* SeverityWord(int number) {
  if (number <= 0) return nullptr;
  if (number <= 4) return "TRACE";
  if (number <= 8) return "DEBUG";
  if (number <= 12) return "INFO";
  if (number <= 16) return "WARN";
  if (number <= 20) return "ERROR";
  return "FATAL";
}

const char* SpanKindWord(int kind) {
  switch (kind) {
    case kInternal:
      return "INTERNAL";
    case kServer:
      return "SERVER";
    case kClient:
      return "CLIENT";
    case kProducer:
      return "PRODUCER";
    case kConsumer:
      return "CONSUMER";
    default:
      return "UNSPECIFIED";
  }
}

void AppendDataStream(const char* type, const std::string& index, std::string* out) {
  // index is type-dataset-namespace; its parts are already clean.
  const size_t a = index.find('-');
  const size_t b = index.rfind('-');
  if (a == std::string::npos || b == a || index.compare(0, a, type) != 0) return;
  absl::StrAppend(out, ",\"data_stream.type\":\"", type, "\",\"data_stream.dataset\":\"",
                  index.substr(a + 1, b - a - 1), "\",\"data_stream.namespace\":\"",
                  index.substr(b + 1), "\"");
}

// The ECS field of a resource attribute; "" for none, nullptr for an
// attribute that names the data stream and is left out.
const char* EcsResourceField(std::string_view k) {
  if (k == "service.name") return "service.name";
  if (k == "service.version") return "service.version";
  if (k == "service.instance.id") return "service.node.name";
  if (k == "deployment.environment" || k == "deployment.environment.name") {
    return "service.environment";
  }
  if (k == "host.name") return "host.name";
  if (k == "k8s.namespace.name") return "kubernetes.namespace";
  if (k == "k8s.pod.name") return "kubernetes.pod.name";
  if (k == "k8s.pod.uid") return "kubernetes.pod.uid";
  if (k == "k8s.container.name") return "kubernetes.container.name";
  if (k == "k8s.node.name") return "kubernetes.node.name";
  if (k == "k8s.deployment.name") return "kubernetes.deployment.name";
  if (k == "container.id") return "container.id";
  if (k == "data_stream.dataset" || k == "data_stream.namespace") return nullptr;
  return "";
}

// ECS fields from resource attributes; the rest under resource.attributes.
bool AppendEcsResource(std::string_view resource, std::string* out) {
  std::string rest;
  std::string labels;
  Reader reader(resource);
  Field f;
  while (reader.Next(&f)) {
    if (f.number != 1 || f.type != Type::kLen) continue;
    std::string_view k;
    MessageField value;
    if (!ReadKeyValue(f.bytes, &k, &value)) return false;
    const char* ecs = EcsResourceField(k);
    if (ecs == nullptr) continue;
    if (*ecs != '\0') {
      out->append(",\"");
      out->append(ecs);
      out->append("\":");
      if (!AppendValue(value.bytes(), 0, out)) return false;
      continue;
    }
    constexpr std::string_view kLabel = "k8s.pod.label.";
    if (k.size() > kLabel.size() && k.substr(0, kLabel.size()) == kLabel) {
      if (!labels.empty()) labels.push_back(',');
      AppendEscapedKey(FieldName(k.substr(kLabel.size())), &labels);
      if (!AppendValue(value.bytes(), 0, &labels)) return false;
      continue;
    }
    if (!rest.empty()) rest.push_back(',');
    AppendEscapedKey(FieldName(k), &rest);
    if (!AppendValue(value.bytes(), 0, &rest)) return false;
  }
  if (!labels.empty()) absl::StrAppend(out, ",\"kubernetes.labels\":{", labels, "}");
  if (!rest.empty()) absl::StrAppend(out, ",\"resource.attributes\":{", rest, "}");
  return reader.ok();
}

bool AppendOtelResourceAndScope(const Origin& origin, std::string* out) {
  out->append(",\"resource\":{\"attributes\":");
  if (!AppendAttributes(origin.resource.bytes(), 1, 0, out)) return false;
  out->append("}");
  if (!origin.scope_name.empty() || !origin.scope_version.empty() || origin.scope_has_attributes) {
    out->append(",\"scope\":{\"name\":");
    core::AppendJsonString(origin.scope_name, out);
    out->append(",\"version\":");
    core::AppendJsonString(origin.scope_version, out);
    if (origin.scope_has_attributes) {
      out->append(",\"attributes\":");
      if (!AppendAttributes(origin.scope.bytes(), 3, 0, out)) return false;
    }
    out->append("}");
  }
  return true;
}

void AppendHexField(const char* name, std::string_view id, std::string* out) {
  out->append(name);
  AppendHex(id, out);
  out->push_back('"');
}

}  // namespace

bool CompleteOrigin(Origin* origin) {
  origin->scope_name = {};
  origin->scope_version = {};
  origin->scope_has_attributes = false;
  Reader reader(origin->scope.bytes());
  Field f;
  while (reader.Next(&f)) {
    if (f.type != Type::kLen) continue;
    if (f.number == 1) {
      origin->scope_name = f.bytes;
    } else if (f.number == 2) {
      origin->scope_version = f.bytes;
    } else if (f.number == 3) {
      origin->scope_has_attributes = true;
    }
  }
  std::string buf;
  buf.reserve(origin->resource.bytes().size() + 1 + origin->scope.bytes().size());
  buf.append(origin->resource.bytes());
  buf.push_back('\0');
  buf.append(origin->scope.bytes());
  origin->hash = Murmur3Hash128(buf, 0x7472696275746172ull).first;
  return reader.ok();
}

bool ReadLog(std::string_view bytes, LogView* log) {
  log->bytes = bytes;
  log->time_unix_nano = log->observed_time_unix_nano = 0;
  log->severity_number = 0;
  log->flags = 0;
  log->severity_text = log->trace_id = log->span_id = log->event_name = {};
  log->body.Reset();
  log->has_attributes = false;
  Reader reader(bytes);
  Field f;
  while (reader.Next(&f)) {
    switch (f.number) {
      case 1:
        if (f.type == Type::kFixed64) log->time_unix_nano = f.value;
        break;
      case 11:
        if (f.type == Type::kFixed64) log->observed_time_unix_nano = f.value;
        break;
      case 2:
        if (f.type == Type::kVarint) log->severity_number = static_cast<int32_t>(f.value);
        break;
      case 8:
        if (f.type == Type::kFixed32) log->flags = static_cast<uint32_t>(f.value);
        break;
      case 3:
        if (f.type == Type::kLen) log->severity_text = f.bytes;
        break;
      case 5:
        if (f.type == Type::kLen) log->body.Add(f.bytes);
        break;
      case 6:
        if (f.type == Type::kLen) log->has_attributes = true;
        break;
      case 9:
        if (f.type == Type::kLen) log->trace_id = f.bytes;
        break;
      case 10:
        if (f.type == Type::kLen) log->span_id = f.bytes;
        break;
      case 12:
        if (f.type == Type::kLen) log->event_name = f.bytes;
        break;
      default:
        break;
    }
  }
  return reader.ok();
}

bool ReadSpan(std::string_view bytes, SpanView* span) {
  span->bytes = bytes;
  span->trace_id = span->span_id = span->trace_state = span->parent_span_id = span->name = {};
  span->kind = 0;
  span->start_time_unix_nano = span->end_time_unix_nano = 0;
  span->has_attributes = span->has_events = span->has_links = false;
  span->status.Reset();
  span->status_code = 0;
  span->status_message = {};
  Reader reader(bytes);
  Field f;
  while (reader.Next(&f)) {
    if (f.type == Type::kLen) {
      switch (f.number) {
        case 1:
          span->trace_id = f.bytes;
          break;
        case 2:
          span->span_id = f.bytes;
          break;
        case 3:
          span->trace_state = f.bytes;
          break;
        case 4:
          span->parent_span_id = f.bytes;
          break;
        case 5:
          span->name = f.bytes;
          break;
        case 9:
          span->has_attributes = true;
          break;
        case 11:
          span->has_events = true;
          break;
        case 13:
          span->has_links = true;
          break;
        case 15:
          span->status.Add(f.bytes);
          break;
        default:
          break;
      }
    } else if (f.number == 6 && f.type == Type::kVarint) {
      span->kind = static_cast<int32_t>(f.value);
    } else if (f.number == 7 && f.type == Type::kFixed64) {
      span->start_time_unix_nano = f.value;
    } else if (f.number == 8 && f.type == Type::kFixed64) {
      span->end_time_unix_nano = f.value;
    }
  }
  if (!reader.ok()) return false;
  // Status: message (2), code (3).
  Reader st(span->status.bytes());
  while (st.Next(&f)) {
    if (f.number == 2 && f.type == Type::kLen) {
      span->status_message = f.bytes;
    } else if (f.number == 3 && f.type == Type::kVarint) {
      span->status_code = static_cast<int32_t>(f.value);
    }
  }
  return st.ok();
}
std::string FieldName(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    if (c == '.') c = '_';
  }
  return out;
}

void AppendTimestamp(uint64_t unix_nano, std::string* out) {
  const uint64_t secs = unix_nano / 1000000000ull;
  const uint64_t nanos = unix_nano % 1000000000ull;
  int y;
  unsigned m, d;
  CivilFromDays(static_cast<int64_t>(secs / 86400), &y, &m, &d);
  const unsigned sod = static_cast<unsigned>(secs % 86400);
  // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", quoted; a 64-bit nanosecond time ends
  // before the year 2555.
  char buf[33] = "\"0000-00-00T00:00:00.000000000Z\"";
  auto digits = [&buf](int at, unsigned value, int width) {
    for (int i = at + width - 1; i >= at; --i, value /= 10)
      buf[i] = static_cast<char>('0' + value % 10);
  };
  digits(1, static_cast<unsigned>(y), 4);
  digits(6, m, 2);
  digits(9, d, 2);
  digits(12, sod / 3600, 2);
  digits(15, sod / 60 % 60, 2);
  digits(18, sod % 60, 2);
  digits(21, static_cast<unsigned>(nanos), 9);
  out->append(buf, 32);
}

bool AppendLogDocument(MappingMode mode, const Origin& origin, const LogView& record,
                       const std::string& index, std::string* out) {
  const uint64_t time =
      record.time_unix_nano != 0 ? record.time_unix_nano : record.observed_time_unix_nano;
  out->append("{\"@timestamp\":");
  AppendTimestamp(time, out);
  if (mode == MappingMode::kEcs) {
    if (record.body.present()) {
      out->append(",\"message\":");
      if (!AppendMessage(record.body.bytes(), out)) return false;
    }
    if (!record.severity_text.empty()) {
      out->append(",\"log.level\":");
      core::AppendJsonString(record.severity_text, out);
    } else if (const char* level = SeverityWord(record.severity_number); level != nullptr) {
      absl::StrAppend(out, ",\"log.level\":\"", level, "\"");
    }
    if (!record.trace_id.empty()) AppendHexField(",\"trace.id\":\"", record.trace_id, out);
    if (!record.span_id.empty()) AppendHexField(",\"span.id\":\"", record.span_id, out);
    if (!AppendEcsResource(origin.resource.bytes(), out)) return false;
    if (!origin.scope_name.empty()) {
      out->append(",\"log.logger\":");
      core::AppendJsonString(origin.scope_name, out);
    }
    if (record.has_attributes) {
      out->append(",\"attributes\":");
      if (!AppendAttributes(record.bytes, 6, 0, out)) return false;
    }
  } else {
    if (record.observed_time_unix_nano != 0) {
      out->append(",\"observed_timestamp\":");
      AppendTimestamp(record.observed_time_unix_nano, out);
    }
    if (record.severity_number != 0) {
      absl::StrAppend(out, ",\"severity_number\":", record.severity_number);
    }
    if (!record.severity_text.empty()) {
      out->append(",\"severity_text\":");
      core::AppendJsonString(record.severity_text, out);
    }
    if (record.body.present()) {
      out->append(",\"body\":");
      if (!AppendValue(record.body.bytes(), 0, out)) return false;
    }
    if (record.has_attributes) {
      out->append(",\"attributes\":");
      if (!AppendAttributes(record.bytes, 6, 0, out)) return false;
    }
    if (!record.trace_id.empty()) AppendHexField(",\"trace_id\":\"", record.trace_id, out);
    if (!record.span_id.empty()) AppendHexField(",\"span_id\":\"", record.span_id, out);
    if (!record.event_name.empty()) {
      out->append(",\"event_name\":");
      core::AppendJsonString(record.event_name, out);
    }
    if (!AppendOtelResourceAndScope(origin, out)) return false;
  }
  AppendDataStream("logs", index, out);
  out->push_back('}');
  return true;
}

namespace {

// Events (field 11): time (1), name (2), attributes (3).
bool AppendSpanEvents(const SpanView& span, std::string* out) {
  if (!span.has_events) return true;
  out->append(",\"events\":[");
  bool first = true;
  Reader reader(span.bytes);
  Field f;
  while (reader.Next(&f)) {
    if (f.number != 11 || f.type != Type::kLen) continue;
    uint64_t time = 0;
    std::string_view name;
    bool has_attributes = false;
    Reader event(f.bytes);
    Field e;
    while (event.Next(&e)) {
      if (e.number == 1 && e.type == Type::kFixed64) {
        time = e.value;
      } else if (e.number == 2 && e.type == Type::kLen) {
        name = e.bytes;
      } else if (e.number == 3 && e.type == Type::kLen) {
        has_attributes = true;
      }
    }
    if (!event.ok()) return false;
    if (!first) out->push_back(',');
    first = false;
    out->append("{\"@timestamp\":");
    AppendTimestamp(time, out);
    out->append(",\"name\":");
    core::AppendJsonString(name, out);
    if (has_attributes) {
      out->append(",\"attributes\":");
      if (!AppendAttributes(f.bytes, 3, 0, out)) return false;
    }
    out->push_back('}');
  }
  out->push_back(']');
  return reader.ok();
}

// Links (field 13): trace id (1), span id (2), attributes (4).
bool AppendSpanLinks(const SpanView& span, std::string* out) {
  if (!span.has_links) return true;
  out->append(",\"links\":[");
  bool first = true;
  Reader reader(span.bytes);
  Field f;
  while (reader.Next(&f)) {
    if (f.number != 13 || f.type != Type::kLen) continue;
    std::string_view trace_id, span_id;
    bool has_attributes = false;
    Reader link(f.bytes);
    Field l;
    while (link.Next(&l)) {
      if (l.type != Type::kLen) continue;
      if (l.number == 1) {
        trace_id = l.bytes;
      } else if (l.number == 2) {
        span_id = l.bytes;
      } else if (l.number == 4) {
        has_attributes = true;
      }
    }
    if (!link.ok()) return false;
    if (!first) out->push_back(',');
    first = false;
    AppendHexField("{\"trace_id\":\"", trace_id, out);
    AppendHexField(",\"span_id\":\"", span_id, out);
    if (has_attributes) {
      out->append(",\"attributes\":");
      if (!AppendAttributes(f.bytes, 4, 0, out)) return false;
    }
    out->push_back('}');
  }
  out->push_back(']');
  return reader.ok();
}

// The span in the Elastic Common Schema's terms.
bool AppendEcsSpan(const Origin& origin, const SpanView& span, uint64_t duration,
                   std::string* out) {
  AppendHexField(",\"trace.id\":\"", span.trace_id, out);
  AppendHexField(",\"span.id\":\"", span.span_id, out);
  if (!span.parent_span_id.empty()) AppendHexField(",\"parent.id\":\"", span.parent_span_id, out);
  out->append(",\"span.name\":");
  core::AppendJsonString(span.name, out);
  absl::StrAppend(out, ",\"span.kind\":\"", SpanKindWord(span.kind), "\"");
  absl::StrAppend(out, ",\"event.duration\":", duration);
  absl::StrAppend(out, ",\"event.outcome\":\"",
                  span.status_code == kStatusError ? "failure"
                  : span.status_code == kStatusOk  ? "success"
                                                   : "unknown",
                  "\"");
  if (!span.status_message.empty()) {
    out->append(",\"span.status.message\":");
    core::AppendJsonString(span.status_message, out);
  }
  if (!AppendEcsResource(origin.resource.bytes(), out)) return false;
  if (!origin.scope_name.empty()) {
    out->append(",\"span.scope\":");
    core::AppendJsonString(origin.scope_name, out);
  }
  if (span.has_attributes) {
    out->append(",\"attributes\":");
    if (!AppendAttributes(span.bytes, 9, 0, out)) return false;
  }
  return true;
}

// The span in the OTLP shape.
bool AppendOtelSpan(const Origin& origin, const SpanView& span, uint64_t duration,
                    std::string* out) {
  out->append(",\"end_timestamp\":");
  AppendTimestamp(span.end_time_unix_nano, out);
  absl::StrAppend(out, ",\"duration\":", duration);
  AppendHexField(",\"trace_id\":\"", span.trace_id, out);
  AppendHexField(",\"span_id\":\"", span.span_id, out);
  if (!span.parent_span_id.empty()) {
    AppendHexField(",\"parent_span_id\":\"", span.parent_span_id, out);
  }
  if (!span.trace_state.empty()) {
    out->append(",\"trace_state\":");
    core::AppendJsonString(span.trace_state, out);
  }
  out->append(",\"name\":");
  core::AppendJsonString(span.name, out);
  absl::StrAppend(out, ",\"kind\":\"", SpanKindWord(span.kind), "\"");
  absl::StrAppend(out, ",\"status\":{\"code\":\"",
                  span.status_code == kStatusError ? "Error"
                  : span.status_code == kStatusOk  ? "Ok"
                                                   : "Unset",
                  "\"");
  if (!span.status_message.empty()) {
    out->append(",\"message\":");
    core::AppendJsonString(span.status_message, out);
  }
  out->push_back('}');
  if (span.has_attributes) {
    out->append(",\"attributes\":");
    if (!AppendAttributes(span.bytes, 9, 0, out)) return false;
  }
  return AppendSpanEvents(span, out) && AppendSpanLinks(span, out) &&
         AppendOtelResourceAndScope(origin, out);
}

}  // namespace

bool AppendSpanDocument(MappingMode mode, const Origin& origin, const SpanView& span,
                        const std::string& index, std::string* out) {
  const uint64_t duration = span.end_time_unix_nano > span.start_time_unix_nano
                                ? span.end_time_unix_nano - span.start_time_unix_nano
                                : 0;
  out->append("{\"@timestamp\":");
  AppendTimestamp(span.start_time_unix_nano, out);
  const bool ok = mode == MappingMode::kEcs ? AppendEcsSpan(origin, span, duration, out)
                                            : AppendOtelSpan(origin, span, duration, out);
  if (!ok) return false;
  AppendDataStream("traces", index, out);
  out->push_back('}');
  return true;
}

std::string LogDocumentId(const Origin& origin, const LogView& record) {
  // Every field but the time the record was observed, which differs when
  // the same line is read again after a restart.
  thread_local std::string buf;
  buf.clear();
  char fixed[16];
  std::memcpy(fixed, &record.time_unix_nano, 8);
  std::memcpy(fixed + 8, &record.severity_number, 4);
  std::memcpy(fixed + 12, &record.flags, 4);
  buf.append(fixed, sizeof fixed);
  buf.append(record.severity_text);
  buf.push_back('\0');
  buf.append(record.body.bytes());
  buf.push_back('\0');
  Reader reader(record.bytes);
  Field f;
  while (reader.Next(&f)) {
    if (f.number == 6 && f.type == Type::kLen) buf.append(f.bytes);
  }
  buf.push_back('\0');
  buf.append(record.trace_id);
  buf.append(record.span_id);
  buf.append(record.event_name);
  const auto [h1, h2] = Murmur3Hash128(buf, origin.hash);
  std::string id;
  id.reserve(32);
  AppendU64Hex(h1, &id);
  AppendU64Hex(h2, &id);
  return id;
}

std::string SpanDocumentId(const SpanView& span) {
  std::string id;
  id.reserve(48);
  AppendHex(span.trace_id, &id);
  AppendHex(span.span_id, &id);
  return id;
}

bool ForEachRecord(
    std::string_view request,
    absl::FunctionRef<bool(const core::RecordRef&, const Origin&, std::string_view)> each) {
  // Request → resources (field 1: resource 1, scopes 2) → scopes (scope 1,
  // records 2).
  std::vector<std::string_view> scopes;
  std::vector<std::string_view> records;
  Reader reader(request);
  Field rf;
  uint32_t r = 0;
  while (reader.Next(&rf)) {
    if (rf.number != 1 || rf.type != Type::kLen) continue;
    MessageField resource;
    scopes.clear();
    Reader rr(rf.bytes);
    Field f;
    while (rr.Next(&f)) {
      if (f.type != Type::kLen) continue;
      if (f.number == 1) {
        resource.Add(f.bytes);
      } else if (f.number == 2) {
        scopes.push_back(f.bytes);
      }
    }
    if (!rr.ok()) return false;
    for (uint32_t s = 0; s < scopes.size(); ++s) {
      Origin origin;
      if (resource.present()) origin.resource.Add(resource.bytes());
      records.clear();
      Reader sr(scopes[s]);
      while (sr.Next(&f)) {
        if (f.type != Type::kLen) continue;
        if (f.number == 1) {
          origin.scope.Add(f.bytes);
        } else if (f.number == 2) {
          records.push_back(f.bytes);
        }
      }
      if (!sr.ok() || !CompleteOrigin(&origin)) return false;
      for (uint32_t i = 0; i < records.size(); ++i) {
        if (!each(core::RecordRef{r, s, i}, origin, records[i])) return false;
      }
    }
    ++r;
  }
  return reader.ok();
}

}  // namespace tributary::exporters::elasticsearch
