// SdkOptions from the OpenTelemetry environment variables, and the resource.
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "otlp_http.h"
#include "state.h"

namespace tributary::sdk {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void Bad(const char* name, const std::string& value, const char* why) {
  std::fprintf(stderr, "tributary-sdk: ignoring %s=%s: %s\n", name, value.c_str(), why);
}

template <class T>
void Number(const char* name, T& out, long long min) {
  std::string v = Env(name);
  if (v.empty()) return;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || n < min)
    return Bad(name, v, "not a whole number in range");
  out = static_cast<T>(n);
}

void Millis(const char* name, std::chrono::milliseconds& out) {
  long long ms = -1;
  Number(name, ms, 0);
  if (ms >= 0) out = std::chrono::milliseconds(ms);
}

}  // namespace

SdkOptions SdkOptions::FromEnvironment() {
  SdkOptions o;
  std::string v = Lower(Env("OTEL_SDK_DISABLED"));
  o.disabled = v == "true";
  o.service_name = Env("OTEL_SERVICE_NAME");
  std::string bad;
  o.resource_attributes = detail::ParseKeyValueList(Env("OTEL_RESOURCE_ATTRIBUTES"), &bad);
  if (!bad.empty()) Bad("OTEL_RESOURCE_ATTRIBUTES", bad, "not key=value");
  if (auto e = Env("OTEL_EXPORTER_OTLP_ENDPOINT"); !e.empty()) o.endpoint = e;
  o.traces_endpoint = Env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  o.metrics_endpoint = Env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  o.logs_endpoint = Env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
  for (auto [name, flag] : {std::pair{"OTEL_TRACES_EXPORTER", &o.export_traces},
                            std::pair{"OTEL_METRICS_EXPORTER", &o.export_metrics},
                            std::pair{"OTEL_LOGS_EXPORTER", &o.export_logs}}) {
    std::string e = Lower(Env(name));
    if (e == "none") {
      *flag = false;
    } else if (!e.empty() && e != "otlp") {
      Bad(name, e, "otlp or none");
    }
  }
  bad.clear();
  o.headers = detail::ParseKeyValueList(Env("OTEL_EXPORTER_OTLP_HEADERS"), &bad);
  if (!bad.empty())
    std::fprintf(stderr,
                 "tributary-sdk: ignoring malformed members of OTEL_EXPORTER_OTLP_HEADERS\n");
  Millis("OTEL_EXPORTER_OTLP_TIMEOUT", o.export_timeout);
  if (auto c = Lower(Env("OTEL_EXPORTER_OTLP_COMPRESSION")); !c.empty()) {
    if (c == "gzip") {
      o.gzip = true;
    } else if (c != "none") {
      Bad("OTEL_EXPORTER_OTLP_COMPRESSION", c, "gzip or none");
    }
  }
  if (auto p = Lower(Env("OTEL_EXPORTER_OTLP_PROTOCOL")); !p.empty() && p != "http/protobuf") {
    Bad("OTEL_EXPORTER_OTLP_PROTOCOL", p, "this SDK sends http/protobuf");
  }
  if (auto s = Lower(Env("OTEL_TRACES_SAMPLER")); !s.empty()) {
    if (s == "always_on") {
      o.sampler = Sampler::kAlwaysOn;
    } else if (s == "always_off") {
      o.sampler = Sampler::kAlwaysOff;
    } else if (s == "traceidratio") {
      o.sampler = Sampler::kTraceIdRatio;
    } else if (s == "parentbased_always_on") {
      o.sampler = Sampler::kParentBasedAlwaysOn;
    } else if (s == "parentbased_always_off") {
      o.sampler = Sampler::kParentBasedAlwaysOff;
    } else if (s == "parentbased_traceidratio") {
      o.sampler = Sampler::kParentBasedTraceIdRatio;
    } else {
      Bad("OTEL_TRACES_SAMPLER", s, "unknown sampler");
    }
  }
  if (auto a = Env("OTEL_TRACES_SAMPLER_ARG"); !a.empty()) {
    char* end = nullptr;
    double r = std::strtod(a.c_str(), &end);
    if (end == a.c_str() || *end != '\0' || !(r >= 0.0 && r <= 1.0)) {
      Bad("OTEL_TRACES_SAMPLER_ARG", a, "a ratio from 0 to 1");
    } else {
      o.sampler_ratio = r;
    }
  }
  Number("OTEL_BSP_MAX_QUEUE_SIZE", o.span_queue_size, 1);
  Number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", o.span_batch_size, 1);
  Millis("OTEL_BSP_SCHEDULE_DELAY", o.span_schedule_delay);
  Number("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", o.span_attribute_count_limit, 0);
  Number("OTEL_SPAN_EVENT_COUNT_LIMIT", o.span_event_count_limit, 0);
  Number("OTEL_SPAN_LINK_COUNT_LIMIT", o.span_link_count_limit, 0);
  Number("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", o.attribute_value_length_limit, 0);
  Number("OTEL_BLRP_MAX_QUEUE_SIZE", o.log_queue_size, 1);
  Number("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", o.log_batch_size, 1);
  Millis("OTEL_BLRP_SCHEDULE_DELAY", o.log_schedule_delay);
  Millis("OTEL_METRIC_EXPORT_INTERVAL", o.metric_export_interval);
  if (auto t = Lower(Env("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")); !t.empty()) {
    if (t == "delta") {
      o.temporality = Temporality::kDelta;
    } else if (t == "cumulative") {
      o.temporality = Temporality::kCumulative;
    } else {
      Bad("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", t, "cumulative or delta");
    }
  }
  Number("OTEL_METRICS_CARDINALITY_LIMIT", o.cardinality_limit, 1);
  if (auto l = Lower(Env("TRIBUTARY_LOG_LEVEL")); !l.empty()) {
    if (l == "trace")
      o.min_log_severity = Severity::kTrace;
    else if (l == "debug")
      o.min_log_severity = Severity::kDebug;
    else if (l == "info")
      o.min_log_severity = Severity::kInfo;
    else if (l == "warn")
      o.min_log_severity = Severity::kWarn;
    else if (l == "error")
      o.min_log_severity = Severity::kError;
    else if (l == "fatal")
      o.min_log_severity = Severity::kFatal;
    else
      Bad("TRIBUTARY_LOG_LEVEL", l, "trace, debug, info, warn, error or fatal");
  }
  return o;
}

