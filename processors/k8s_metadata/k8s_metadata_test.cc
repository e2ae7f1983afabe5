#include <fstream>
#include <sstream>
#include <thread>

#include "common/k8s/pod_watcher.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "processors/k8s_metadata/k8s_metadata_processor.h"
#include "processors/k8s_metadata/kubelet_path.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::processors::k8s_metadata {

using common::k8s::PodWatcher;
using common::k8s::PodWatcherOptions;
namespace {

using namespace std::chrono_literals;

std::string TestData(const std::string& name) {
  std::ifstream in(std::string(TRIBUTARY_SOURCE_DIR) + "/processors/k8s_metadata/testdata/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

TEST(KubeletPath, ReadsThePodsLayout) {
  auto ref = ParseKubeletPath(
      "/var/log/pods/shop_web-7d9f8_11111111-aaaa-4bbb-8ccc-000000000001/web/3.log");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->namespace_name, "shop");
  EXPECT_EQ(ref->pod_name, "web-7d9f8");
  EXPECT_EQ(ref->pod_uid, "11111111-aaaa-4bbb-8ccc-000000000001");
  EXPECT_EQ(ref->container_name, "web");
  EXPECT_EQ(ref->restart_count, 3);
  auto rotated = ParseKubeletPath("/host/var/log/pods/a_b_c/d/0.log.20240101-000000");
  ASSERT_TRUE(rotated);
  EXPECT_EQ(rotated->restart_count, 0);
}

TEST(KubeletPath, ReadsTheContainersLayout) {
  auto ref = ParseKubeletPath(
      "/var/log/containers/web-7d9f8_shop_web-"
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->pod_name, "web-7d9f8");
  EXPECT_EQ(ref->namespace_name, "shop");
  EXPECT_EQ(ref->container_name, "web");
  EXPECT_EQ(ref->pod_uid, "");
  EXPECT_EQ(ref->restart_count, -1);
}

TEST(KubeletPath, IgnoresOtherPaths) {
  for (const char* p :
       {"/var/log/syslog", "/var/log/pods/bad/web/0.log", "/var/log/pods/a_b_c/0.log",
        "/var/log/containers/x.log", "/var/log/containers/a_b_c-notanid.log", ""}) {
    EXPECT_FALSE(ParseKubeletPath(p)) << p;
  }
}

core::Batch LogsFrom(const std::string& path) {
  core::LogsRequest r;
  auto* rl = r.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("log.file.path");
  kv->mutable_value()->set_string_value(path);
  rl->add_scope_logs()->add_log_records()->mutable_body()->set_string_value("x");
  return core::Batch(std::move(r));
}

std::map<std::string, std::string> ResourceOf(const core::Batch& b) {
  std::map<std::string, std::string> out;
  for (const auto& kv : b.logs().resource_logs(0).resource().attributes()) {
    out[kv.key()] = kv.value().has_int_value() ? std::to_string(kv.value().int_value())
                                               : kv.value().string_value();
  }
  return out;
}

TEST(K8sMetadataProcessor, SetsAttributesFromThePath) {
  core::testing::RecordingConsumer sink;
  K8sMetadataConfig config;
  config.node_name = "node-1";
  K8sMetadataProcessor p("k8s_metadata", config, &sink);
  ASSERT_TRUE(p.Start().ok());
  core::Envelope e;
  e.batch = std::make_shared<const core::Batch>(LogsFrom("/var/log/pods/shop_web_uid-1/web/2.log"));
  ASSERT_TRUE(p.Consume(std::move(e)).ok());
  auto attrs = ResourceOf(sink.batches().at(0));
  EXPECT_EQ(attrs["k8s.namespace.name"], "shop");
  EXPECT_EQ(attrs["k8s.pod.name"], "web");
  EXPECT_EQ(attrs["k8s.pod.uid"], "uid-1");
  EXPECT_EQ(attrs["k8s.container.name"], "web");
  EXPECT_EQ(attrs["k8s.container.restart_count"], "2");
  EXPECT_EQ(attrs["k8s.node.name"], "node-1");
  p.Shutdown(core::Clock::now());
}

TEST(K8sMetadataProcessor, ASharedBatchIsCopiedNotChanged) {
  core::testing::RecordingConsumer sink;
  K8sMetadataProcessor p("k8s_metadata", {}, &sink);
  auto shared =
      std::make_shared<const core::Batch>(LogsFrom("/var/log/pods/shop_web_uid-1/web/0.log"));
  core::Envelope e;
  e.batch = shared;
  ASSERT_TRUE(p.Consume(std::move(e)).ok());
  EXPECT_EQ(shared->logs().resource_logs(0).resource().attributes_size(), 1);
  EXPECT_EQ(ResourceOf(sink.batches().at(0))["k8s.pod.name"], "web");
}

TEST(PodWatcher, AppliesEventsAndRefusesGarbage) {
  PodWatcher w(PodWatcherOptions{});
  ASSERT_TRUE(w.ApplyList(TestData("pods-list-1.json")).ok());
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(w.ByName("shop", "cart-0")->labels.at("app"), "cart");
  std::istringstream events(TestData("watch-1.jsonl"));
  for (std::string line; std::getline(events, line);) ASSERT_TRUE(w.ApplyEvent(line).ok());
  EXPECT_EQ(w.ByUid("11111111-aaaa-4bbb-8ccc-000000000001")->labels.at("version"), "1.5");
  EXPECT_TRUE(w.ByName("jobs", "worker-1"));
  EXPECT_EQ(absl::StatusCode::kFailedPrecondition,
            w.ApplyEvent(TestData("watch-2-gone.jsonl")).code());
  for (const char* bad : {"", "{", "[]", R"({"type":"ADDED"})", R"({"type":"ADDED","object":1})",
                          R"({"type":"ADDED","object":{"metadata":{"name":7}}})"}) {
    EXPECT_FALSE(w.ApplyEvent(bad).ok()) << bad;
  }
  EXPECT_FALSE(w.ApplyList("not json").ok());
}

// The cache holds at most max_pods: a pod beyond it is skipped until a
// deleted pod makes room.
TEST(PodWatcher, KeepsAtMostMaxPods) {
  PodWatcherOptions options;
  options.max_pods = 1;
  PodWatcher w(options);
  ASSERT_TRUE(w.ApplyList(TestData("pods-list-1.json")).ok());  // web-7d9f8, cart-0
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(w.ByName("shop", "web-7d9f8"));
  EXPECT_FALSE(w.ByName("shop", "cart-0"));
  const std::string added_worker =
      R"({"type":"ADDED","object":{"metadata":{"name":"worker-1","namespace":"jobs",)"
      R"("uid":"11111111-aaaa-4bbb-8ccc-000000000003","labels":{"app":"worker"}}}})";
  ASSERT_TRUE(w.ApplyEvent(added_worker).ok());
  EXPECT_FALSE(w.ByName("jobs", "worker-1"));  // full
  ASSERT_TRUE(w.ApplyEvent(R"({"type":"DELETED","object":{"metadata":{"name":"web-7d9f8",)"
                           R"("namespace":"shop","uid":"11111111-aaaa-4bbb-8ccc-000000000001"}}})")
                  .ok());
  ASSERT_TRUE(w.ApplyEvent(added_worker).ok());
  EXPECT_TRUE(w.ByName("jobs", "worker-1"));  // in the deleted pod's place
  EXPECT_EQ(w.size(), 1u);
}

// Replays recorded API server responses: a list, a watch that ends, a watch
// refused with 410 Gone, a list, a watch whose stream says 410, a list, then
// a watch that stays open.
class ReplayApiServer {
 public:
  ReplayApiServer() {
    server_.Get("/api/v1/pods", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req.params.count("watch")
                              ? "watch rv=" + req.get_param_value("resourceVersion")
                              : "list");
      selectors_.push_back(req.get_param_value("fieldSelector"));
      if (!req.params.count("watch")) {
        res.set_content(TestData(lists_++ == 0 ? "pods-list-1.json" : "pods-list-2.json"),
                        "application/json");
        return;
      }
      switch (watches_++) {
        case 0:
          res.set_content(TestData("watch-1.jsonl"), "application/json");
          return;
        case 1:
          res.status = 410;
          res.set_content(R"({"kind":"Status","code":410,"reason":"Expired"})", "application/json");
          return;
        case 2:
          res.set_content(TestData("watch-2-gone.jsonl"), "application/json");
          return;
        default:
          res.set_chunked_content_provider("application/json",
                                           [this](size_t, httplib::DataSink& sink) {
                                             std::this_thread::sleep_for(20ms);
                                             if (stop_) {
                                               sink.done();
                                               return false;
                                             }
                                             return true;
                                           });
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(5ms);
  }
  ~ReplayApiServer() {
    stop_ = true;
    server_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<std::string> selectors() {
    std::lock_guard<std::mutex> lock(mu_);
    return selectors_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<std::string> selectors_;
  int lists_ = 0;
  int watches_ = 0;
};

TEST(PodWatcher, ListsWatchesResumesAndRelistsAfterGone) {
  ReplayApiServer api;
  PodWatcherOptions o;
  o.endpoint = api.endpoint();
  o.node_name = "node-1";
  o.backoff = 50ms;
  PodWatcher w(o);
  w.Start();
  ASSERT_TRUE(WaitUntil([&] { return api.requests().size() >= 7; }));
  w.Stop();
  const std::vector<std::string> want = {"list",         "watch rv=100", "watch rv=105", "list",
                                         "watch rv=200", "list",         "watch rv=200"};
  std::vector<std::string> got = api.requests();
  got.resize(7);
  EXPECT_EQ(got, want);
  for (const std::string& s : api.selectors()) EXPECT_EQ(s, "spec.nodeName=node-1");
  EXPECT_EQ(w.lists(), 3u);
  // The last list is the truth: cart-0 is gone, db-0 is new, web has its new label.
  EXPECT_EQ(w.size(), 3u);
  EXPECT_FALSE(w.ByName("shop", "cart-0"));
  EXPECT_TRUE(w.ByName("shop", "db-0"));
  EXPECT_EQ(w.ByName("shop", "web-7d9f8")->labels.at("version"), "1.6");
}

TEST(K8sMetadataProcessor, AddsLabelsFromTheApi) {
  ReplayApiServer api;
  core::testing::RecordingConsumer sink;
  K8sMetadataConfig config;
  config.node_name = "node-1";
  config.api.emplace();
  config.api->endpoint = api.endpoint();
  config.api->token_file = "";
  config.api->ca_file = "";
  config.api->annotations = true;
  K8sMetadataProcessor p("k8s_metadata/api", config, &sink);
  ASSERT_TRUE(p.Start().ok());
  // Start waited for the first list (wait_for_metadata): the first record
  // read gets its pod's labels.
  EXPECT_GE(p.watcher()->lists(), 1u);
  core::Envelope e;
  e.batch = std::make_shared<const core::Batch>(
      LogsFrom("/var/log/pods/shop_web-7d9f8_11111111-aaaa-4bbb-8ccc-000000000001/web/0.log"));
  ASSERT_TRUE(p.Consume(std::move(e)).ok());
  auto attrs = ResourceOf(sink.batches().at(0));
  EXPECT_EQ(attrs["k8s.pod.label.app"], "web");
  EXPECT_EQ(attrs["k8s.node.name"], "node-1");
  p.Shutdown(core::Clock::now());
}

TEST(K8sMetadataProcessor, StartsWithoutMetadataWhenTheApiDoesNotAnswerInTime) {
  core::testing::RecordingConsumer sink;
  K8sMetadataConfig config;
  config.node_name = "node-1";
  config.wait_for_metadata = 200ms;
  config.api.emplace();
  config.api->endpoint = "http://127.0.0.1:1";  // nothing listens there
  config.api->token_file = "";
  config.api->ca_file = "";
  K8sMetadataProcessor p("k8s_metadata/unreachable", config, &sink);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.Start().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_EQ(p.watcher()->lists(), 0u);
  p.Shutdown(core::Clock::now());
}

}  // namespace
}  // namespace tributary::processors::k8s_metadata
