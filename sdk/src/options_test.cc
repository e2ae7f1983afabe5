#include <gtest/gtest.h>
#include <stdlib.h>

#include "test_support.h"

namespace tributary::sdk {
namespace {

class EnvGuard {
 public:
  EnvGuard(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (auto [k, v] : vars) {
      names_.push_back(k);
      setenv(k, v, 1);
    }
  }
  ~EnvGuard() {
    for (const char* k : names_) unsetenv(k);
  }

 private:
  std::vector<const char*> names_;
};

std::map<std::string, std::string> AsMap(const KeyValues& kv) { return {kv.begin(), kv.end()}; }

TEST(Options, StandardVariablesAreRead) {
  EnvGuard env({{"OTEL_SERVICE_NAME", "checkout"},
                {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, team=a%2Cb,broken"},
                {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://agent:4318/"},
                {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/custom"},
                {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc,x-tenant=t1"},
                {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
                {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
                {"OTEL_TRACES_SAMPLER_ARG", "0.1"},
                {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
                {"OTEL_BSP_SCHEDULE_DELAY", "notanumber"},
                {"OTEL_METRIC_EXPORT_INTERVAL", "1000"},
                {"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"}});
  SdkOptions o = SdkOptions::FromEnvironment();
  EXPECT_FALSE(o.disabled);
  EXPECT_EQ(o.service_name, "checkout");
  auto attrs = AsMap(o.resource_attributes);
  EXPECT_EQ(attrs["deployment.environment"], "prod");
  EXPECT_EQ(attrs["team"], "a,b");
  EXPECT_EQ(attrs.size(), 2u);
  EXPECT_EQ(o.endpoint, "http://agent:4318/");
  EXPECT_EQ(o.traces_endpoint, "http://traces:4318/custom");
  EXPECT_EQ(AsMap(o.headers)["authorization"], "Bearer abc");
  EXPECT_EQ(o.export_timeout, std::chrono::milliseconds(2500));
  EXPECT_TRUE(o.gzip);
  EXPECT_EQ(o.sampler, Sampler::kParentBasedTraceIdRatio);
  EXPECT_DOUBLE_EQ(o.sampler_ratio, 0.1);
  EXPECT_EQ(o.span_queue_size, 100u);
  EXPECT_EQ(o.span_schedule_delay, std::chrono::milliseconds(5000));  // bad value ignored
  EXPECT_EQ(o.metric_export_interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(o.temporality, Temporality::kDelta);
}

TEST(Options, DisabledSdkIsANoOp) {
  EnvGuard env({{"OTEL_SDK_DISABLED", "TRUE"}});
  auto sdk = Sdk::Create();
  Tracer tracer = sdk->GetTracer("t");
  Span s = tracer.StartSpan("s");
  EXPECT_FALSE(s.IsRecording());
  EXPECT_FALSE(s.context().IsValid());
  sdk->GetMeter("m").CreateCounter("c").Add(1);
  Logger logger = sdk->GetLogger("l");
  EXPECT_FALSE(logger.Enabled(Severity::kFatal));
  EXPECT_TRUE(sdk->Shutdown(std::chrono::milliseconds(100)));
}

TEST(Options, ResourceDetectsKubernetesFromTheDownwardApi) {
  EnvGuard env({{"K8S_POD_NAME", "checkout-7d9f"},
                {"K8S_NAMESPACE_NAME", "shop"},
                {"K8S_NODE_NAME", "node-3"},
                {"K8S_POD_UID", "0c1e2f"},
                {"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,k8s.node.name=override"}});
  SdkOptions o = SdkOptions::FromEnvironment();
  detail::SdkState sdk(o);
  auto r = AsMap(sdk.resource_strings);
  EXPECT_EQ(r["k8s.pod.name"], "checkout-7d9f");
  EXPECT_EQ(r["k8s.namespace.name"], "shop");
  EXPECT_EQ(r["k8s.node.name"], "override");
  EXPECT_EQ(r["k8s.pod.uid"], "0c1e2f");
  EXPECT_EQ(r["service.instance.id"], "checkout-7d9f");
  EXPECT_EQ(r["service.name"], "from-attrs");
  EXPECT_EQ(r["telemetry.sdk.name"], "tributary");
  EXPECT_EQ(r["process.pid"], std::to_string(getpid()));
  EXPECT_FALSE(r["host.name"].empty());
  EXPECT_EQ(r["process.executable.name"], "tributary_sdk_test");
  o.service_name = "explicit";
  detail::SdkState sdk2(o);
  EXPECT_EQ(AsMap(sdk2.resource_strings)["service.name"], "explicit");
}

// xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx, lower-case hex.
bool IsUuidV4(const std::string& s) {
  if (s.size() != 36 || s[14] != '4' || std::string("89ab").find(s[19]) == std::string::npos) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : std::string("0123456789abcdef").find(s[i]) == std::string::npos) {
      return false;
    }
  }
  return true;
}

TEST(Options, ServiceInstanceIdIsThePodElseARandomUuidPerProcess) {
  {
    EnvGuard env({{"K8S_POD_UID", "0c1e2f"}});
    detail::SdkState sdk(SdkOptions::FromEnvironment());
    EXPECT_EQ(AsMap(sdk.resource_strings)["service.instance.id"], "0c1e2f");
  }
  detail::SdkState a(SdkOptions{});
  detail::SdkState b(SdkOptions{});
  const std::string id = AsMap(a.resource_strings)["service.instance.id"];
  EXPECT_TRUE(IsUuidV4(id)) << id;
  EXPECT_NE(AsMap(b.resource_strings)["service.instance.id"], id);
  // OTEL_RESOURCE_ATTRIBUTES sets it like any other attribute.
  EnvGuard env({{"OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=replica-2"}});
  detail::SdkState c(SdkOptions::FromEnvironment());
  EXPECT_EQ(AsMap(c.resource_strings)["service.instance.id"], "replica-2");
}

TEST(Options, DefaultServiceNameNamesTheExecutable) {
  detail::SdkState sdk(SdkOptions{});
  EXPECT_EQ(AsMap(sdk.resource_strings)["service.name"], "unknown_service:tributary_sdk_test");
}

}  // namespace
}  // namespace tributary::sdk
