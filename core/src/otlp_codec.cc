#include "tributary/core/otlp_codec.h"

#include <zlib.h>

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

bool HasInvalidRecords(const Batch& batch) {
  switch (batch.signal()) {
    case Signal::kTraces:
      for (const auto& rs : batch.traces().resource_spans()) {
        for (const auto& ss : rs.scope_spans()) {
          for (const auto& span : ss.spans()) {
            if (span.trace_id().size() != 16 || span.span_id().size() != 8 ||
                BadId(span.parent_span_id(), 8)) {
              return true;
            }
          }
        }
      }
      return false;
    case Signal::kLogs:
      for (const auto& rl : batch.logs().resource_logs()) {
        for (const auto& sl : rl.scope_logs()) {
          for (const auto& log : sl.log_records()) {
            if (BadId(log.trace_id(), 16) || BadId(log.span_id(), 8)) return true;
          }
        }
      }
      return false;
    case Signal::kMetrics:
      for (const auto& rm : batch.metrics().resource_metrics()) {
        for (const auto& sm : rm.scope_metrics()) {
          for (const auto& m : sm.metrics()) {
            if (m.name().empty()) return true;
          }
        }
      }
      return false;
  }
  return false;
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
  auto note = [&](const std::string& why) {
    if (result.message.empty()) result.message = why;
  };
  if (!HasInvalidRecords(batch)) return result;
  switch (batch.signal()) {
    case Signal::kTraces: {
      TracesRequest r = batch.traces();
      for (auto& rs : *r.mutable_resource_spans()) {
        for (auto& ss : *rs.mutable_scope_spans()) {
          auto* spans = ss.mutable_spans();
          auto keep = std::remove_if(spans->begin(), spans->end(), [&](const auto& span) {
            if (span.trace_id().size() != 16 || span.span_id().size() != 8 ||
                BadId(span.parent_span_id(), 8)) {
              note("span with a trace_id not of 16 bytes or a span_id not of 8 bytes");
              return true;
            }
            return false;
          });
          result.rejected += spans->end() - keep;
          spans->erase(keep, spans->end());
        }
      }
      if (result.rejected > 0) batch = Batch(std::move(r));
      break;
    }
    case Signal::kLogs: {
      LogsRequest r = batch.logs();
      for (auto& rl : *r.mutable_resource_logs()) {
        for (auto& sl : *rl.mutable_scope_logs()) {
          auto* logs = sl.mutable_log_records();
          auto keep = std::remove_if(logs->begin(), logs->end(), [&](const auto& log) {
            if (BadId(log.trace_id(), 16) || BadId(log.span_id(), 8)) {
              note("log record with a trace_id not of 16 bytes or a span_id not of 8 bytes");
              return true;
            }
            return false;
          });
          result.rejected += logs->end() - keep;
          logs->erase(keep, logs->end());
        }
      }
      if (result.rejected > 0) batch = Batch(std::move(r));
      break;
    }
    case Signal::kMetrics: {
      MetricsRequest r = batch.metrics();
      for (auto& rm : *r.mutable_resource_metrics()) {
        for (auto& sm : *rm.mutable_scope_metrics()) {
          auto* metrics = sm.mutable_metrics();
          auto keep = std::remove_if(metrics->begin(), metrics->end(), [&](const auto& m) {
            if (m.name().empty()) {
              // Its data points are the records refused.
              MetricsRequest one;
              *one.add_resource_metrics()->add_scope_metrics()->add_metrics() = m;
              result.rejected += CountRecords(one);
              note("metric without a name");
              return true;
            }
            return false;
          });
          metrics->erase(keep, metrics->end());
        }
      }
      if (result.rejected > 0) batch = Batch(std::move(r));
      break;
    }
  }
  return result;
}

absl::StatusOr<std::string> Gunzip(std::string_view compressed, size_t max_output) {
  z_stream zs{};
  // 15 window bits + 32: detect gzip or zlib headers.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return absl::InternalError("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError("invalid gzip body");
    }
    size_t produced = sizeof buf - zs.avail_out;
    if (out.size() + produced > max_output) {
      inflateEnd(&zs);
      return absl::ResourceExhaustedError(
          absl::StrCat("decompressed body exceeds the limit of ", max_output, " bytes"));
    }
    out.append(buf, produced);
    if (rc == Z_OK && zs.avail_in == 0 && produced == 0) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError("truncated gzip body");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace tributary::core
