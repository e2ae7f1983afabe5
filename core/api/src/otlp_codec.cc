#include "tributary/core/otlp_codec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "tributary/core/utf8.h"
#include "tributary/core/wire.h"

namespace tributary::core {
namespace {

namespace pb = google::protobuf;

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

// Parsed onto an arena: a few large allocations instead of several per
// record, and one pass to free them.
template <class Request>
absl::StatusOr<Batch> ParseProto(std::string_view bytes) {
  auto arena = std::make_unique<pb::Arena>(ArenaOptionsFor(bytes.size()));
  Request* request = pb::Arena::CreateMessage<Request>(arena.get());
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("invalid OTLP/protobuf: the message does not parse");
  }
  return Batch(std::move(arena), request);
}

// OTLP/JSON from the protobuf wire form, guided by the message descriptors:
// the protobuf JSON mapping (lowerCamelCase names, 64-bit integers as
// strings, fields at their default left out, enums as numbers) with trace and
// span ids in hex. Fields are written in number order, as reflection lists
// them, with the values a parser would keep: the last of a singular scalar,
// the merge of a singular message written more than once, the last member of
// a oneof, every element of a repeated field (packed or not).
class WireJsonWriter {
 public:
  explicit WireJsonWriter(std::string* out) : out_(out), levels_(kMaxDepth) {}

  bool Message(std::string_view bytes, const pb::Descriptor* d) {
    if (depth_ == kMaxDepth) return false;
    std::vector<Entry>& entries = levels_[depth_];  // levels_ never grows
    entries.clear();
    if (!Collect(bytes, d, &entries)) return false;
    ++depth_;
    out_->push_back('{');
    bool first = true;
    bool ok = true;
    for (size_t i = 0; ok && i < entries.size();) {
      size_t j = i + 1;
      while (j < entries.size() && entries[j].field == entries[i].field) ++j;
      // Written when listed: a repeated field with elements, a singular field
      // with presence that is set, one without at a value other than its
      // default.
      const pb::FieldDescriptor* f = entries[i].field;
      if (f->is_repeated() ? HasElements(entries, i, j)
                           : f->has_presence() || !IsDefault(f, entries[j - 1].wire)) {
        if (!first) out_->push_back(',');
        first = false;
        out_->push_back('"');
        out_->append(f->json_name());
        out_->append("\":");
        ok = f->is_repeated() ? Repeated(f, entries, i, j) : Singular(f, entries, i, j);
      }
      i = j;
    }
    out_->push_back('}');
    --depth_;
    return ok;
  }

 private:
  static constexpr size_t kMaxDepth = 100;

  struct Entry {
    const pb::FieldDescriptor* field;
    wire::Field wire;
  };

  // The wire type a field's values come as (repeated scalars may also come
  // packed, as kLen).
  static wire::Type WireType(const pb::FieldDescriptor* f) {
    switch (f->type()) {
      case pb::FieldDescriptor::TYPE_DOUBLE:
      case pb::FieldDescriptor::TYPE_FIXED64:
      case pb::FieldDescriptor::TYPE_SFIXED64:
        return wire::Type::kFixed64;
      case pb::FieldDescriptor::TYPE_FLOAT:
      case pb::FieldDescriptor::TYPE_FIXED32:
      case pb::FieldDescriptor::TYPE_SFIXED32:
        return wire::Type::kFixed32;
      case pb::FieldDescriptor::TYPE_STRING:
      case pb::FieldDescriptor::TYPE_BYTES:
      case pb::FieldDescriptor::TYPE_MESSAGE:
        return wire::Type::kLen;
      case pb::FieldDescriptor::TYPE_GROUP:
        return wire::Type::kStartGroup;
      default:
        return wire::Type::kVarint;
    }
  }

