// The C++ side of the SDK interoperability test (tests/interop/sdk_interop.cjs).
//   interop_tool emit                      sends a fixed set of spans, logs and metrics to
//                                          OTEL_EXPORTER_OTLP_ENDPOINT, prints the ids as JSON
//   interop_tool inject TRACE SPAN FLAGS [TRACESTATE]   prints the headers the SDK injects
//   interop_tool extract TRACEPARENT [TRACESTATE]       prints the context the SDK extracts
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "tributary/sdk/sdk.h"

using namespace tributary::sdk;

namespace {

bool ParseHex(const std::string& hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return true;
}

std::chrono::system_clock::time_point At(int64_t nanos) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(nanos)));
}

int Emit() {
  SdkOptions options = SdkOptions::FromEnvironment();
  options.service_name = "interop-cpp";
  options.resource_attributes = {{"deployment.environment", "interop"}};
  auto sdk = Sdk::Create(options);
  Tracer tracer = sdk->GetTracer("interop.tracer", "1.2.3");
  Logger logger = sdk->GetLogger("interop.logger", "4.5.6");
  Meter meter = sdk->GetMeter("interop.meter", "7.8.9");

  SpanContext link;
  ParseHex("0102030405060708090a0b0c0d0e0f10", link.trace_id.data(), 16);
  ParseHex("a1a2a3a4a5a6a7a8", link.span_id.data(), 8);
  link.trace_flags = 1;
  link.trace_state = "vendor=x";
  link.remote = true;

  SpanContext parent_ctx, child_ctx;
  {
    StartSpanOptions o(SpanKind::kServer);
    o.start_time = At(1700000000000000000);
    Span parent = tracer.StartSpan(
        "interop.parent", {{"str", "value"}, {"int", 42}, {"dbl", 3.5}, {"bool", true}}, o);
    parent_ctx = parent.context();
    Scope scope = parent.Activate();
    parent.AddEvent("evt", {{"k", "v"}});
    parent.AddLink(link, {{"link.attr", 1}});
    parent.SetStatus(StatusCode::kError, "boom");
    logger.Warn("interop log", {{"n", 7}});
    StartSpanOptions co(SpanKind::kClient);
    co.start_time = At(1700000000100000000);
    Span child = tracer.StartSpan("interop.child", {}, co);
    child_ctx = child.context();
    child.End(At(1700000000200000000));
    parent.End(At(1700000000300000000));
  }
  Counter counter = meter.CreateCounter("interop.counter", "{item}", "a counter");
  counter.Add(5, {{"a", "b"}});
  Histogram h = meter.CreateHistogram("interop.histogram", "ms", "a histogram", {5, 100});
  for (double v : {1.0, 7.0, 300.0}) h.Record(v, {{"h", "x"}});
  meter.CreateGauge("interop.gauge", "1").Record(2.5);
  bool flushed = sdk->ForceFlush(std::chrono::seconds(10));
  std::printf(
      "{\"flushed\":%s,\"traceId\":\"%s\",\"parentSpanId\":\"%s\",\"childSpanId\":\"%s\",\"pid\":%"
      "d}\n",
      flushed ? "true" : "false", parent_ctx.TraceIdHex().c_str(), parent_ctx.SpanIdHex().c_str(),
      child_ctx.SpanIdHex().c_str(), static_cast<int>(getpid()));
  sdk->Shutdown(std::chrono::seconds(5));
  return flushed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "emit") return Emit();
  if (mode == "inject" && argc >= 5) {
    SpanContext c;
    if (!ParseHex(argv[2], c.trace_id.data(), 16) || !ParseHex(argv[3], c.span_id.data(), 8))
      return 2;
    c.trace_flags = static_cast<uint8_t>(std::atoi(argv[4]));
    if (argc > 5) c.trace_state = argv[5];
    std::map<std::string, std::string> headers;
    MapCarrier carrier(headers);
    InjectTraceContext(c, carrier);
    std::printf("{\"traceparent\":\"%s\",\"tracestate\":\"%s\"}\n", headers["traceparent"].c_str(),
                headers["tracestate"].c_str());
    return 0;
  }
  if (mode == "extract" && argc >= 3) {
    std::map<std::string, std::string> headers{{"traceparent", argv[2]}};
    if (argc > 3) headers["tracestate"] = argv[3];
    MapCarrier carrier(headers);
    SpanContext c = ExtractTraceContext(carrier);
    std::printf(
        "{\"valid\":%s,\"traceId\":\"%s\",\"spanId\":\"%s\",\"sampled\":%s,\"traceState\":\"%s\"}"
        "\n",
        c.IsValid() ? "true" : "false", c.TraceIdHex().c_str(), c.SpanIdHex().c_str(),
        c.IsSampled() ? "true" : "false", c.trace_state.c_str());
    return 0;
  }
  std::fprintf(
      stderr,
      "usage: interop_tool emit | inject TRACE SPAN FLAGS [STATE] | extract TRACEPARENT [STATE]\n");
  return 2;
}
