#include "state.h"

namespace tributary::sdk {

bool Logger::Enabled(Severity severity) const noexcept {
  return state_ != nullptr && severity >= state_->sdk->options.min_log_severity;
}

void Logger::Emit(Severity severity, std::string_view body, AttributeList attributes) noexcept {
  if (!Enabled(severity)) return;
  detail::SdkState& sdk = *state_->sdk;
  detail::LogRecordData* r = sdk.logs.Acquire();
  if (r == nullptr) return;  // counted as dropped by the queue
  try {
    r->scope = state_;
    r->time_ns = detail::NowNanos();
    r->severity = severity;
    r->body.assign(body.data(), body.size());
    r->attributes.Clear();
    // Logs follow the span limits for attributes.
    r->attributes.SetAll(attributes, sdk.options.span_attribute_count_limit,
                         sdk.options.attribute_value_length_limit);
    const SpanContext& active = CurrentSpanContext();
    r->trace_id = active.trace_id;
    r->span_id = active.span_id;
    r->trace_flags = active.trace_flags;
  } catch (...) {
    sdk.logs.Release(r);
    return;
  }
  sdk.SubmitLog(r);
}

}  // namespace tributary::sdk
