// Uses every signal through the installed headers and library only, flushes
// to OTEL_EXPORTER_OTLP_ENDPOINT and exits 0 when the endpoint acknowledged
// each signal.
#include <tributary/sdk/sdk.h>

#include <cstdio>
#include <map>

int main() {
  using namespace tributary::sdk;
  auto sdk = Sdk::Create();
  Tracer tracer = sdk->GetTracer("package-test", "1.0");
  Logger logger = sdk->GetLogger("package-test");
  Counter counter = sdk->GetMeter("package-test").CreateCounter("package.test.runs", "{run}");
  {
    Span span = tracer.StartSpan("installed", {{"ok", true}}, SpanKind::kServer);
    Scope scope = span.Activate();
    logger.Info("the installed SDK works", {{"answer", 42}});
    counter.Add(1, {{"via", "find_package"}});
    std::map<std::string, std::string> headers;
    MapCarrier carrier(headers);
    InjectTraceContext(span.context(), carrier);
    if (ExtractTraceContext(carrier).trace_id != span.context().trace_id) return 3;
  }
  if (!sdk->ForceFlush(std::chrono::seconds(10))) return 2;
  SdkStats s = sdk->stats();
  std::printf("spans=%llu logs=%llu metric_points=%llu\n",
              static_cast<unsigned long long>(s.spans_exported),
              static_cast<unsigned long long>(s.logs_exported),
              static_cast<unsigned long long>(s.metric_points_exported));
  sdk->Shutdown(std::chrono::seconds(5));
  return s.spans_exported == 1 && s.logs_exported == 1 && s.metric_points_exported > 0 ? 0 : 1;
}
