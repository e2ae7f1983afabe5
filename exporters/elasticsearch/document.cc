#include "exporters/elasticsearch/document.h"

#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "exporters/elasticsearch/murmur3.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::exporters::elasticsearch {

namespace {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

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

void AppendString(std::string_view s, std::string* out) {
  out->push_back('"');
  core::AppendJsonEscaped(s, out);
  out->push_back('"');
}

void AppendEscapedKey(std::string_view name, std::string* out) {
  out->push_back('"');
  core::AppendJsonEscaped(name, out);
  out->append("\":");
}

void AppendDouble(double d, std::string* out) {
  if (!std::isfinite(d)) {
    AppendString(std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"), out);
    return;
  }
  char buf[32];
  const int n = snprintf(buf, sizeof buf, "%.17g", d);
  out->append(buf, static_cast<size_t>(n));
}

void AppendValue(const common::AnyValue& v, std::string* out);

// Attributes as an object, keys made field names.
void AppendAttributes(const google::protobuf::RepeatedPtrField<common::KeyValue>& attrs,
                      std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& kv : attrs) {
    if (!first) out->push_back(',');
    first = false;
    AppendEscapedKey(FieldName(kv.key()), out);
    AppendValue(kv.value(), out);
  }
  out->push_back('}');
}

void AppendValue(const common::AnyValue& v, std::string* out) {
  switch (v.value_case()) {
    case common::AnyValue::kStringValue:
      AppendString(v.string_value(), out);
      break;
    case common::AnyValue::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      break;
    case common::AnyValue::kIntValue:
      absl::StrAppend(out, v.int_value());
      break;
    case common::AnyValue::kDoubleValue:
      AppendDouble(v.double_value(), out);
      break;
    case common::AnyValue::kBytesValue:
      AppendString(absl::Base64Escape(v.bytes_value()), out);
      break;
    case common::AnyValue::kArrayValue: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.array_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        AppendValue(e, out);
      }
      out->push_back(']');
      break;
    }
    case common::AnyValue::kKvlistValue:
      AppendAttributes(v.kvlist_value().values(), out);
      break;
    default:
      out->append("null");
  }
}

