#ifndef TRIBUTARY_EXPORTERS_ELASTICSEARCH_DOCUMENT_H_
#define TRIBUTARY_EXPORTERS_ELASTICSEARCH_DOCUMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "tributary/core/batch.h"
#include "tributary/core/wire.h"

// OTLP records as Elasticsearch documents.
namespace tributary::exporters::elasticsearch {

enum class MappingMode {
  // Close to the Elastic Common Schema: @timestamp, message, log.level,
  // service.name, trace.id, span.id, host.name, kubernetes.*; the other
  // record attributes under attributes.*, resource attributes under
  // resource.attributes.*.
  kEcs,
  // The OTLP shape: body, severity_*, attributes, resource.attributes,
  // scope.*, trace_id, span_id (spans: name, kind, status, events, links).
  kOtel,
};

struct IndexOptions {
  std::string dataset = "generic";
  std::string ns = "default";
  // Dated indices instead of data streams when set: `%Y`, `%m`, `%d` are
  // the record's UTC date.
  std::string logs_index;
  std::string traces_index;
};

// Documents are written from the records' serialized form (the OTLP export
// request's protobuf bytes), read with core::wire without building message
// objects. The views below are slices of those bytes: they live as long as
// the request (or the view's own copy, where occurrences had to be merged).

using core::wire::MessageField;

// The resource and scope of a group of records.
struct Origin {
  MessageField resource;  // Resource; attributes are its field 1
  MessageField scope;     // InstrumentationScope; attributes are its field 3
  std::string_view scope_name;
  std::string_view scope_version;
  bool scope_has_attributes = false;
  // A hash of both: part of every log document's id.
  uint64_t hash = 0;
};
// Reads the scope's fields and computes the hash; false when the scope is
// malformed.
bool CompleteOrigin(Origin* origin);

struct LogView {
  std::string_view bytes;  // the LogRecord; attributes are its field 6
  uint64_t time_unix_nano = 0;
  uint64_t observed_time_unix_nano = 0;
  int32_t severity_number = 0;
  uint32_t flags = 0;
  std::string_view severity_text;
  MessageField body;  // AnyValue
  bool has_attributes = false;
  std::string_view trace_id;
  std::string_view span_id;
  std::string_view event_name;
};
bool ReadLog(std::string_view bytes, LogView* log);

struct SpanView {
  std::string_view bytes;  // the Span; attributes 9, events 11, links 13
  std::string_view trace_id;
  std::string_view span_id;
  std::string_view trace_state;
  std::string_view parent_span_id;
  std::string_view name;
  int32_t kind = 0;
  uint64_t start_time_unix_nano = 0;
  uint64_t end_time_unix_nano = 0;
  bool has_attributes = false;
  bool has_events = false;
  bool has_links = false;
  MessageField status;  // Status: message 2, code 3
  int32_t status_code = 0;
  std::string_view status_message;
};
bool ReadSpan(std::string_view bytes, SpanView* span);

// An attribute key as a field name: every '.' becomes '_', so that keys such
// as `app` and `app.kubernetes.io/name` are two fields rather than a value
// and an object at the same path, which Elasticsearch cannot map together.
std::string FieldName(std::string_view key);

// The target of a record: `logs-<dataset>-<namespace>` (data stream; dataset
// and namespace from the resource attributes data_stream.dataset and
// data_stream.namespace when set), or the dated index.
std::string LogsIndex(const Origin& origin, uint64_t time_unix_nano, const IndexOptions& o);
std::string TracesIndex(const Origin& origin, uint64_t time_unix_nano, const IndexOptions& o);

// Appends the document's JSON source, without a newline; false when a
// nested value is malformed (then `out` holds part of a document).
bool AppendLogDocument(MappingMode mode, const Origin& origin, const LogView& record,
                       const std::string& index, std::string* out);
bool AppendSpanDocument(MappingMode mode, const Origin& origin, const SpanView& span,
                        const std::string& index, std::string* out);

// Calls each(ref, origin, record) for every log record or span of a
// serialized export request of logs or traces, with the indices a parsed
// request would give it. False when the request is malformed or `each`
// returns false.
bool ForEachRecord(
    std::string_view request,
    absl::FunctionRef<bool(const core::RecordRef&, const Origin&, std::string_view)> each);

// Days since 1970-01-01 as a civil date.
void CivilFromDays(int64_t days, int* year, unsigned* month, unsigned* day);

// Deterministic document ids, the same on every retry and after a restart
// that reads the same data again: a 128-bit hash of the record's serialized
// content and origin (resource and scope; not the time it was observed) for
// logs; trace id and span id for spans.
std::string LogDocumentId(const Origin& origin, const LogView& record);
std::string SpanDocumentId(const SpanView& span);

// RFC 3339 UTC time with nanoseconds.
void AppendTimestamp(uint64_t unix_nano, std::string* out);

}  // namespace tributary::exporters::elasticsearch

#endif  // TRIBUTARY_EXPORTERS_ELASTICSEARCH_DOCUMENT_H_
