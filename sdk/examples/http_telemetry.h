// What the example services share: serving an HTTP route with a server span
// (continuing the caller's trace), the OpenTelemetry HTTP server metrics, an
// access log line on stdout, and calling another service with a client span
// whose context travels in the traceparent header.
#pragma once

#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "tributary/sdk/sdk.h"

namespace tributary::examples {

using namespace tributary::sdk;

// The SDK from the OTEL_* variables; the service name defaults to `name`.
inline std::unique_ptr<Sdk> StartSdk(const char* name) {
  SdkOptions options = SdkOptions::FromEnvironment();
  bool named = !options.service_name.empty();
  for (const auto& [k, v] : options.resource_attributes) named = named || k == "service.name";
  if (!named) options.service_name = name;
  return Sdk::Create(std::move(options));
}

// Blocks SIGINT and SIGTERM in every thread started after this call, and runs
// on_stop on a thread of its own when one arrives.
inline std::thread OnStopSignal(std::function<void()> on_stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return std::thread([set, on_stop = std::move(on_stop)] {
    int sig = 0;
    sigwait(&set, &sig);
    on_stop();
  });
}

// The value after `name` on the command line, or the fallback.
inline std::string Flag(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  return fallback;
}

// "host:port" split; the port is 0 if there is none.
inline std::pair<std::string, int> HostPort(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return {s, 0};
  return {s.substr(0, colon), std::atoi(s.c_str() + colon + 1)};
}

// Serves until SIGINT or SIGTERM, then flushes the SDK (within 5 s).
inline int ServeUntilStopped(httplib::Server& server, std::thread& stopper, Sdk& sdk,
                             const char* name, const std::string& address, int port) {
  std::printf("%s listening on %s:%d\n", name, address.c_str(), port);
  std::fflush(stdout);
  if (!server.listen(address, port)) {
    std::fprintf(stderr, "%s: cannot listen on %s:%d\n", name, address.c_str(), port);
    std::_Exit(1);
  }
  kill(getpid(), SIGTERM);  // releases the stopper thread if listen ended otherwise
  stopper.join();
  sdk.Shutdown(std::chrono::seconds(5));
  return 0;
}

inline std::string Param(const httplib::Request& req, const char* name, const char* fallback = "") {
  return req.has_param(name) ? req.get_param_value(name) : fallback;
}

class HttpTelemetry {
 public:
  HttpTelemetry(Sdk& sdk, const char* scope)
      : tracer_(sdk.GetTracer(scope, "0.1.0")),
        logger_(sdk.GetLogger(scope, "0.1.0")),
        server_duration_(
            sdk.GetMeter(scope, "0.1.0")
                .CreateHistogram(
                    "http.server.request.duration", "s", "Duration of HTTP server requests",
                    {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10})),
        client_duration_(
            sdk.GetMeter(scope, "0.1.0")
                .CreateHistogram(
                    "http.client.request.duration", "s", "Duration of HTTP client requests",
                    {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10})) {}

  Tracer& tracer() { return tracer_; }
  Logger& logger() { return logger_; }

  // Serves one request: handler(span) returns the status code and fills res.
  template <class Handler>
  void Serve(const httplib::Request& req, httplib::Response& res, const char* route,
             Handler&& handler) {
    auto start = std::chrono::steady_clock::now();
    HeadersCarrier<const httplib::Headers> carrier(req.headers);
    SpanContext parent = ExtractTraceContext(carrier);
    Span span = tracer_.StartSpan(
        req.method + " " + route,
        {{"http.request.method", req.method},
         {"http.route", route},
         {"url.path", req.path},
         {"url.scheme", "http"},
         {"client.address", req.remote_addr}},
        StartSpanOptions(SpanKind::kServer, parent.IsValid() ? &parent : nullptr));
    int status;
    {
      Scope scope = span.Activate();
      status = handler(span);
    }
    res.status = status;
    span.SetAttribute("http.response.status_code", status);
    if (status >= 500) span.SetStatus(StatusCode::kError, "HTTP " + std::to_string(status));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    server_duration_.Record(seconds, {{"http.request.method", req.method},
                                      {"http.route", route},
                                      {"http.response.status_code", status}});
    std::printf("%s %s %d %.1fms trace_id=%s\n", req.method.c_str(), req.path.c_str(), status,
                seconds * 1000, span.context().TraceIdHex().c_str());
    std::fflush(stdout);
  }

  // GET host:port path with a client span (a child of the active span);
  // returns the status (0: no answer) and the body.
  int Get(httplib::Client& client, const std::string& host, int port, const std::string& route,
          const std::string& path, std::string* body = nullptr) {
    auto start = std::chrono::steady_clock::now();
    Span span =
        tracer_.StartSpan("GET " + route,
                          {{"http.request.method", "GET"},
                           {"server.address", host},
                           {"server.port", port},
                           {"url.full", "http://" + host + ":" + std::to_string(port) + path}},
                          SpanKind::kClient);
    httplib::Headers headers;
    HeadersCarrier carrier(headers);
    InjectTraceContext(span.context(), carrier);
    auto result = client.Get(path, headers);
    int status = result ? result->status : 0;
    if (result && body != nullptr) *body = result->body;
    if (status != 0) span.SetAttribute("http.response.status_code", status);
    if (status == 0) {
      span.SetAttribute("error.type", httplib::to_string(result.error()));
      span.SetStatus(StatusCode::kError, "no response: " + httplib::to_string(result.error()));
    } else if (status >= 400) {
      span.SetStatus(StatusCode::kError, "HTTP " + std::to_string(status));
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    client_duration_.Record(seconds, {{"http.request.method", "GET"},
                                      {"server.address", host},
                                      {"http.response.status_code", status}});
    return status;
  }

 private:
  Tracer tracer_;
  Logger logger_;
  Histogram server_duration_;
  Histogram client_duration_;
};

}  // namespace tributary::examples