  // The known fields of a message in number order (stable: elements of a
  // repeated field keep their order), with what a parser drops left out:
  // fields of an unexpected wire type (unknown fields to a parser), and
  // occurrences of a oneof before its last change of member.
  bool Collect(std::string_view bytes, const pb::Descriptor* d, std::vector<Entry>* entries) {
    wire::Reader reader(bytes);
    wire::Field w;
    while (reader.Next(&w)) {
      const pb::FieldDescriptor* f = d->FindFieldByNumber(static_cast<int>(w.number));
      if (f == nullptr || f->type() == pb::FieldDescriptor::TYPE_GROUP) continue;
      const wire::Type type = WireType(f);
      const bool packed =
          f->is_repeated() && type != wire::Type::kLen && w.type == wire::Type::kLen;
      if (w.type != type && !packed) continue;
      if (f->real_containing_oneof() != nullptr) {
        // Another member clears what was set before; the same member again
        // replaces a scalar and merges a message.
        const pb::OneofDescriptor* o = f->real_containing_oneof();
        auto drop = [&](const Entry& e) {
          return e.field->real_containing_oneof() == o &&
                 (e.field != f || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE);
        };
        entries->erase(std::remove_if(entries->begin(), entries->end(), drop), entries->end());
      }
      entries->push_back(Entry{f, w});
    }
    if (!reader.ok()) return false;
    if (!std::is_sorted(entries->begin(), entries->end(), ByNumber)) {
      std::stable_sort(entries->begin(), entries->end(), ByNumber);
    }
    return true;
  }

  static bool ByNumber(const Entry& a, const Entry& b) {
    return a.field->number() < b.field->number();
  }

  // A repeated scalar packed into nothing has no elements.
  static bool HasElements(const std::vector<Entry>& entries, size_t i, size_t j) {
    for (size_t k = i; k < j; ++k) {
      const Entry& e = entries[k];
      if (e.wire.type != wire::Type::kLen || !e.wire.bytes.empty() ||
          e.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING ||
          e.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        return true;
      }
    }
    return false;
  }

  static bool IsDefault(const pb::FieldDescriptor* f, const wire::Field& w) {
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        return w.bytes.empty();
      case pb::FieldDescriptor::CPPTYPE_INT32:
      case pb::FieldDescriptor::CPPTYPE_UINT32:
      case pb::FieldDescriptor::CPPTYPE_ENUM:
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        return static_cast<uint32_t>(w.value) == 0;
      default:
        return w.value == 0;
    }
  }

