#include "tributary/core/otlp_codec.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

namespace tributary::core {
namespace {

namespace pb = google::protobuf;

// The length of the valid UTF-8 sequence at the start of `p` (n > 0 bytes,
// p[0] >= 0x80), or 0 when it is not one.
size_t Utf8Length(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  size_t len;
  uint32_t min;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, min = 0x80, cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, min = 0x800, cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// The protobuf JSON mapping writes `bytes` as base64, OTLP/JSON writes ids as
// hex. A hex id of 32 (or 16) characters is also valid base64 of exactly 24
// (or 12) bytes, so after a standard JSON parse the original text is
// recovered losslessly by re-encoding to base64, then decoded as hex. Before
// printing, the inverse puts bytes in the field whose base64 is the hex text.
bool HexIdFromParsed(std::string* field) {
  if (field->empty()) return true;
  std::string text = absl::Base64Escape(*field);
  if (text.size() % 2 != 0) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  *field = absl::HexStringToBytes(text);
  return true;
}

template <class Fn>
void ForEachId(TracesRequest& r, Fn fn) {
  for (auto& rs : *r.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        fn(span.mutable_trace_id());
        fn(span.mutable_span_id());
        fn(span.mutable_parent_span_id());
        for (auto& link : *span.mutable_links()) {
          fn(link.mutable_trace_id());
          fn(link.mutable_span_id());
        }
      }
    }
  }
}

template <class Fn>
void ForEachId(LogsRequest& r, Fn fn) {
  for (auto& rl : *r.mutable_resource_logs()) {
    for (auto& sl : *rl.mutable_scope_logs()) {
      for (auto& log : *sl.mutable_log_records()) {
        fn(log.mutable_trace_id());
        fn(log.mutable_span_id());
      }
    }
  }
}

template <class Points, class Fn>
void ForEachExemplarId(Points* points, Fn fn) {
  for (auto& p : *points) {
    for (auto& e : *p.mutable_exemplars()) {
      fn(e.mutable_trace_id());
      fn(e.mutable_span_id());
    }
  }
}

template <class Fn>
void ForEachId(MetricsRequest& r, Fn fn) {
  for (auto& rm : *r.mutable_resource_metrics()) {
    for (auto& sm : *rm.mutable_scope_metrics()) {
      for (auto& m : *sm.mutable_metrics()) {
        if (m.has_gauge()) ForEachExemplarId(m.mutable_gauge()->mutable_data_points(), fn);
        if (m.has_sum()) ForEachExemplarId(m.mutable_sum()->mutable_data_points(), fn);
        if (m.has_histogram()) ForEachExemplarId(m.mutable_histogram()->mutable_data_points(), fn);
        if (m.has_exponential_histogram()) {
          ForEachExemplarId(m.mutable_exponential_histogram()->mutable_data_points(), fn);
        }
      }
    }
  }
}

template <class Request>
absl::StatusOr<Batch> ParseJson(std::string_view json) {
  Request request;
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  pb::util::Status s =
      pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), &request, options);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid OTLP/JSON: ", s.message().as_string()));
  }
  bool ok = true;
  ForEachId(request, [&](std::string* id) { ok = ok && HexIdFromParsed(id); });
  if (!ok) return absl::InvalidArgumentError("invalid OTLP/JSON: ids must be hex strings");
  return Batch(std::move(request));
}

template <class Request>
absl::StatusOr<Batch> ParseProto(std::string_view bytes) {
  Request request;
  if (!request.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("invalid OTLP/protobuf: the message does not parse");
  }
  return Batch(std::move(request));
}

