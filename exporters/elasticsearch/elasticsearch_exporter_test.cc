#include "exporters/elasticsearch/elasticsearch_exporter.h"

#include <httplib.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "tributary/core/runtime/exporter_runner.h"
#include "tributary/core/testing/golden.h"
#include "tributary/core/testing/otlp_corpus.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::exporters::elasticsearch {
namespace {

using core::Batch;
using core::LogsRequest;

// A bulk API that stores documents by _id (create semantics: 409 when the
// id exists) and injects the faults a real cluster cannot be made to
// produce on demand. `per_item` decides an item's status from its body and
// the request number; `whole` may answer a request as a whole instead.
class BulkFaultServer {
 public:
  std::function<int(const nlohmann::json& source, int request)> per_item;
  std::function<bool(const httplib::Request&, httplib::Response&, int request)> whole;
  std::string item_padding;  // added to every item of a response

  BulkFaultServer() {
    server_.Post("/_bulk", [this](const httplib::Request& req, httplib::Response& res) {
      const int n = requests_++;
      {
        std::lock_guard lock(mu_);
        bodies_ += req.body;
      }
      if (whole && whole(req, res, n)) return;
      nlohmann::json items = nlohmann::json::array();
      bool errors = false;
      size_t pos = 0;
      while (pos < req.body.size()) {
        const size_t a = req.body.find('\n', pos);
        const size_t b = req.body.find('\n', a + 1);
        const auto action = nlohmann::json::parse(req.body.substr(pos, a - pos));
        const auto source = nlohmann::json::parse(req.body.substr(a + 1, b - a - 1));
        pos = b + 1;
        const std::string id = action["create"]["_id"];
        int status = per_item ? per_item(source, n) : 201;
        nlohmann::json item = {{"status", status}};
        {
          std::lock_guard lock(mu_);
          if (status == 201 && !docs_.emplace(id, source).second) status = 409;
        }
        item["status"] = status;
        if (status >= 300) {
          errors = true;
          item["error"] = {{"type", status == 400 ? "mapper_parsing_exception" : "es_rejected"},
                           {"reason", status == 400 ? "failed to parse field [x]" : "busy"}};
        }
        if (!item_padding.empty()) item["padding"] = item_padding;
        items.push_back({{"create", item}});
      }
      nlohmann::json body = {{"errors", errors}, {"items", items}};
      res.set_content(body.dump(), "application/json");
    });
    server_.Put(R"(/_index_template/(.*))",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::lock_guard lock(mu_);
                  templates_[req.matches[1]] = nlohmann::json::parse(req.body);
                  res.set_content("{\"acknowledged\":true}", "application/json");
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~BulkFaultServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::map<std::string, nlohmann::json> docs() {
    std::lock_guard lock(mu_);
    return docs_;
  }
  std::map<std::string, nlohmann::json> templates() {
    std::lock_guard lock(mu_);
    return templates_;
  }
  int requests() const { return requests_; }
  // Every bulk body received, in order.
  std::string bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::map<std::string, nlohmann::json> docs_;
  std::map<std::string, nlohmann::json> templates_;
  std::string bodies_;
};

LogsRequest MakeLogs(int n, const std::string& prefix = "line") {
  LogsRequest req;
  auto* rl = req.add_resource_logs();
  auto* kv = rl->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("svc");
  auto* sl = rl->add_scope_logs();
  for (int i = 0; i < n; ++i) {
    auto* rec = sl->add_log_records();
    rec->set_time_unix_nano(1764537600000000000ull + static_cast<uint64_t>(i));
    rec->mutable_body()->set_string_value(prefix + " " + std::to_string(i));
  }
  return req;
}

ElasticsearchConfig ConfigFor(const BulkFaultServer& server) {
  ElasticsearchConfig config;
  config.endpoints = {server.url()};
  config.max_documents = 50;
  return config;
}

std::set<std::string> Messages(const std::map<std::string, nlohmann::json>& docs) {
  std::set<std::string> out;
  for (const auto& [id, d] : docs) out.insert(d["message"].get<std::string>());
  return out;
}

using core::testing::ExportWithRetries;

// The bulk bodies the exporter writes for a corpus that uses every field, in
// both mappings, to data streams and to dated indices, from a batch of
// objects and from one of serialized bytes, are byte for byte the golden
// file (TRIBUTARY_UPDATE_GOLDEN=1 writes it instead).
TEST(ElasticsearchExporter, BulkBodiesAreTheGoldenFile) {
  core::testing::OtlpCorpus corpus(19);
  const LogsRequest logs = corpus.Logs(5, 3);
  const core::TracesRequest traces = corpus.Traces(5, 2);
  const std::string golden_path = TRIBUTARY_SOURCE_DIR "/tests/golden/elasticsearch_bulk.ndjson";
  std::string got;
  for (const char* mapping : {"ecs", "otel"}) {
    for (const bool dated : {false, true}) {
      BulkFaultServer server;
      ElasticsearchConfig config = ConfigFor(server);
      config.mapping.mode = mapping;
      config.max_documents = 5000;
      if (dated) {
        config.logs_index = "logs-app-%Y.%m.%d";
        config.traces_index = "spans-%Y-%m";
      }
      ElasticsearchExporter exporter(absl::StrCat("elasticsearch/golden_", mapping, dated), config);
      for (const Batch& batch : {Batch(logs), Batch(traces)}) {
        core::ExportReport report;
        ASSERT_TRUE(exporter.Export(batch, report).ok());
      }
      const std::string objects_body = server.bodies();
      for (const Batch& batch :
           {Batch(core::Signal::kLogs, logs.SerializeAsString(), core::CountRecords(logs)),
            Batch(core::Signal::kTraces, traces.SerializeAsString(), core::CountRecords(traces))}) {
        core::ExportReport report;
        ASSERT_TRUE(exporter.Export(batch, report).ok());
      }
      const std::string all = server.bodies();
      ASSERT_EQ(all.size(), 2 * objects_body.size());
      EXPECT_EQ(all.substr(objects_body.size()), objects_body) << mapping << " dated=" << dated;
      got += objects_body;
    }
  }
  core::testing::ExpectGolden(golden_path, got);
}

TEST(ElasticsearchExporter, IndexesEveryDocumentOnce) {
  BulkFaultServer server;
  ElasticsearchExporter exporter("elasticsearch/ok", ConfigFor(server));
  ASSERT_TRUE(exporter.Start().ok());
  const Batch batch(MakeLogs(120));
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(batch, report).ok());
  EXPECT_EQ(server.docs().size(), 120u);
  EXPECT_EQ(server.requests(), 3);  // 50 documents a request
  // The same batch again (a retry after a lost acknowledgement): no copies.
  core::ExportReport again;
  ASSERT_TRUE(exporter.Export(batch, again).ok());
  EXPECT_EQ(server.docs().size(), 120u);
  EXPECT_EQ(core::testing::MetricValue("tributary_elasticsearch_documents_duplicate_total",
                                       {{"exporter", "elasticsearch/ok"}}),
            120);
}

TEST(ElasticsearchExporter, RetriesOnlyRetryableItemsAndRejectsTheRest) {
  BulkFaultServer server;
  // In the first response, every 3rd document is refused with 429 and every
  // 7th with a mapping error (400); afterwards 429s succeed.
  server.per_item = [](const nlohmann::json& source, int request) {
    const int i = std::stoi(source["message"].get<std::string>().substr(5));
    if (i % 7 == 0) return 400;
    if (i % 3 == 0 && request == 0) return 429;
    if (i % 11 == 0 && request == 0) return 503;
    return 201;
  };
  ElasticsearchConfig config = ConfigFor(server);
  config.max_documents = 100;
  ElasticsearchExporter exporter("elasticsearch/items", config);
  const Batch batch(MakeLogs(100));
  core::ExportReport report;
  report.attempt = 0;
  absl::Status s = exporter.Export(batch, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  // The retry sends only what the first attempt handed back; the records
  // refused for good were reported with it.
  ASSERT_TRUE(report.retry.has_value());
  core::ExportReport retry_report;
  retry_report.attempt = 1;
  s = exporter.Export(*report.retry, retry_report);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(retry_report.rejected.has_value());
  EXPECT_EQ(server.requests(), 2);
  size_t expected = 0;
  std::set<std::string> rejected;
  for (int i = 0; i < 100; ++i) {
    if (i % 7 != 0) ++expected;
  }
  const auto docs = server.docs();
  EXPECT_EQ(docs.size(), expected);
  ASSERT_TRUE(report.rejected.has_value());
  EXPECT_EQ(report.rejected_records, 15u);
  for (const auto& rl : report.rejected->logs().resource_logs()) {
    EXPECT_EQ(rl.resource().attributes(0).value().string_value(), "svc");
    for (const auto& rec : rl.scope_logs(0).log_records())
      rejected.insert(rec.body().string_value());
  }
  EXPECT_EQ(rejected.size(), 15u);
  EXPECT_TRUE(rejected.count("line 0") && rejected.count("line 98"));
  EXPECT_NE(report.rejected_reason.find("mapper_parsing_exception"), std::string::npos);
  EXPECT_EQ(core::testing::MetricValue("tributary_elasticsearch_documents_failed_total",
                                       {{"exporter", "elasticsearch/items"},
                                        {"status", "400"},
                                        {"reason", "mapper_parsing_exception"}}),
            15);
}

TEST(ElasticsearchExporter, WholeRequest429HonoursRetryAfter) {
  BulkFaultServer server;
  server.whole = [](const httplib::Request&, httplib::Response& res, int request) {
    if (request != 0) return false;
    res.status = 429;
    res.set_header("Retry-After", "3");
    res.set_content("{\"error\":\"too many requests\"}", "application/json");
    return true;
  };
  ElasticsearchExporter exporter("elasticsearch/throttle", ConfigFor(server));
  const Batch batch(MakeLogs(120));
  core::ExportReport report;
  absl::Status s = exporter.Export(batch, report);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(report.retry_after, std::chrono::seconds(3));
  EXPECT_EQ(server.requests(), 1);  // no more requests once throttled
  ASSERT_TRUE(ExportWithRetries(exporter, batch, report).ok());
  EXPECT_EQ(server.docs().size(), 120u);
}

TEST(ElasticsearchExporter, TooLargeRequestsAreSplit) {
  BulkFaultServer server;
  server.whole = [](const httplib::Request& req, httplib::Response& res, int) {
    if (req.body.size() <= 4000) return false;
    res.status = 413;
    return true;
  };
  ElasticsearchConfig config = ConfigFor(server);
  config.max_documents = 100;
  ElasticsearchExporter exporter("elasticsearch/split", config);
  LogsRequest req = MakeLogs(60);
  // One document too large even alone.
  req.mutable_resource_logs(0)
      ->mutable_scope_logs(0)
      ->mutable_log_records(5)
      ->mutable_body()
      ->set_string_value("line 5 " + std::string(6000, 'x'));
  core::ExportReport report;
  ASSERT_TRUE(ExportWithRetries(exporter, Batch(req), report).ok());
  EXPECT_EQ(server.docs().size(), 59u);
  EXPECT_EQ(report.rejected_records, 1u);
}

TEST(ElasticsearchExporter, SlowResponsePastTheTimeoutMakesNoCopies) {
  BulkFaultServer server;
  std::atomic<bool> slow{true};
  server.whole = [&](const httplib::Request&, httplib::Response&, int) {
    // Indexes, but answers too late.
    if (slow.exchange(false)) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return false;
  };
  ElasticsearchConfig config = ConfigFor(server);
  config.timeout = std::chrono::milliseconds(500);
  ElasticsearchExporter exporter("elasticsearch/slow", config);
  const Batch batch(MakeLogs(40));
  core::ExportReport report;
  EXPECT_EQ(exporter.Export(batch, report).code(), absl::StatusCode::kUnavailable);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ASSERT_TRUE(ExportWithRetries(exporter, batch, report).ok());
  EXPECT_EQ(server.docs().size(), 40u);
  EXPECT_EQ(Messages(server.docs()).size(), 40u);
}

TEST(ElasticsearchExporter, HugeResponsesAreRead) {
  BulkFaultServer server;
  server.item_padding = std::string(20000, 'p');
  server.per_item = [](const nlohmann::json& source, int) {
    return source["message"].get<std::string>() == "line 3" ? 400 : 201;
  };
  ElasticsearchConfig config = ConfigFor(server);
  config.max_documents = 2000;
  ElasticsearchExporter exporter("elasticsearch/huge", config);
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(Batch(MakeLogs(2000)), report).ok());  // a 40 MB response
  EXPECT_EQ(server.docs().size(), 1999u);
  EXPECT_EQ(report.rejected_records, 1u);
}

TEST(ElasticsearchExporter, RejectedDocumentsReachTheDeadLetterFile) {
  BulkFaultServer server;
  server.per_item = [](const nlohmann::json& source, int request) {
    const int i = std::stoi(source["message"].get<std::string>().substr(5));
    if (i % 10 == 0) return 400;
    return request == 0 && i % 4 == 0 ? 429 : 201;
  };
  core::testing::TempDir dir;
  core::DeadLetterConfig dead_letter;
  dead_letter.path = dir.path() + "/dead.jsonl";
  core::RetryConfig retry;
  retry.initial_interval = std::chrono::milliseconds(10);
  core::runtime::ExporterRunner runner(
      "elasticsearch/dlq",
      std::make_unique<ElasticsearchExporter>("elasticsearch/dlq", ConfigFor(server)),
      core::QueueConfig{}, retry, dead_letter);
  ASSERT_TRUE(runner.Start().ok());
  std::promise<absl::Status> done;
  core::Envelope envelope;
  envelope.batch = std::make_shared<const Batch>(MakeLogs(100));
  envelope.acks.push_back(
      std::make_shared<core::Ack>([&](const absl::Status& s) { done.set_value(s); }));
  ASSERT_TRUE(runner.Consume(std::move(envelope)).ok());
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_TRUE(f.get().ok());
  runner.Shutdown(core::Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(server.docs().size(), 90u);
  std::ifstream in(dead_letter.path);
  std::string line, all;
  while (std::getline(in, line)) all += line + "\n";
  EXPECT_NE(all.find("mapper_parsing_exception"), std::string::npos) << all;
  for (int i = 0; i < 100; i += 10) {
    EXPECT_NE(all.find("\"line " + std::to_string(i) + "\""), std::string::npos) << i;
  }
  EXPECT_EQ(core::testing::MetricValue("tributary_dead_lettered_records_total",
                                       {{"exporter", "elasticsearch/dlq"}}),
            10);
  EXPECT_EQ(core::testing::MetricValue("tributary_exporter_sent_records_total",
                                       {{"exporter", "elasticsearch/dlq"}}),
            90);
}

TEST(ElasticsearchExporter, InstallsTemplates) {
  BulkFaultServer server;
  ElasticsearchConfig config = ConfigFor(server);
  config.install_templates = true;
  config.traces_index = "traces-x-%Y.%m.%d";
  ElasticsearchExporter exporter("elasticsearch/templates", config);
  ASSERT_TRUE(exporter.Start().ok());
  const auto t = server.templates();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.at("tributary-logs")["index_patterns"][0], "logs-*-*");
  EXPECT_TRUE(t.at("tributary-logs").contains("data_stream"));
  EXPECT_EQ(t.at("tributary-traces")["index_patterns"][0], "traces-x-*.*.*");
  EXPECT_FALSE(t.at("tributary-traces").contains("data_stream"));
  EXPECT_EQ(t.at("tributary-logs")["template"]["mappings"]["properties"]["@timestamp"]["type"],
            "date_nanos");
}

TEST(ElasticsearchExporter, ServerDownIsRetryable) {
  ElasticsearchConfig config;
  config.endpoints = {"http://127.0.0.1:1"};
  ElasticsearchExporter exporter("elasticsearch/down", config);
  core::ExportReport report;
  const absl::Status s = exporter.Export(Batch(MakeLogs(5)), report);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
}

TEST(ElasticsearchExporter, ConfigValidation) {
  ElasticsearchConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.mapping.mode = "raw";
  EXPECT_FALSE(config.Validate().ok());
  config.mapping.mode = "otel";
  config.api_key = "k";
  config.bearer_token = "t";
  EXPECT_FALSE(config.Validate().ok());
  config.bearer_token.clear();
  config.endpoints = {"localhost:9200"};
  EXPECT_FALSE(config.Validate().ok());
}

}  // namespace
}  // namespace tributary::exporters::elasticsearch
