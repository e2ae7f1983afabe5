// Incoming request headers as any client may send them: the SDK's W3C
// traceparent/tracestate extraction and the OTEL_* key=value list parser.
// Never a crash; whatever is accepted is valid and survives a round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "otlp_http.h"
#include "tributary/sdk/propagation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tributary::sdk;
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\n');
  std::map<std::string, std::string> headers{{"traceparent", input.substr(0, split)}};
  if (split != std::string::npos) headers["tracestate"] = input.substr(split + 1);
  MapCarrier carrier(headers);
  SpanContext c = ExtractTraceContext(carrier);
  if (c.IsValid()) {
    if (!c.trace_state.empty() && !IsValidTraceState(c.trace_state)) std::abort();
    std::map<std::string, std::string> out;
    MapCarrier out_carrier(out);
    InjectTraceContext(c, out_carrier);
    SpanContext back = ExtractTraceContext(out_carrier);
    if (back.trace_id != c.trace_id || back.span_id != c.span_id ||
        back.trace_flags != c.trace_flags || back.trace_state != c.trace_state) {
      std::abort();
    }
  }
  std::string bad;
  for (const auto& [k, v] : detail::ParseKeyValueList(input, &bad)) {
    if (k.empty()) std::abort();
    (void)v;
  }
  return 0;
}