namespace detail {

std::string RandomUuid() {
  uint8_t b[16];
  for (int half = 0; half < 2; ++half) {
    const uint64_t v = RandomU64();
    for (int i = 0; i < 8; ++i) b[half * 8 + i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

// The detected resource: SDK, service, host, process, and the Kubernetes
// pod, namespace and node the deploy manifests pass through the downward API
// (K8S_POD_NAME, K8S_NAMESPACE_NAME, K8S_NODE_NAME, K8S_POD_UID; the
// OpenTelemetry Operator's OTEL_RESOURCE_ATTRIBUTES_POD_NAME,
// _NODE_NAME and _POD_UID work too). OTEL_RESOURCE_ATTRIBUTES wins over
// detection, OTEL_SERVICE_NAME over both.
std::vector<OwnedAttribute> DetectResource(const SdkOptions& o) {
  std::vector<OwnedAttribute> r;
  auto set = [&r](std::string_view key, AttributeValue v) {
    for (auto& a : r) {
      if (a.key == key) {
        a.value.Assign(v, 0);
        return;
      }
    }
    r.emplace_back();
    r.back().key = std::string(key);
    r.back().value.Assign(v, 0);
  };
  auto env_first = [](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (std::string v = Env(n); !v.empty()) return v;
    return std::string();
  };
  std::string exe;
  {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) {
      exe.assign(buf, static_cast<size_t>(n));
      exe = exe.substr(exe.rfind('/') + 1);
    }
  }
  set("service.name", "unknown_service" + (exe.empty() ? std::string() : ":" + exe));
  set("telemetry.sdk.name", "tributary");
  set("telemetry.sdk.language", "cpp");
  set("telemetry.sdk.version", "0.1.0");
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0')
    set("host.name", std::string_view(host));
  set("process.pid", static_cast<int64_t>(getpid()));
  if (!exe.empty()) set("process.executable.name", exe);
  if (auto v = env_first({"K8S_POD_NAME", "OTEL_RESOURCE_ATTRIBUTES_POD_NAME"}); !v.empty())
    set("k8s.pod.name", v);
  if (auto v = env_first({"K8S_NAMESPACE_NAME", "K8S_POD_NAMESPACE"}); !v.empty())
    set("k8s.namespace.name", v);
  if (auto v = env_first({"K8S_NODE_NAME", "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME"}); !v.empty())
    set("k8s.node.name", v);
  if (auto v = env_first({"K8S_POD_UID", "OTEL_RESOURCE_ATTRIBUTES_POD_UID"}); !v.empty())
    set("k8s.pod.uid", v);
  // Replicas of a service are distinct series: the pod's name or uid, else
  // a random UUID for this process (the specification's recommendation).
  if (auto v = env_first({"K8S_POD_NAME", "OTEL_RESOURCE_ATTRIBUTES_POD_NAME", "K8S_POD_UID",
                          "OTEL_RESOURCE_ATTRIBUTES_POD_UID"});
      !v.empty()) {
    set("service.instance.id", v);
  } else {
    set("service.instance.id", RandomUuid());
  }
  for (const auto& [k, v] : o.resource_attributes) set(k, v);
  if (!o.service_name.empty()) set("service.name", o.service_name);
  return r;
}

}  // namespace detail
}  // namespace tributary::sdk
