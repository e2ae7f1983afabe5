#include "tributary/core/runtime/service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tributary/core/runtime/admin_server.h"
#include "tributary/core/runtime/tap.h"
#include "tributary/core/testing/test_consumer.h"

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
  auto status = admin.Get("/?format=text");
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

namespace tributary::core::runtime {
namespace {

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A file configuration rewritten between reloads: an OTLP/HTTP receiver on
// `port`, a batch processor, and one or two file exporters.
class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterAllComponents(registry_);
    dir_ = ::testing::TempDir() + "/reload_test_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    port_ = FreePort();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& processors, const std::string& exporters,
             const std::string& extra = "") {
    std::ofstream(dir_ + "/config.yaml")
        << "receivers:\n  otlp:\n    protocols:\n      http:\n"
        << "        endpoint: 127.0.0.1:" << port_ << "\n"
        << "processors:\n  batch:\n    timeout: 20ms\n"
        << "  batch/slow:\n    timeout: 40ms\n"
        << "exporters:\n  file/a:\n    path: " << dir_ << "/a.jsonl\n  file/b:\n    path: " << dir_
        << "/b.jsonl\n  otlp/stuck:\n    endpoint: 127.0.0.1:" << FreePort()
        << "\n    tls: {insecure: true}\n"
        << "service:\n  shutdown_timeout: 2s\n"
        << "  admin:\n    endpoint: 127.0.0.1:0\n"
        << "  buffer:\n    directory: " << dir_ << "/buffer\n"
        << extra << "  pipelines:\n    logs:\n"
        << "      receivers: [otlp]\n      processors: [" << processors << "]\n      exporters: ["
        << exporters << "]\n";
  }
  // Posts one log record with `body` and waits until it is in `file`.
  void SendAndExpect(const std::string& body, const std::string& file, int port = 0) {
    httplib::Client client("127.0.0.1", port != 0 ? port : port_);
    const std::string request =
        R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":")" + body +
        R"("}}]}]}]})";
    auto r = client.Post("/v1/logs", request, "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200) << r->body;
    for (int i = 0; i < 1000 && Slurp(dir_ + "/" + file).find(body) == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_THAT(Slurp(dir_ + "/" + file), ::testing::HasSubstr(body));
  }
  std::unique_ptr<Service> StartService() {
    auto config = LoadConfigFile(registry_, dir_ + "/config.yaml");
    EXPECT_TRUE(config.ok()) << config.status();
    auto service = std::make_unique<Service>(registry_, std::move(*config), "tributary-test");
    EXPECT_TRUE(service->Start().ok());
    return service;
  }

  Registry registry_;
  std::string dir_;
  int port_ = 0;
};

TEST_F(ReloadTest, SwapsPipelinesAndKeepsAnUnchangedReceiver) {
  Write("batch", "file/a");
  auto service = StartService();
  SendAndExpect("first", "a.jsonl");

  // Another processor and another exporter: the receiver stays.
  Write("batch/slow", "file/b");
  ReloadOutcome outcome = service->Reload();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  for (const std::string& note : outcome.notes) {
    EXPECT_THAT(note, ::testing::Not(::testing::HasSubstr("receiver otlp"))) << note;
  }
  SendAndExpect("second", "b.jsonl");
  EXPECT_THAT(Slurp(dir_ + "/a.jsonl"), ::testing::Not(::testing::HasSubstr("second")));

  // The receiver's own settings changed: it is restarted, on its new port.
  port_ = FreePort();
  Write("batch", "file/a");
  outcome = service->Reload();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.notes, ::testing::Contains("receiver otlp restarted"));
  SendAndExpect("third", "a.jsonl");

  httplib::Client admin("127.0.0.1", service->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("tributary_config_reloads_total{result=\"success\"} 2"));
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("tributary_config_last_reload_successful 1"));
  service->Shutdown();
}