// A body as the `message` text: strings as they are, anything else as JSON.
void AppendMessage(const common::AnyValue& body, std::string* out) {
  if (body.value_case() == common::AnyValue::kStringValue) {
    AppendString(body.string_value(), out);
    return;
  }
  std::string json;
  AppendValue(body, &json);
  AppendString(json, out);
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
    case trace::Span::SPAN_KIND_INTERNAL:
      return "INTERNAL";
    case trace::Span::SPAN_KIND_SERVER:
      return "SERVER";
    case trace::Span::SPAN_KIND_CLIENT:
      return "CLIENT";
    case trace::Span::SPAN_KIND_PRODUCER:
      return "PRODUCER";
    case trace::Span::SPAN_KIND_CONSUMER:
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

// ECS fields from resource attributes; the rest under resource.attributes.
void AppendEcsResource(const Resource& resource, std::string* out) {
  std::string rest;
  std::string labels;
  for (const auto& kv : resource.attributes()) {
    const std::string& k = kv.key();
    const char* ecs = nullptr;
    if (k == "service.name")
      ecs = "service.name";
    else if (k == "service.version")
      ecs = "service.version";
    else if (k == "service.instance.id")
      ecs = "service.node.name";
    else if (k == "deployment.environment" || k == "deployment.environment.name")
      ecs = "service.environment";
    else if (k == "host.name")
      ecs = "host.name";
    else if (k == "k8s.namespace.name")
      ecs = "kubernetes.namespace";
    else if (k == "k8s.pod.name")
      ecs = "kubernetes.pod.name";
    else if (k == "k8s.pod.uid")
      ecs = "kubernetes.pod.uid";
    else if (k == "k8s.container.name")
      ecs = "kubernetes.container.name";
    else if (k == "k8s.node.name")
      ecs = "kubernetes.node.name";
    else if (k == "k8s.deployment.name")
      ecs = "kubernetes.deployment.name";
    else if (k == "container.id")
      ecs = "container.id";
    else if (k == "data_stream.dataset" || k == "data_stream.namespace")
      continue;
    if (ecs != nullptr) {
      out->append(",\"");
      out->append(ecs);
      out->append("\":");
      AppendValue(kv.value(), out);
      continue;
    }
    constexpr std::string_view kLabel = "k8s.pod.label.";
    if (k.size() > kLabel.size() && std::string_view(k).substr(0, kLabel.size()) == kLabel) {
      if (!labels.empty()) labels.push_back(',');
      AppendEscapedKey(FieldName(std::string_view(k).substr(kLabel.size())), &labels);
      AppendValue(kv.value(), &labels);
      continue;
    }
    if (!rest.empty()) rest.push_back(',');
    AppendEscapedKey(FieldName(k), &rest);
    AppendValue(kv.value(), &rest);
  }
  if (!labels.empty()) absl::StrAppend(out, ",\"kubernetes.labels\":{", labels, "}");
  if (!rest.empty()) absl::StrAppend(out, ",\"resource.attributes\":{", rest, "}");
}

void AppendOtelResourceAndScope(const Resource& resource, const InstrumentationScope& scope,
                                std::string* out) {
  out->append(",\"resource\":{\"attributes\":");
  AppendAttributes(resource.attributes(), out);
  out->append("}");
  if (!scope.name().empty() || !scope.version().empty() || scope.attributes_size() > 0) {
    out->append(",\"scope\":{\"name\":");
    AppendString(scope.name(), out);
    out->append(",\"version\":");
    AppendString(scope.version(), out);
    if (scope.attributes_size() > 0) {
      out->append(",\"attributes\":");
      AppendAttributes(scope.attributes(), out);
    }
    out->append("}");
  }
}

}  // namespace

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

void AppendLogDocument(MappingMode mode, const Resource& resource,
                       const InstrumentationScope& scope, const LogRecord& record,
                       const std::string& index, std::string* out) {
  const uint64_t time =
      record.time_unix_nano() != 0 ? record.time_unix_nano() : record.observed_time_unix_nano();
  out->append("{\"@timestamp\":");
  AppendTimestamp(time, out);
  if (mode == MappingMode::kEcs) {
    if (record.has_body()) {
      out->append(",\"message\":");
      AppendMessage(record.body(), out);
    }
    const char* level =
        record.severity_text().empty() ? SeverityWord(record.severity_number()) : nullptr;
    if (!record.severity_text().empty()) {
      out->append(",\"log.level\":");
      AppendString(record.severity_text(), out);
    } else if (level != nullptr) {
      absl::StrAppend(out, ",\"log.level\":\"", level, "\"");
    }
    if (!record.trace_id().empty()) {
      out->append(",\"trace.id\":\"");
      AppendHex(record.trace_id(), out);
      out->push_back('"');
    }
    if (!record.span_id().empty()) {
      out->append(",\"span.id\":\"");
      AppendHex(record.span_id(), out);
      out->push_back('"');
    }
    AppendEcsResource(resource, out);
    if (!scope.name().empty()) {
      out->append(",\"log.logger\":");
      AppendString(scope.name(), out);
    }
    if (record.attributes_size() > 0) {
      out->append(",\"attributes\":");
      AppendAttributes(record.attributes(), out);
    }
  } else {
    if (record.observed_time_unix_nano() != 0) {
      out->append(",\"observed_timestamp\":");
      AppendTimestamp(record.observed_time_unix_nano(), out);
    }
    if (record.severity_number() != 0) {
      absl::StrAppend(out, ",\"severity_number\":", static_cast<int>(record.severity_number()));
    }
    if (!record.severity_text().empty()) {
      out->append(",\"severity_text\":");
      AppendString(record.severity_text(), out);
    }
    if (record.has_body()) {
      out->append(",\"body\":");
      AppendValue(record.body(), out);
    }
    if (record.attributes_size() > 0) {
      out->append(",\"attributes\":");
      AppendAttributes(record.attributes(), out);
    }
    if (!record.trace_id().empty()) {
      out->append(",\"trace_id\":\"");
      AppendHex(record.trace_id(), out);
      out->push_back('"');
    }
    if (!record.span_id().empty()) {
      out->append(",\"span_id\":\"");
      AppendHex(record.span_id(), out);
      out->push_back('"');
    }
    if (!record.event_name().empty()) {
      out->append(",\"event_name\":");
      AppendString(record.event_name(), out);
    }
    AppendOtelResourceAndScope(resource, scope, out);
  }
  AppendDataStream("logs", index, out);
  out->push_back('}');
}