// OTLP/JSON by reflection, in one pass and without a copy: the protobuf JSON
// mapping (lowerCamelCase names, 64-bit integers as strings, fields at their
// default left out, enums as numbers) with trace and span ids in hex.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void Message(const pb::Message& m) {
    const pb::Reflection* r = m.GetReflection();
    // One list of fields per nesting level, reused from message to message.
    if (depth_ == fields_.size()) fields_.emplace_back();
    std::vector<const pb::FieldDescriptor*>& fields = fields_[depth_];
    fields.clear();
    r->ListFields(m, &fields);
    ++depth_;
    out_->push_back('{');
    bool first = true;
    for (const pb::FieldDescriptor* f : fields) {
      if (!first) out_->push_back(',');
      first = false;
      out_->push_back('"');
      out_->append(f->json_name());
      out_->append("\":");
      if (f->is_repeated()) {
        out_->push_back('[');
        const int n = r->FieldSize(m, f);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out_->push_back(',');
          Repeated(m, r, f, i);
        }
        out_->push_back(']');
      } else {
        Singular(m, r, f);
      }
    }
    out_->push_back('}');
    --depth_;
  }

 private:
  static bool IsId(const pb::FieldDescriptor* f) {
    const std::string& name = f->name();
    return name == "trace_id" || name == "span_id" || name == "parent_span_id";
  }

  void Singular(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f) {
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(out_, r->GetInt32(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(out_, r->GetUInt32(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        absl::StrAppend(out_, "\"", r->GetInt64(m, f), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(out_, "\"", r->GetUInt64(m, f), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        Double(r->GetDouble(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        Double(r->GetFloat(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out_->append(r->GetBool(m, f) ? "true" : "false");
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        absl::StrAppend(out_, r->GetEnumValue(m, f));
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value = r->GetStringReference(m, f, &scratch);
        String(value, f->type() == pb::FieldDescriptor::TYPE_BYTES, IsId(f));
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        Message(r->GetMessage(m, f));
        break;
    }
  }

  void Repeated(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f,
                int i) {
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(out_, r->GetRepeatedInt32(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(out_, r->GetRepeatedUInt32(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:
        absl::StrAppend(out_, "\"", r->GetRepeatedInt64(m, f, i), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(out_, "\"", r->GetRepeatedUInt64(m, f, i), "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        Double(r->GetRepeatedDouble(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        Double(r->GetRepeatedFloat(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out_->append(r->GetRepeatedBool(m, f, i) ? "true" : "false");
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        absl::StrAppend(out_, r->GetRepeatedEnumValue(m, f, i));
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& value = r->GetRepeatedStringReference(m, f, i, &scratch);
        String(value, f->type() == pb::FieldDescriptor::TYPE_BYTES, false);
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        Message(r->GetRepeatedMessage(m, f, i));
        break;
    }
  }

  void Double(double v) {
    if (std::isnan(v)) {
      out_->append("\"NaN\"");
    } else if (std::isinf(v)) {
      out_->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    } else {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
      out_->append(buf, static_cast<size_t>(end - buf));
    }
  }

  void String(const std::string& value, bool bytes, bool id) {
    out_->push_back('"');
    if (id) {
      out_->append(absl::BytesToHexString(value));
    } else if (bytes) {
      out_->append(absl::Base64Escape(value));
    } else {
      AppendJsonEscaped(value, out_);
    }
    out_->push_back('"');
  }

  std::string* out_;
  std::vector<std::vector<const pb::FieldDescriptor*>> fields_;
  size_t depth_ = 0;
};

bool BadId(const std::string& id, size_t size) { return !id.empty() && id.size() != size; }

// Each returns why a record is refused, or null when it is valid.
const char* InvalidSpan(const opentelemetry::proto::trace::v1::Span& span) {
  if (span.trace_id().size() != 16 || span.span_id().size() != 8 ||
      BadId(span.parent_span_id(), 8)) {
    return "span with a trace_id not of 16 bytes or a span_id not of 8 bytes";
  }
  return nullptr;
}

const char* InvalidLog(const opentelemetry::proto::logs::v1::LogRecord& log) {
  if (BadId(log.trace_id(), 16) || BadId(log.span_id(), 8)) {
    return "log record with a trace_id not of 16 bytes or a span_id not of 8 bytes";
  }
  return nullptr;
}

const char* InvalidMetric(const opentelemetry::proto::metrics::v1::Metric& metric) {
  return metric.name().empty() ? "metric without a name" : nullptr;
}

bool HasInvalidRecords(const Batch& batch) {
  switch (batch.signal()) {
    case Signal::kTraces:
      for (const auto& rs : batch.traces().resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) {
            if (InvalidSpan(span)) return true;
          }
        }
      }
      return false;
    case Signal::kLogs:
      for (const auto& rl : batch.logs().resource_logs()) {
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& log : sl.log_records()) {
            if (InvalidLog(log)) return true;
          }
        }
      }
      return false;
    case Signal::kMetrics:
      for (const auto& rm : batch.metrics().resource_metrics()) {
        for (const auto& sm : rm.scope_metrics()) {
          for (const auto& m : sm.metrics()) {
            if (InvalidMetric(m)) return true;
          }
        }
      }
      return false;
  }
  return false;
}

// Removes from `list` the items `invalid` refuses; `weight` is how many
// records an item holds.
template <class List, class Invalid, class Weight>
void RemoveFrom(List* list, Invalid invalid, Weight weight, ValidationResult& result) {
  auto keep = std::remove_if(list->begin(), list->end(), [&](const auto& item) {
    const char* why = invalid(item);
    if (why == nullptr) return false;
    if (result.message.empty()) result.message = why;
    result.rejected += weight(item);
    return true;
  });
  list->erase(keep, list->end());
}

}  // namespace

void AppendJsonEscaped(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t done = 0;  // text before this is in `out`
  size_t i = 0;
  while (i < n) {
    // Eight bytes at a time while none needs a look: no control character,
    // quote, backslash or byte of a multi-byte sequence.
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    while (i + 8 <= n) {
      uint64_t x;
      std::memcpy(&x, p + i, 8);
      const uint64_t quote = x ^ (kOnes * '"');
      const uint64_t backslash = x ^ (kOnes * '\\');
      // Any byte below 0x20, any zero byte of `quote` or `backslash` (exact
      // as long as no byte has its high bit set, which stops the loop anyway).
      const uint64_t special = ((x - kOnes * 0x20) & ~x) | ((quote - kOnes) & ~quote) |
                               ((backslash - kOnes) & ~backslash) | x;
      if ((special & kHigh) != 0) break;
      i += 8;
    }
    if (i == n) break;
    const unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 1;
    if (c >= 0x80) {
      len = Utf8Length(p + i, n - i);
      if (len > 0) {
        i += len;
        continue;
      }
      len = 1;
    }
    out->append(text.data() + done, i - done);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out->append(esc, sizeof esc);
        } else {
          out->append("\xEF\xBF\xBD");  // U+FFFD for a byte that starts no valid sequence
        }
    }
    i += len;
    done = i;
  }
  out->append(text.data() + done, n - done);
}

absl::StatusOr<Batch> DecodeOtlpJson(Signal signal, std::string_view json) {
  switch (signal) {
    case Signal::kTraces:
      return ParseJson<TracesRequest>(json);
    case Signal::kMetrics:
      return ParseJson<MetricsRequest>(json);
    case Signal::kLogs:
      return ParseJson<LogsRequest>(json);
  }
  return absl::InternalError("unknown signal");
}

absl::StatusOr<Batch> DecodeOtlpProto(Signal signal, std::string_view bytes) {
  switch (signal) {
    case Signal::kTraces:
      return ParseProto<TracesRequest>(bytes);
    case Signal::kMetrics:
      return ParseProto<MetricsRequest>(bytes);
    case Signal::kLogs:
      return ParseProto<LogsRequest>(bytes);
  }
  return absl::InternalError("unknown signal");
}

std::string EncodeOtlpJson(const Batch& batch) {
  std::string out;
  AppendOtlpJson(batch, &out);
  return out;
}

void AppendOtlpJson(const Batch& batch, std::string* out) {
  JsonWriter(out).Message(batch.message());
}

ValidationResult RemoveInvalidRecords(Batch& batch) {
  ValidationResult result;
  if (!HasInvalidRecords(batch)) return result;
  auto one = [](const auto&) { return size_t{1}; };
  switch (batch.signal()) {
    case Signal::kTraces: {
      TracesRequest r = batch.traces();
      for (auto& rs : *r.mutable_resource_spans()) {
        for (auto& ss : *rs.mutable_scope_spans()) {
          RemoveFrom(ss.mutable_spans(), InvalidSpan, one, result);
        }
      }
      batch = Batch(std::move(r));
      break;
    }
    case Signal::kLogs: {
      LogsRequest r = batch.logs();
      for (auto& rl : *r.mutable_resource_logs()) {
        for (auto& sl : *rl.mutable_scope_logs()) {
          RemoveFrom(sl.mutable_log_records(), InvalidLog, one, result);
        }
      }
      batch = Batch(std::move(r));
      break;
    }
    case Signal::kMetrics: {
      MetricsRequest r = batch.metrics();
      for (auto& rm : *r.mutable_resource_metrics()) {
        for (auto& sm : *rm.mutable_scope_metrics()) {
          // A refused metric's data points are the records refused.
          RemoveFrom(sm.mutable_metrics(), InvalidMetric, CountPoints, result);
        }
      }
      batch = Batch(std::move(r));
      break;
    }
  }
  return result;
}

}  // namespace tributary::core
