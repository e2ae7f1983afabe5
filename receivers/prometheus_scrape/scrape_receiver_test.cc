#include "receivers/prometheus_scrape/scrape_receiver.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::prometheus_scrape {
namespace {

// An HTTP server on a free loopback port, for a test's handlers.
class TestServer {
 public:
  explicit TestServer(const std::function<void(httplib::Server&)>& setup) {
    setup(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string Attr(const opentelemetry::proto::resource::v1::Resource& r, const std::string& key) {
  for (const auto& kv : r.attributes()) {
    if (kv.key() == key) return kv.value().string_value();
  }
  return "";
}

TEST(ScrapeReceiver, ScrapesAnnotatedPodsOfThisNode) {
  TestServer exposition([](httplib::Server& s) {
    s.Get("/custom", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("# TYPE my_metric gauge\nmy_metric{a=\"b\"} 42\n",
                      "text/plain; version=0.0.4");
    });
  });
  const std::string port = std::to_string(exposition.port());
  std::atomic<int> lists{0};
  TestServer api([&](httplib::Server& s) {
    s.Get("/api/v1/pods", [&](const httplib::Request& req, httplib::Response& res) {
      EXPECT_EQ(req.get_param_value("fieldSelector"), "spec.nodeName=node-1");
      if (req.has_param("watch")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        res.set_content("", "application/json");
        return;
      }
      ++lists;
      res.set_content(R"({"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[)"
                      R"({"metadata":{"name":"web-1","namespace":"shop","uid":"u1","annotations":{)"
                      R"("prometheus.io/scrape":"true","prometheus.io/port":")" +
                          port +
                          R"(","prometheus.io/path":"/custom"}},"status":{"podIP":"127.0.0.1"}},)"
                          R"({"metadata":{"name":"db-1","namespace":"shop","uid":"u2"},)"
                          R"("status":{"podIP":"127.0.0.2"}}]})",
                      "application/json");
    });
  });
  ScrapeConfig config;
  config.job_name = "pods";
  config.scrape_interval = std::chrono::milliseconds(200);
  config.scrape_timeout = std::chrono::milliseconds(150);
  config.kubernetes_pods.emplace();
  config.kubernetes_pods->endpoint = "http://127.0.0.1:" + std::to_string(api.port());
  config.kubernetes_pods->token_file = "/nonexistent";
  config.node_name = "node-1";
  ASSERT_TRUE(config.Validate().ok());
  core::testing::RecordingConsumer sink;
  ScrapeReceiver receiver("prometheus_scrape/pods", config, &sink);
  ASSERT_TRUE(receiver.Start().ok());
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (const core::Batch& b : sink.batches()) {
      const auto& rm = b.metrics().resource_metrics(0);
      for (const auto& m : rm.scope_metrics(0).metrics()) {
        if (m.name() != "my_metric") continue;
        EXPECT_EQ(m.gauge().data_points(0).as_double(), 42);
        EXPECT_EQ(Attr(rm.resource(), "service.name"), "pods");
        EXPECT_EQ(Attr(rm.resource(), "service.instance.id"), "127.0.0.1:" + port);
        EXPECT_EQ(Attr(rm.resource(), "k8s.pod.name"), "web-1");
        EXPECT_EQ(Attr(rm.resource(), "k8s.namespace.name"), "shop");
        found = true;
      }
      // The pod without the annotation is never scraped.
      EXPECT_NE(Attr(rm.resource(), "k8s.pod.name"), "db-1");
    }
  }
  receiver.Shutdown(core::Clock::now());
  EXPECT_TRUE(found);
  EXPECT_GE(lists.load(), 1);
}

TEST(ScrapeReceiver, FailedScrapesReportUpZero) {
  TestServer target([](httplib::Server& s) {
    s.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("a 1\nb 2\nc 3\n", "text/plain");
    });
  });
  ScrapeConfig config;
  config.targets = {"127.0.0.1:" + std::to_string(target.port())};
  config.scrape_interval = std::chrono::milliseconds(100);
  config.scrape_timeout = std::chrono::milliseconds(100);
  config.sample_limit = 2;
  core::testing::RecordingConsumer sink;
  ScrapeReceiver receiver("prometheus_scrape/limit", config, &sink);
  ASSERT_TRUE(receiver.Start().ok());
  ASSERT_TRUE(sink.WaitForRecords(3, std::chrono::seconds(5)));
  receiver.Shutdown(core::Clock::now());
  const std::vector<core::Batch> batches = sink.batches();
  const auto& metrics = batches[0].metrics().resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(metrics.size(), 3);  // up, scrape_duration_seconds, scrape_samples_scraped only
  EXPECT_EQ(metrics[0].name(), "up");
  EXPECT_EQ(metrics[0].gauge().data_points(0).as_double(), 0);
  EXPECT_EQ(metrics[2].gauge().data_points(0).as_double(), 3);
  EXPECT_GE(core::testing::MetricValue(
                "tributary_scrape_failures_total",
                {{"receiver", "prometheus_scrape/limit"}, {"reason", "sample_limit"}}),
            1);
}

}  // namespace
}  // namespace tributary::receivers::prometheus_scrape