namespace {

void AppendSpanEvents(const Span& span, std::string* out) {
  if (span.events_size() > 0) {
    out->append(",\"events\":[");
    for (int i = 0; i < span.events_size(); ++i) {
      const auto& e = span.events(i);
      if (i > 0) out->push_back(',');
      out->append("{\"@timestamp\":");
      AppendTimestamp(e.time_unix_nano(), out);
      out->append(",\"name\":");
      AppendString(e.name(), out);
      if (e.attributes_size() > 0) {
        out->append(",\"attributes\":");
        AppendAttributes(e.attributes(), out);
      }
      out->push_back('}');
    }
    out->push_back(']');
  }
}

void AppendSpanLinks(const Span& span, std::string* out) {
  if (span.links_size() > 0) {
    out->append(",\"links\":[");
    for (int i = 0; i < span.links_size(); ++i) {
      const auto& l = span.links(i);
      if (i > 0) out->push_back(',');
      out->append("{\"trace_id\":\"");
      AppendHex(l.trace_id(), out);
      out->append("\",\"span_id\":\"");
      AppendHex(l.span_id(), out);
      out->push_back('"');
      if (l.attributes_size() > 0) {
        out->append(",\"attributes\":");
        AppendAttributes(l.attributes(), out);
      }
      out->push_back('}');
    }
    out->push_back(']');
  }
}

// The span in the Elastic Common Schema's terms.
void AppendEcsSpan(const Resource& resource, const InstrumentationScope& scope, const Span& span,
                   uint64_t duration, int code, std::string* out) {
  out->append(",\"trace.id\":\"");
  AppendHex(span.trace_id(), out);
  out->append("\",\"span.id\":\"");
  AppendHex(span.span_id(), out);
  out->push_back('"');
  if (!span.parent_span_id().empty()) {
    out->append(",\"parent.id\":\"");
    AppendHex(span.parent_span_id(), out);
    out->push_back('"');
  }
  out->append(",\"span.name\":");
  AppendString(span.name(), out);
  absl::StrAppend(out, ",\"span.kind\":\"", SpanKindWord(span.kind()), "\"");
  absl::StrAppend(out, ",\"event.duration\":", duration);
  absl::StrAppend(out, ",\"event.outcome\":\"",
                  code == trace::Status::STATUS_CODE_ERROR ? "failure"
                  : code == trace::Status::STATUS_CODE_OK  ? "success"
                                                           : "unknown",
                  "\"");
  if (!span.status().message().empty()) {
    out->append(",\"span.status.message\":");
    AppendString(span.status().message(), out);
  }
  AppendEcsResource(resource, out);
  if (!scope.name().empty()) {
    out->append(",\"span.scope\":");
    AppendString(scope.name(), out);
  }
  if (span.attributes_size() > 0) {
    out->append(",\"attributes\":");
    AppendAttributes(span.attributes(), out);
  }
}

// The span in the OTLP shape.
void AppendOtelSpan(const Resource& resource, const InstrumentationScope& scope, const Span& span,
                    uint64_t duration, int code, std::string* out) {
  out->append(",\"end_timestamp\":");
  AppendTimestamp(span.end_time_unix_nano(), out);
  absl::StrAppend(out, ",\"duration\":", duration);
  out->append(",\"trace_id\":\"");
  AppendHex(span.trace_id(), out);
  out->append("\",\"span_id\":\"");
  AppendHex(span.span_id(), out);
  out->push_back('"');
  if (!span.parent_span_id().empty()) {
    out->append(",\"parent_span_id\":\"");
    AppendHex(span.parent_span_id(), out);
    out->push_back('"');
  }
  if (!span.trace_state().empty()) {
    out->append(",\"trace_state\":");
    AppendString(span.trace_state(), out);
  }
  out->append(",\"name\":");
  AppendString(span.name(), out);
  absl::StrAppend(out, ",\"kind\":\"", SpanKindWord(span.kind()), "\"");
  absl::StrAppend(out, ",\"status\":{\"code\":\"",
                  code == trace::Status::STATUS_CODE_ERROR ? "Error"
                  : code == trace::Status::STATUS_CODE_OK  ? "Ok"
                                                           : "Unset",
                  "\"");
  if (!span.status().message().empty()) {
    out->append(",\"message\":");
    AppendString(span.status().message(), out);
  }
  out->push_back('}');
  if (span.attributes_size() > 0) {
    out->append(",\"attributes\":");
    AppendAttributes(span.attributes(), out);
  }
  AppendSpanEvents(span, out);
  AppendSpanLinks(span, out);
  AppendOtelResourceAndScope(resource, scope, out);
}

}  // namespace