  bool Singular(const pb::FieldDescriptor* f, const std::vector<Entry>& entries, size_t i,
                size_t j) {
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (j - i == 1) return Message(entries[i].wire.bytes, f->message_type());
      std::string merged;
      for (size_t k = i; k < j; ++k) merged.append(entries[k].wire.bytes);
      return Message(merged, f->message_type());
    }
    Scalar(f, entries[j - 1].wire.value, entries[j - 1].wire.bytes, IsId(f));
    return true;
  }

  bool Repeated(const pb::FieldDescriptor* f, const std::vector<Entry>& entries, size_t i,
                size_t j) {
    // (Nested messages use the next level's entries: these stay as they are.)
    out_->push_back('[');
    bool first = true;
    for (size_t k = i; k < j; ++k) {
      const wire::Field& w = entries[k].wire;
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (!first) out_->push_back(',');
        first = false;
        if (!Message(w.bytes, f->message_type())) return false;
      } else if (w.type == wire::Type::kLen &&
                 f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) {
        if (!Packed(f, w.bytes, &first)) return false;
      } else {
        if (!first) out_->push_back(',');
        first = false;
        Scalar(f, w.value, w.bytes, false);
      }
    }
    out_->push_back(']');
    return true;
  }

  // The values of a packed repeated scalar.
  bool Packed(const pb::FieldDescriptor* f, std::string_view bytes, bool* first) {
    const char* p = bytes.data();
    const char* end = p + bytes.size();
    const wire::Type type = WireType(f);
    while (p < end) {
      uint64_t value = 0;
      if (type == wire::Type::kVarint) {
        if (!wire::ReadVarint(&p, end, &value)) return false;
      } else {
        const size_t n = type == wire::Type::kFixed64 ? 8 : 4;
        if (static_cast<size_t>(end - p) < n) return false;
        std::memcpy(&value, p, n);
        p += n;
      }
      if (!*first) out_->push_back(',');
      *first = false;
      Scalar(f, value, {}, false);
    }
    return true;
  }

  static bool IsId(const pb::FieldDescriptor* f) {
    const std::string& name = f->name();
    return name == "trace_id" || name == "span_id" || name == "parent_span_id";
  }

  void Scalar(const pb::FieldDescriptor* f, uint64_t value, std::string_view bytes, bool id) {
    switch (f->type()) {
      case pb::FieldDescriptor::TYPE_INT32:
      case pb::FieldDescriptor::TYPE_SFIXED32:
      case pb::FieldDescriptor::TYPE_ENUM:
        absl::StrAppend(out_, static_cast<int32_t>(value));
        break;
      case pb::FieldDescriptor::TYPE_SINT32:
        absl::StrAppend(out_, static_cast<int32_t>((static_cast<uint32_t>(value) >> 1) ^
                                                   -(static_cast<uint32_t>(value) & 1)));
        break;
      case pb::FieldDescriptor::TYPE_UINT32:
      case pb::FieldDescriptor::TYPE_FIXED32:
        absl::StrAppend(out_, static_cast<uint32_t>(value));
        break;
      case pb::FieldDescriptor::TYPE_INT64:
      case pb::FieldDescriptor::TYPE_SFIXED64:
        absl::StrAppend(out_, "\"", static_cast<int64_t>(value), "\"");
        break;
      case pb::FieldDescriptor::TYPE_SINT64:
        absl::StrAppend(out_, "\"", static_cast<int64_t>((value >> 1) ^ -(value & 1)), "\"");
        break;
      case pb::FieldDescriptor::TYPE_UINT64:
      case pb::FieldDescriptor::TYPE_FIXED64:
        absl::StrAppend(out_, "\"", value, "\"");
        break;
      case pb::FieldDescriptor::TYPE_DOUBLE: {
        double d;
        std::memcpy(&d, &value, sizeof d);
        Double(d);
        break;
      }
      case pb::FieldDescriptor::TYPE_FLOAT: {
        const uint32_t bits = static_cast<uint32_t>(value);
        float v;
        std::memcpy(&v, &bits, sizeof v);
        Double(v);
        break;
      }
      case pb::FieldDescriptor::TYPE_BOOL:
        out_->append(value != 0 ? "true" : "false");
        break;
      case pb::FieldDescriptor::TYPE_STRING:
      case pb::FieldDescriptor::TYPE_BYTES:
        String(bytes, f->type() == pb::FieldDescriptor::TYPE_BYTES, id);
        break;
      default:
        out_->append("null");
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

  void String(std::string_view value, bool bytes, bool id) {
    out_->push_back('"');
    if (id) {
      out_->append(absl::BytesToHexString(absl::string_view(value.data(), value.size())));
    } else if (bytes) {
      out_->append(absl::Base64Escape(absl::string_view(value.data(), value.size())));
    } else {
      AppendJsonEscaped(value, out_);
    }
    out_->push_back('"');
  }

  std::string* out_;
  std::vector<std::vector<Entry>> levels_;  // the entries of each nesting level
  size_t depth_ = 0;
};

const pb::Descriptor* RequestDescriptor(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return TracesRequest::descriptor();
    case Signal::kMetrics:
      return MetricsRequest::descriptor();
    case Signal::kLogs:
      break;
  }
  return LogsRequest::descriptor();
}

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

void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  AppendJsonEscaped(text, out);
  out->push_back('"');
}

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
      len = utf8::SequenceLength(p + i, n - i);
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
  std::string scratch;
  const size_t size = out->size();
  if (!AppendOtlpJson(batch.signal(), wire::SerializedRequest(batch, &scratch), out)) {
    // Bytes that do not read do not parse either: an empty request.
    out->resize(size);
    out->append("{}");
  }
}

bool AppendOtlpJson(Signal signal, std::string_view request, std::string* out) {
  return WireJsonWriter(out).Message(request, RequestDescriptor(signal));
}

const char* OtlpGrpcMethod(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    case Signal::kMetrics:
      return "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    case Signal::kLogs:
      return "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
  }
  return "";
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
