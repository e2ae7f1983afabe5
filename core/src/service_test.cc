#include "tributary/core/service.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace tributary::core {
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
}  // namespace tributary::core