void AppendSpanDocument(MappingMode mode, const Resource& resource,
                        const InstrumentationScope& scope, const Span& span,
                        const std::string& index, std::string* out) {
  const uint64_t duration = span.end_time_unix_nano() > span.start_time_unix_nano()
                                ? span.end_time_unix_nano() - span.start_time_unix_nano()
                                : 0;
  const int code = span.status().code();
  out->append("{\"@timestamp\":");
  AppendTimestamp(span.start_time_unix_nano(), out);
  if (mode == MappingMode::kEcs) {
    AppendEcsSpan(resource, scope, span, duration, code, out);
  } else {
    AppendOtelSpan(resource, scope, span, duration, code, out);
  }
  AppendDataStream("traces", index, out);
  out->push_back('}');
}

uint64_t OriginHash(const Resource& resource, const InstrumentationScope& scope) {
  std::string buf;
  resource.AppendToString(&buf);
  buf.push_back('\0');
  scope.AppendToString(&buf);
  return Murmur3Hash128(buf, 0x7472696275746172ull).first;
}

std::string LogDocumentId(uint64_t origin_hash, const LogRecord& record) {
  // Every field but the time the record was observed, which differs when
  // the same line is read again after a restart.
  thread_local std::string buf;
  buf.clear();
  char fixed[16];
  const uint64_t t = record.time_unix_nano();
  std::memcpy(fixed, &t, 8);
  const int32_t sev = record.severity_number();
  const uint32_t flags = record.flags();
  std::memcpy(fixed + 8, &sev, 4);
  std::memcpy(fixed + 12, &flags, 4);
  buf.append(fixed, sizeof fixed);
  buf.append(record.severity_text());
  buf.push_back('\0');
  record.body().AppendToString(&buf);
  buf.push_back('\0');
  for (const auto& kv : record.attributes()) kv.AppendToString(&buf);
  buf.push_back('\0');
  buf.append(record.trace_id());
  buf.append(record.span_id());
  buf.append(record.event_name());
  const auto [h1, h2] = Murmur3Hash128(buf, origin_hash);
  std::string id;
  id.reserve(32);
  AppendU64Hex(h1, &id);
  AppendU64Hex(h2, &id);
  return id;
}

std::string SpanDocumentId(const Span& span) {
  std::string id;
  id.reserve(48);
  AppendHex(span.trace_id(), &id);
  AppendHex(span.span_id(), &id);
  return id;
}

}  // namespace tributary::exporters::elasticsearch