TEST_F(ReloadTest, UnchangedPipelinesRunOnWhileChangedOnesDrain) {
  const int other_port = FreePort();
  auto write = [&](const std::string& changing_exporters) {
    std::ofstream(dir_ + "/config.yaml")
        << "receivers:\n"
        << "  otlp:\n    protocols: {http: {endpoint: 127.0.0.1:" << port_ << "}}\n"
        << "  otlp/b:\n    protocols: {http: {endpoint: 127.0.0.1:" << other_port << "}}\n"
        << "processors:\n  batch:\n    timeout: 20ms\n"
        << "exporters:\n  file/a:\n    path: " << dir_ << "/a.jsonl\n  file/b:\n    path: " << dir_
        << "/b.jsonl\n  otlp/stuck:\n    endpoint: 127.0.0.1:" << FreePort()
        << "\n    tls: {insecure: true}\n"
        << "service:\n  shutdown_timeout: 8s\n"
        << "  admin:\n    endpoint: 127.0.0.1:0\n"
        << "  buffer:\n    directory: " << dir_ << "/buffer\n"
        << "  pipelines:\n"
        << "    logs/kept: {receivers: [otlp], processors: [batch], exporters: [file/a]}\n"
        << "    logs/changing: {receivers: [otlp/b], processors: [batch], exporters: ["
        << changing_exporters << "]}\n";
  };
  write("file/b, otlp/stuck");
  auto service = StartService();
  // otlp/stuck holds this record, retrying: draining its pipeline takes the
  // whole shutdown_timeout.
  SendAndExpect("stuck", "b.jsonl", other_port);
  SendAndExpect("before", "a.jsonl");

  write("file/b");
  std::atomic<bool> reloaded{false};
  ReloadOutcome outcome;
  std::thread reload([&] {
    outcome = service->Reload();
    reloaded = true;
  });
  // While the previous pipelines drain, the status API lists none.
  httplib::Client admin("127.0.0.1", service->admin_port());
  bool draining = false;
  for (int i = 0; i < 3000 && !draining && !reloaded; ++i) {
    auto status = admin.Get("/api/v1/status");
    draining = status && status->body.find("\"pipelines\":[]") != std::string::npos;
    if (!draining) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(draining);
  // The unchanged pipeline and its receiver keep delivering meanwhile.
  SendAndExpect("during", "a.jsonl");
  EXPECT_FALSE(reloaded) << "the changed pipeline drained before its stalled exporter gave up";
  reload.join();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.notes, ::testing::UnorderedElementsAre("pipeline logs/changing rebuilt",
                                                             "exporter otlp/stuck removed"));
  // The rebuilt pipeline hands its data to the exporter it kept.
  SendAndExpect("after", "b.jsonl", other_port);
  SendAndExpect("after", "a.jsonl");
  service->Shutdown();
}

TEST_F(ReloadTest, AConnectorIsKeptWithThePipelinesAroundIt) {
  auto write = [&](const std::string& logs_timeout, const std::string& metrics_timeout) {
    std::ofstream(dir_ + "/config.yaml")
        << "receivers:\n"
        << "  otlp:\n    protocols: {http: {endpoint: 127.0.0.1:" << port_ << "}}\n"
        << "processors:\n  batch/logs:\n    timeout: " << logs_timeout
        << "\n  batch/metrics:\n    timeout: " << metrics_timeout << "\n"
        << "connectors:\n  spanmetrics:\n    metrics_flush_interval: 100ms\n"
        << "exporters:\n  file/a:\n    path: " << dir_ << "/a.jsonl\n"
        << "  file/m:\n    path: " << dir_ << "/m.jsonl\n"
        << "service:\n  admin:\n    endpoint: 127.0.0.1:0\n"
        << "  pipelines:\n"
        << "    traces: {receivers: [otlp], exporters: [spanmetrics]}\n"
        << "    metrics: {receivers: [spanmetrics], processors: [batch/metrics], exporters: "
           "[file/m]}\n"
        << "    logs: {receivers: [otlp], processors: [batch/logs], exporters: [file/a]}\n";
  };
  auto send_span = [&](const std::string& expect) {
    httplib::Client client("127.0.0.1", port_);
    auto r = client.Post("/v1/traces",
                         R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":)"
                         R"("5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",)"
                         R"("name":"kept","kind":2,"startTimeUnixNano":"1000000",)"
                         R"("endTimeUnixNano":"2000000"}]}]}]})",
                         "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    for (int i = 0; i < 1000 && Slurp(dir_ + "/m.jsonl").find(expect) == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_NE(Slurp(dir_ + "/m.jsonl").find(expect), std::string::npos)
        << "spanmetrics never reported " << expect;
  };
  write("20ms", "20ms");
  auto service = StartService();
  send_span("\"asInt\":\"1\"");
  // Only the logs pipeline changed: spanmetrics and the pipelines around it
  // stay, and so does what it has counted.
  write("30ms", "20ms");
  ReloadOutcome outcome = service->Reload();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.notes, ::testing::ElementsAre("pipeline logs rebuilt"));
  send_span("\"asInt\":\"2\"");
  // The pipeline it emits into changed: it is rebuilt, and so is the one feeding it.
  write("30ms", "30ms");
  outcome = service->Reload();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_THAT(outcome.notes, ::testing::UnorderedElementsAre("pipeline traces rebuilt",
                                                             "pipeline metrics rebuilt"));
  SendAndExpect("still", "a.jsonl");
  service->Shutdown();
}

