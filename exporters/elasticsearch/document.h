#ifndef TRIBUTARY_EXPORTERS_ELASTICSEARCH_DOCUMENT_H_
#define TRIBUTARY_EXPORTERS_ELASTICSEARCH_DOCUMENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/logs/v1/logs.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

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

using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::Span;

// An attribute key as a field name: every '.' becomes '_', so that keys such
// as `app` and `app.kubernetes.io/name` are two fields rather than a value
// and an object at the same path, which Elasticsearch cannot map together.
std::string FieldName(std::string_view key);

// The target of a record: `logs-<dataset>-<namespace>` (data stream; dataset
// and namespace from the resource attributes data_stream.dataset and
// data_stream.namespace when set), or the dated index.
std::string LogsIndex(const Resource& resource, uint64_t time_unix_nano, const IndexOptions& o);
std::string TracesIndex(const Resource& resource, uint64_t time_unix_nano, const IndexOptions& o);

// Appends the document's JSON source, without a newline.
void AppendLogDocument(MappingMode mode, const Resource& resource,
                       const InstrumentationScope& scope, const LogRecord& record,
                       const std::string& index, std::string* out);
void AppendSpanDocument(MappingMode mode, const Resource& resource,
                        const InstrumentationScope& scope, const Span& span,
                        const std::string& index, std::string* out);

// Days since 1970-01-01 as a civil date.
void CivilFromDays(int64_t days, int* year, unsigned* month, unsigned* day);

// Deterministic document ids, the same on every retry and after a restart
// that reads the same data again: a 128-bit hash of the record's content
// and origin (resource and scope; not the time it was observed) for logs;
// trace id and span id for spans.
std::string LogDocumentId(uint64_t origin_hash, const LogRecord& record);
std::string SpanDocumentId(const Span& span);
uint64_t OriginHash(const Resource& resource, const InstrumentationScope& scope);

// RFC 3339 UTC time with nanoseconds.
void AppendTimestamp(uint64_t unix_nano, std::string* out);

}  // namespace tributary::exporters::elasticsearch

#endif  // TRIBUTARY_EXPORTERS_ELASTICSEARCH_DOCUMENT_H_
