#ifndef TRIBUTARY_COMMON_OTLP_LIMITS_H_
#define TRIBUTARY_COMMON_OTLP_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "tributary/core/batch.h"
#include "tributary/core/config.h"

namespace tributary::common::otlp {

// A receiver's `limits` block: bounds on what one record may carry, so that a
// broken or hostile sender cannot make records of unbounded size.
struct RecordLimits {
  int64_t max_attributes = 256;
  core::ByteSize max_attribute_value_length{64 << 10};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("max_attributes", max_attributes,
               "attributes kept per resource, span, event, link, log record or data point; the "
               "rest are dropped and counted in the record's dropped_attributes_count; 0 is "
               "unlimited");
    v.Optional("max_attribute_value_length", max_attribute_value_length,
               "longest string or bytes attribute value (also inside arrays and maps), cut at a "
               "UTF-8 character boundary; 0 is unlimited");
  }
  absl::Status Validate() const {
    if (max_attributes < 0) return absl::InvalidArgumentError("max_attributes must be >= 0");
    return absl::OkStatus();
  }
};

struct LimitsApplied {
  uint64_t dropped_attributes = 0;
  uint64_t truncated_values = 0;
};

// Enforces `limits` on every attribute list of the batch, in place.
LimitsApplied ApplyRecordLimits(core::Batch& batch, const RecordLimits& limits);

}  // namespace tributary::common::otlp

#endif  // TRIBUTARY_COMMON_OTLP_LIMITS_H_
