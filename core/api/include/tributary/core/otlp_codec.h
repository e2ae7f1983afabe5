#ifndef TRIBUTARY_CORE_OTLP_CODEC_H_
#define TRIBUTARY_CORE_OTLP_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tributary/core/batch.h"

namespace tributary::core {

// OTLP/JSON as the specification defines it: lowerCamelCase keys, trace and
// span ids as hex strings, enums as integers, 64-bit integers as strings.
// Unknown fields are ignored, as OTLP asks receivers to do.
absl::StatusOr<Batch> DecodeOtlpJson(Signal signal, std::string_view json);
absl::StatusOr<Batch> DecodeOtlpProto(Signal signal, std::string_view bytes);
std::string EncodeOtlpJson(const Batch& batch);
void AppendOtlpJson(const Batch& batch, std::string* out);
// The OTLP/JSON of a serialized export request of `signal`, written from its
// wire form; false (with `out` holding part of it) when it does not read.
bool AppendOtlpJson(Signal signal, std::string_view request, std::string* out);

// The gRPC method an export request of `signal` is sent to
// ("/opentelemetry.proto.collector.trace.v1.TraceService/Export", ...).
const char* OtlpGrpcMethod(Signal signal);

// Appends `text` as the inside of a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
void AppendJsonEscaped(std::string_view text, std::string* out);
// Appends `text` as a JSON string, quotes included.
void AppendJsonString(std::string_view text, std::string* out);

// Checks the fields OTLP gives a fixed shape (ids of 16 and 8 bytes) and
// removes the records that break them. Returns how many were removed and why.
struct ValidationResult {
  size_t rejected = 0;
  std::string message;
};
ValidationResult RemoveInvalidRecords(Batch& batch);

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_OTLP_CODEC_H_