TEST_F(ReloadTest, AnInvalidFileKeepsTheRunningPipelines) {
  Write("batch", "file/a");
  auto service = StartService();
  httplib::Client admin("127.0.0.1", service->admin_port());
  // An unknown key, and a reference to a processor that does not exist.
  Write("batch, transform/none", "file/a", "  colour: blue\n");
  auto r = admin.Post("/-/reload", "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, ::testing::HasSubstr("config.yaml:"));
  EXPECT_THAT(r->body, ::testing::HasSubstr("service.colour"));
  EXPECT_THAT(r->body, ::testing::HasSubstr("transform/none"));
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("tributary_config_last_reload_successful 0"));
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("tributary_config_reloads_total{result=\"failure\"} 1"));
  SendAndExpect("still", "a.jsonl");

  // A restart-only setting is reported and not applied.
  Write("batch", "file/a", "");
  std::string text = Slurp(dir_ + "/config.yaml");
  text.replace(text.find("endpoint: 127.0.0.1:0"), 21, "endpoint: 127.0.0.1:1");
  std::ofstream(dir_ + "/config.yaml") << text;
  r = admin.Post("/-/reload", "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_THAT(r->body, ::testing::HasSubstr("service.admin.endpoint needs a restart"));
  EXPECT_EQ(admin.Get("/healthz")->status, 200);
  EXPECT_EQ(admin.Get("/-/reload")->status, 405);
  service->Shutdown();
}

TEST_F(ReloadTest, ARemovedExportersBacklogIsCountedAsDropped) {
  // Nothing listens where otlp/stuck sends: what it is given stays in the buffer.
  Write("batch", "file/a, otlp/stuck");
  auto service = StartService();
  SendAndExpect("stuck", "a.jsonl");
  Write("batch", "file/a");
  ReloadOutcome outcome = service->Reload();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status;
  httplib::Client admin("127.0.0.1", service->admin_port());
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr("tributary_dropped_records_total{component=\"otlp/stuck\","
                                   "reason=\"removed_by_reload\",signal=\"logs\"} 1"));
  // The series of the exporter that is gone have gone with it.
  ASSERT_TRUE(metrics);
  EXPECT_THAT(
      metrics->body,
      ::testing::Not(::testing::HasSubstr("tributary_queue_size{exporter=\"otlp/stuck\"}")));
  EXPECT_THAT(
      metrics->body,
      ::testing::Not(::testing::HasSubstr("tributary_buffer_records{exporter=\"otlp/stuck\"")));
  EXPECT_THAT(metrics->body, ::testing::HasSubstr("tributary_queue_size{exporter=\"file/a\"}"));
  service->Shutdown();
}

}  // namespace
}  // namespace tributary::core::runtime

