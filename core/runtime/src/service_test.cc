#include "tributary/core/runtime/service.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace tributary::core::runtime {
namespace {

TEST(ServiceTest, StartsServesAdminAndStops) {
  Registry registry;
  RegisterAllComponents(registry);
  std::string out = ::testing::TempDir() + "/service_test.jsonl";
  auto config = LoadConfigText(registry, R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
exporters:
  file:
    path: )" + out + R"(
service:
  admin:
    endpoint: 127.0.0.1:0
  shutdown_timeout: 2s
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [file]
)",
                               "inline.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  Service service(registry, std::move(*config), "tributary-test");
  ASSERT_TRUE(service.Start().ok());
  EXPECT_TRUE(service.ready());
  httplib::Client admin("127.0.0.1", service.admin_port());
  auto ready = admin.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("tributary_build_info{"));
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("process_resident_memory_bytes"));
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("tributary_queue_capacity{exporter=\"file\"} 1000"));
  auto status = admin.Get("/");
  ASSERT_TRUE(status);
  EXPECT_THAT(status->body,
              ::testing::HasSubstr("logs: receivers [otlp] processors [] exporters [file]"));
  service.Shutdown();
  EXPECT_FALSE(service.ready());
}

}  // namespace
}  // namespace tributary::core::runtime

namespace tributary::core::runtime {
namespace {

TEST(ServiceConfigTest, MisshapenNodesAreErrorsNotExceptions) {
  Registry registry;
  RegisterAllComponents(registry);
  for (const char* text : {
           "receivers: {otlp: }\nexporters: {file: {path: /tmp/x}}\nservice:\n  pipelines:\n"
           "    traces: just-a-scalar\n",
           "receivers: [otlp]\nexporters: 3\nservice: {pipelines: {traces: [a, b]}}\n",
           "service: {pipelines: {logs: {receivers: {a: b}, exporters: [[x]]}}}\n",
       }) {
    absl::StatusOr<ServiceConfig> config = LoadConfigText(registry, text, "bad.yaml");
    EXPECT_FALSE(config.ok()) << text;
    EXPECT_THAT(std::string(config.status().message()), ::testing::HasSubstr("bad.yaml:")) << text;
  }
}

TEST(ServiceConfigTest, BufferAndPipelineWhenFullAreValidated) {
  Registry registry;
  RegisterAllComponents(registry);
  auto config = LoadConfigText(registry, R"(receivers: {otlp: }
exporters: {file: {path: /tmp/x}}
service:
  buffer: {directory: /tmp/b, fsync: sometimes}
  pipelines:
    traces: {receivers: [otlp], exporters: [file], when_full: drop_everything}
)",
                               "buf.yaml");
  ASSERT_FALSE(config.ok());
  const std::string message(config.status().message());
  EXPECT_THAT(message,
              ::testing::HasSubstr("service.buffer: fsync must be always, interval or never"));
  EXPECT_THAT(message, ::testing::HasSubstr(
                           "service.pipelines.traces: when_full must be block, drop_oldest"));
}

}  // namespace
}  // namespace tributary::core::runtime
