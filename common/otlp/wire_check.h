#ifndef TRIBUTARY_COMMON_OTLP_WIRE_CHECK_H_
#define TRIBUTARY_COMMON_OTLP_WIRE_CHECK_H_

#include <cstddef>
#include <optional>
#include <string_view>

#include "common/otlp/limits.h"
#include "tributary/core/batch.h"

namespace tributary::common::otlp {

// Whether a serialized OTLP export request can be passed on as it came,
// decided on the wire form without parsing it: protobuf would parse it
// (every string valid UTF-8, every field of its declared wire type), no
// record is invalid (core::RemoveInvalidRecords would remove nothing) and no
// limit applies (ApplyRecordLimits would change nothing). Returns its records
// (core::CountRecords of the parsed request), or nullopt when the request
// must be parsed to tell: it is malformed or invalid, a limit applies, or it
// is written in a way protobuf reads by merging (a singular field or a oneof
// written twice), which the check does not follow.
std::optional<size_t> PassesUnchanged(core::Signal signal, std::string_view request,
                                      const RecordLimits& limits);

}  // namespace tributary::common::otlp

#endif  // TRIBUTARY_COMMON_OTLP_WIRE_CHECK_H_