namespace tributary::core::runtime {
namespace {

TEST_F(ReloadTest, TapShowsWhatPassesAndStatusCountsIt) {
  Write("batch", "file/a", "  admin:\n    endpoint: 127.0.0.1:0\n    tap: {max_concurrent: 1}\n");
  std::string text = Slurp(dir_ + "/config.yaml");
  // The second admin block replaces the first.
  text.erase(text.find("  admin:\n    endpoint: 127.0.0.1:0\n"), 35);
  std::ofstream(dir_ + "/config.yaml") << text;
  auto service = StartService();
  httplib::Client admin("127.0.0.1", service->admin_port());
  admin.set_read_timeout(30, 0);

  int tapped_status = 0;
  std::string tapped_body, tapped_type;
  std::thread tap([&] {
    httplib::Client c("127.0.0.1", service->admin_port());
    c.set_read_timeout(30, 0);
    auto r = c.Get("/api/v1/tap?component=batch&signal=logs&limit=1&duration=20s");
    if (!r) {
      ADD_FAILURE() << httplib::to_string(r.error());
      return;
    }
    tapped_status = r->status;
    tapped_body = r->body;
    tapped_type = r->get_header_value("Content-Type");
  });
  for (int i = 0; i < 1000; ++i) {
    if (admin.Get("/api/v1/status")->body.find("\"taps_open\":1,") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // One tap is allowed at once.
  auto second = admin.Get("/api/v1/tap?component=otlp&duration=100ms");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  SendAndExpect("tapped-record", "a.jsonl");
  tap.join();
  EXPECT_EQ(tapped_status, 200);
  EXPECT_THAT(tapped_body, ::testing::HasSubstr("\"stringValue\":\"tapped-record\""));
  EXPECT_EQ(tapped_type, "application/x-ndjson");

  auto unknown = admin.Get("/api/v1/tap?component=nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, ::testing::HasSubstr("known: batch, file/a, otlp"));
  auto wrong_signal = admin.Get("/api/v1/tap?component=otlp&signal=traces");
  ASSERT_TRUE(wrong_signal);
  EXPECT_EQ(wrong_signal->status, 404);
  EXPECT_EQ(admin.Get("/api/v1/tap?component=otlp&signal=spans")->status, 404);
  EXPECT_EQ(admin.Get("/api/v1/tap?limit=none")->status, 400);

  // The status API counts the record at every component within a sample.
  std::string status;
  for (int i = 0; i < 100; ++i) {
    status = admin.Get("/api/v1/status")->body;
    if (status.find("\"id\":\"file/a\",\"kind\":\"exporter\",\"in_per_second\"") !=
            std::string::npos &&
        status.find("\"out_total\":1,") != std::string::npos &&
        status.find("\"state\":\"ok\"") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(status, ::testing::HasSubstr("\"in_total\":1,"));
  EXPECT_THAT(status, ::testing::HasSubstr("\"id\":\"otlp\",\"kind\":\"receiver\""));
  EXPECT_THAT(status, ::testing::HasSubstr("\"state\":\"ok\""));
  EXPECT_THAT(status, ::testing::HasSubstr("\"queue\":{\"size\":0,\"capacity\":1000}"));
  EXPECT_THAT(admin.Get("/")->body, ::testing::HasSubstr("<title>Tributary status</title>"));
  EXPECT_THAT(admin.Get("/?format=text")->body,
              ::testing::HasSubstr("logs: receivers [otlp] processors [batch] exporters [file/a]"));
  service->Shutdown();
}

TEST_F(ReloadTest, AReloadDuringAReloadIsAnswered409) {
  // Removing otlp/stuck makes the reload wait for it (up to the 2s
  // shutdown_timeout), long enough to ask for a second one meanwhile.
  Write("batch", "file/a, otlp/stuck");
  auto service = StartService();
  SendAndExpect("stuck", "a.jsonl");
  Write("batch", "file/a");
  ReloadOutcome first;
  std::thread reload([&] { first = service->Reload(); });
  httplib::Client admin("127.0.0.1", service->admin_port());
  admin.set_read_timeout(30, 0);
  int second = 0;
  for (int i = 0; i < 1000 && second != 409; ++i) {
    auto r = admin.Post("/-/reload", "", "text/plain");
    second = r ? r->status : 0;
    if (second != 409) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reload.join();
  EXPECT_EQ(second, 409);
  EXPECT_TRUE(first.status.ok()) << first.status;
  service->Shutdown();
}

TEST_F(ReloadTest, StatusAnswersWithAThousandComponentsAndAStalledExporter) {
  std::string processors;
  std::string defs;
  for (int i = 0; i < 1000; ++i) {
    processors += (i ? ", " : "") + std::string("batch/") + std::to_string(i);
    defs += "  batch/" + std::to_string(i) + ":\n    send_batch_size: 1\n";
  }
  Write(processors, "file/a, otlp/stuck");
  std::string text = Slurp(dir_ + "/config.yaml");
  text.insert(text.find("processors:\n") + 12, defs);
  std::ofstream(dir_ + "/config.yaml") << text;
  auto service = StartService();
  SendAndExpect("through-a-thousand", "a.jsonl");
  httplib::Client admin("127.0.0.1", service->admin_port());
  admin.set_read_timeout(10, 0);
  // Asked until the stalled exporter has failed once (its first attempt
  // may come after the record reached file/a).
  auto status = admin.Get("/api/v1/status");
  for (int i = 0;
       i < 200 && status && status->body.find("\"state\":\"retrying\"") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = admin.Get("/api/v1/status");
  }
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  size_t components = 0;
  for (size_t at = 0; (at = status->body.find("\"kind\":", at)) != std::string::npos; ++at) {
    ++components;
  }
  EXPECT_EQ(components, 1003u);  // otlp, 1,000 processors, file/a, otlp/stuck
  EXPECT_THAT(status->body, ::testing::HasSubstr("\"id\":\"otlp/stuck\",\"kind\":\"exporter\""));
  EXPECT_THAT(status->body, ::testing::HasSubstr("\"state\":\"retrying\""));
  service->Shutdown();
}

TEST_F(ReloadTest, TheTapStreamsLinesAsTheyPassAndEndsWhenItsReaderGoes) {
  Write("batch", "file/a");
  auto service = StartService();
  httplib::Client admin("127.0.0.1", service->admin_port());
  auto taps_open = [&](int n) {
    auto status = admin.Get("/api/v1/status");
    return status &&
           status->body.find("\"taps_open\":" + std::to_string(n) + ",") != std::string::npos;
  };
  std::atomic<bool> seen{false};
  bool open_when_seen = false;
  std::thread tap([&] {
    httplib::Client c("127.0.0.1", service->admin_port());
    c.set_read_timeout(90, 0);
    std::string got;
    c.Get("/api/v1/tap?component=otlp&limit=1000&duration=60s", [&](const char* data, size_t n) {
      got.append(data, n);
      if (got.find("streamed-record") == std::string::npos) return true;
      // The line came while the tap was open, not when it ended.
      open_when_seen = taps_open(1);
      seen = true;
      return false;  // the reader goes
    });
  });
  for (int i = 0; i < 1000 && !taps_open(1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  SendAndExpect("streamed-record", "a.jsonl");
  tap.join();
  EXPECT_TRUE(seen);
  EXPECT_TRUE(open_when_seen);
  // Its reader gone, the tap closes long before its minute is up.
  bool closed = false;
  for (int i = 0; i < 300 && !(closed = taps_open(0)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(closed);
  service->Shutdown();
}

TEST(TapHubTest, AReaderThatFallsBehindIsCut) {
  TapLimits limits;
  limits.records_per_second = 1e9;
  limits.max_buffered_bytes = 4096;
  TapHub hub(limits);
  testing::RecordingConsumer next;
  TapPoint point(&hub, "p", TapPoint::Side::kOutput, Signal::kTraces, &next);
  // The reader is already far behind (its connection's buffers are full).
  std::atomic<size_t> backlog{1u << 20};
  size_t written = 0;
  absl::StatusOr<TapResult> result;
  std::thread reader([&] {
    TapRequest request;
    request.component = "p";
    request.limit = 1000000;
    request.duration = std::chrono::seconds(60);
    TapSink sink;
    sink.write = [&](std::string_view lines) {
      written += lines.size();
      return true;
    };
    sink.backlog = [&] { return backlog.load(); };
    result = hub.Tap(request, sink);
  });
  while (hub.open_taps() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 100000 && hub.open_taps() == 1; ++i) {
    Envelope e;
    e.batch = std::make_shared<Batch>(testing::MakeSpans(2));
    ASSERT_TRUE(point.Consume(std::move(e)).ok());
  }
  reader.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->cut);
  EXPECT_GT(result->count, 0u);
  // The pipeline was not held up: every batch went on.
  EXPECT_GT(next.records(), 0u);
  EXPECT_EQ(written, 0u);  // nothing more was heaped on it
}

TEST(AdminQueryTest, ReadsDecodedValues) {
  EXPECT_EQ(QueryValue("/api/v1/tap?component=otlp%2Fhttp&limit=5", "component"), "otlp/http");
  EXPECT_EQ(QueryValue("/api/v1/tap?component=otlp&limit=5", "limit"), "5");
  EXPECT_EQ(QueryValue("/api/v1/tap?component=otlp", "limit"), "");
  EXPECT_EQ(QueryValue("/api/v1/tap", "component"), "");
  TapRequest tap;
  EXPECT_TRUE(ParseTapQuery("/t?component=a&duration=1500ms&limit=3", &tap).ok());
  EXPECT_EQ(tap.duration, std::chrono::milliseconds(1500));
  EXPECT_EQ(tap.limit, 3u);
  EXPECT_FALSE(ParseTapQuery("/t?component=a&limit=0", &tap).ok());
  EXPECT_FALSE(ParseTapQuery("/t?component=a&duration=soon", &tap).ok());
  EXPECT_TRUE(absl::IsNotFound(ParseTapQuery("/t?component=a&signal=events", &tap)));
}

}  // namespace
}  // namespace tributary::core::runtime
