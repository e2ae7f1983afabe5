#include "tributary/core/otlp_codec.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

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

void HexIdForPrint(std::string* field) {
  if (field->empty()) return;
  std::string hex = absl::BytesToHexString(*field);
  std::string raw;
  // Hex of 8 or 16 bytes has a length divisible by 4, so it decodes exactly.
  if (hex.size() % 4 == 0 && absl::Base64Unescape(hex, &raw)) {
    *field = std::move(raw);
  }
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

template <class Request>
std::string PrintJson(const Request& original) {
  Request copy = original;
  ForEachId(copy, [](std::string* id) { HexIdForPrint(id); });
  pb::util::JsonPrintOptions options;
  options.always_print_enums_as_ints = true;
  std::string out;
  (void)pb::util::MessageToJsonString(copy, &out, options);
  return out;
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
  switch (batch.signal()) {
    case Signal::kTraces:
      return PrintJson(batch.traces());
    case Signal::kMetrics:
      return PrintJson(batch.metrics());
    case Signal::kLogs:
      return PrintJson(batch.logs());
  }
  return "{}";
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
