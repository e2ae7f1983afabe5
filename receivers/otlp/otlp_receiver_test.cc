#include "receivers/otlp/otlp_receiver.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <zlib.h>

#include <fstream>

#include "common/compress/gzip.h"
#include "common/compress/zstd.h"
#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tributary/core/memory_budget.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::receivers::otlp {
namespace {

using core::testing::MakeSpans;
using core::testing::MetricValue;
using core::testing::RecordingConsumer;

OtlpReceiverConfig ParseConfig(const std::string& yaml, core::ConfigErrors* errors) {
  OtlpReceiverConfig config;
  core::FieldReader::ReadStruct(YAML::Load(yaml), "test.yaml", "receivers.otlp", errors, config);
  return config;
}

TEST(OtlpReceiverConfigTest, ListedProtocolsAreOnAndTheOthersOff) {
  core::ConfigErrors errors;
  OtlpReceiverConfig both = ParseConfig("ack_timeout: 5s", &errors);
  EXPECT_TRUE(both.protocols.grpc.has_value());
  EXPECT_TRUE(both.protocols.http.has_value());

  OtlpReceiverConfig grpc_only = ParseConfig("protocols:\n  grpc:\n", &errors);
  ASSERT_TRUE(grpc_only.protocols.grpc.has_value());
  EXPECT_EQ(grpc_only.protocols.grpc->endpoint, "localhost:4317");
  EXPECT_FALSE(grpc_only.protocols.http.has_value());

  OtlpReceiverConfig http_only =
      ParseConfig("protocols:\n  http:\n    endpoint: 127.0.0.1:9999\n", &errors);
  EXPECT_FALSE(http_only.protocols.grpc.has_value());
  ASSERT_TRUE(http_only.protocols.http.has_value());
  EXPECT_EQ(http_only.protocols.http->endpoint, "127.0.0.1:9999");
  EXPECT_TRUE(errors.empty()) << errors.ToString();

  ParseConfig("protocols: {}\n", &errors);
  EXPECT_THAT(errors.ToString(), ::testing::HasSubstr("enable at least one of grpc, http"));
}

class OtlpReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OtlpReceiverConfig config;
    config.protocols.grpc->endpoint = "127.0.0.1:0";
    config.protocols.http->endpoint = "127.0.0.1:0";
    config.protocols.http->max_request_body_size = core::ByteSize{256 << 10};
    config.protocols.http->max_decompressed_body_size = core::ByteSize{1 << 20};
    config.ack_timeout = std::chrono::seconds(5);
    core::ReceiverConsumers consumers;
    consumers.traces = &traces_;
    consumers.logs = &logs_;
    receiver_ = std::make_unique<OtlpReceiver>("otlp/test", config, consumers);
    ASSERT_TRUE(receiver_->Start().ok());
    http_ = std::make_unique<httplib::Client>("127.0.0.1", receiver_->http_port());
  }
  void TearDown() override { receiver_->Shutdown(core::Clock::now() + std::chrono::seconds(2)); }

  httplib::Result PostProto(const std::string& body, const httplib::Headers& headers = {}) {
    return http_->Post("/v1/traces", headers, body, "application/x-protobuf");
  }
  // A valid request must still go through after each bad one.
  void ExpectStillServing() {
    size_t before = traces_.records();
    auto res = PostProto(MakeSpans(2).SerializeAsString());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(traces_.records(), before + 2);
  }
  static google::rpc::Status ErrorBody(const httplib::Result& res) {
    google::rpc::Status s;
    EXPECT_TRUE(s.ParseFromString(res->body)) << res->body;
    return s;
  }

  RecordingConsumer traces_;
  RecordingConsumer logs_;
  std::unique_ptr<OtlpReceiver> receiver_;
  std::unique_ptr<httplib::Client> http_;
};

TEST_F(OtlpReceiverTest, HttpProtobufAndJsonAreAccepted) {
  auto res = PostProto(MakeSpans(3).SerializeAsString());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/x-protobuf");
  auto json = http_->Post(
      "/v1/logs",
      R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"},"traceId":"5b8efff798038103d269b633813fc60c"}]}]}]})",
      "application/json");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200);
  EXPECT_EQ(json->body, "{}");
  EXPECT_EQ(traces_.records(), 3u);
  ASSERT_EQ(logs_.records(), 1u);
  EXPECT_EQ(
      logs_.batches()[0].logs().resource_logs(0).scope_logs(0).log_records(0).trace_id().size(),
      16u);
  EXPECT_EQ(MetricValue("tributary_receiver_accepted_records_total",
                        {{"receiver", "otlp/test"}, {"signal", "spans"}, {"transport", "http"}}),
            3);
}

TEST_F(OtlpReceiverTest, GzipBodyIsDecompressed) {
  auto res = PostProto(common::compress::Gzip(MakeSpans(4).SerializeAsString()),
                       {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(traces_.records(), 4u);
}

TEST_F(OtlpReceiverTest, ZstdBodyIsDecompressedAndABombIs413) {
  auto res = PostProto(common::compress::Zstd(MakeSpans(5).SerializeAsString()),
                       {{"Content-Encoding", "zstd"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(traces_.records(), 5u);
  // 2 MiB of zeros, over the 1 MiB decompressed limit.
  res =
      PostProto(common::compress::Zstd(std::string(2 << 20, '\0')), {{"Content-Encoding", "zstd"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  ExpectStillServing();
}

// The Collector's cors, response_headers and compression_algorithms keys.
TEST(OtlpReceiverHttpOptions, CorsResponseHeadersAndAcceptedEncodings) {
  RecordingConsumer traces;
  OtlpReceiverConfig config;
  config.protocols.grpc.reset();
  config.protocols.http->endpoint = "127.0.0.1:0";
  config.protocols.http->cors =
      CorsConfig{.allowed_origins = {"https://app.example.com", "https://*.corp.example"},
                 .allowed_headers = {"X-Tenant"},
                 .exposed_headers = {},
                 .max_age = 600};
  config.protocols.http->response_headers = {{"X-Served-By", "tributary"}};
  config.protocols.http->compression_algorithms = {"", "zstd"};
  core::ReceiverConsumers consumers;
  consumers.traces = &traces;
  OtlpReceiver receiver("otlp/cors", config, consumers);
  ASSERT_TRUE(receiver.Start().ok());
  httplib::Client http("127.0.0.1", receiver.http_port());

  // A preflight from an allowed origin, asking for an allowed header.
  auto pre =
      http.Options("/v1/traces", {{"Origin", "https://ui.corp.example"},
                                  {"Access-Control-Request-Method", "POST"},
                                  {"Access-Control-Request-Headers", "content-type, x-tenant"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://ui.corp.example");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Methods"), "POST");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "content-type, x-tenant");
  EXPECT_EQ(pre->get_header_value("Access-Control-Max-Age"), "600");
  // A header not allowed, and an origin not allowed: no permission given.
  pre = http.Options("/v1/traces", {{"Origin", "https://app.example.com"},
                                    {"Access-Control-Request-Headers", "x-secret"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "");
  pre = http.Options("/v1/traces", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(pre);
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Origin"));

  // The export itself carries the origin back, and the configured header.
  auto res = http.Post("/v1/traces", {{"Origin", "https://app.example.com"}},
                       MakeSpans(2).SerializeAsString(), "application/x-protobuf");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(res->get_header_value("X-Served-By"), "tributary");
  // gzip is not among the accepted encodings here.
  res =
      http.Post("/v1/traces", {{"Content-Encoding", "gzip"}},
                common::compress::Gzip(MakeSpans(1).SerializeAsString()), "application/x-protobuf");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  EXPECT_EQ(res->get_header_value("X-Served-By"), "tributary");
  EXPECT_EQ(traces.records(), 2u);
  receiver.Shutdown(core::Clock::now() + std::chrono::seconds(2));
}

TEST_F(OtlpReceiverTest, TruncatedProtobufIs400WithStatusBody) {
  std::string bytes = MakeSpans(3).SerializeAsString();
  auto res = PostProto(bytes.substr(0, bytes.size() - 7));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(ErrorBody(res).code(), 3);  // INVALID_ARGUMENT
  EXPECT_GE(MetricValue("tributary_receiver_failed_requests_total",
                        {{"receiver", "otlp/test"}, {"reason", "malformed"}}),
            1);
  ExpectStillServing();
}

TEST_F(OtlpReceiverTest, WrongContentTypeIs415) {
  auto res = http_->Post("/v1/traces", "hello", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  ExpectStillServing();
}

TEST_F(OtlpReceiverTest, InvalidJsonIs400WithJsonStatus) {
  auto res = http_->Post("/v1/traces", R"({"resourceSpans":[{)", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_THAT(res->body, ::testing::HasSubstr("\"code\":3"));
  ExpectStillServing();
}

TEST_F(OtlpReceiverTest, OversizedBodyIs413) {
  std::string big = MakeSpans(6000).SerializeAsString();
  ASSERT_GT(big.size(), 256u << 10);
  auto res = PostProto(big);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  ExpectStillServing();
}

TEST_F(OtlpReceiverTest, GzipBombBeyondTheLimitIs413) {
  // 64 MiB of zeros compress to about 64 KiB: under the wire limit, far over
  // the decompressed limit.
  std::string bomb =
      common::compress::Gzip(std::string(64 << 20, '\0'), common::compress::kGzipBest);
  ASSERT_LT(bomb.size(), 256u << 10);
  auto res = PostProto(bomb, {{"Content-Encoding", "gzip"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(ErrorBody(res).code(), 8);  // RESOURCE_EXHAUSTED
  EXPECT_GE(MetricValue("tributary_receiver_failed_requests_total",
                        {{"receiver", "otlp/test"}, {"reason", "too_large"}}),
            1);
  ExpectStillServing();
}

TEST_F(OtlpReceiverTest, BackpressureIsRetryable) {
  traces_.refuse_status = absl::ResourceExhaustedError("queue full");
  auto res = PostProto(MakeSpans(2).SerializeAsString());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  traces_.refuse_status = absl::OkStatus();
  traces_.ack_status = absl::UnavailableError("downstream down");
  res = PostProto(MakeSpans(2).SerializeAsString());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(MetricValue("tributary_receiver_refused_records_total",
                        {{"receiver", "otlp/test"}, {"reason", "backpressure"}}),
            2);
}

TEST_F(OtlpReceiverTest, PartialSuccessReportsRejectedSpans) {
  core::TracesRequest r = MakeSpans(5);
  r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(2)->set_span_id("bad");
  auto res = PostProto(r.SerializeAsString());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
  ASSERT_TRUE(response.ParseFromString(res->body));
  EXPECT_EQ(response.partial_success().rejected_spans(), 1);
  EXPECT_THAT(response.partial_success().error_message(), ::testing::HasSubstr("span_id"));
  EXPECT_EQ(traces_.records(), 4u);
}

// A protobuf request that passes unchanged keeps its bytes for the stages
// that take them (buffer, OTLP exporter); one the receiver changed, or JSON,
// does not.
TEST_F(OtlpReceiverTest, UnchangedProtobufRequestsKeepTheirBytes) {
  const std::string body = MakeSpans(3, "kept").SerializeAsString();
  ASSERT_EQ(PostProto(body)->status, 200);
  core::TracesRequest bad = MakeSpans(2);
  bad.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_span_id("bad");
  ASSERT_EQ(PostProto(bad.SerializeAsString())->status, 200);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", receiver_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(channel);
  grpc::ClientContext ctx;
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
  ASSERT_TRUE(stub->Export(&ctx, MakeSpans(4, "grpc"), &response).ok());
  auto json = http_->Post("/v1/traces", R"({"resourceSpans":[]})", "application/json");
  ASSERT_EQ(json->status, 200);

  const std::vector<core::Batch> got = traces_.batches();
  ASSERT_EQ(got.size(), 3u);
  ASSERT_NE(got[0].wire(), nullptr);
  EXPECT_EQ(*got[0].wire(), body);
  EXPECT_EQ(got[0].traces().SerializeAsString(), body);  // and the objects
  EXPECT_EQ(got[1].wire(), nullptr);                     // a span was removed
  EXPECT_EQ(got[1].record_count(), 1u);
  ASSERT_NE(got[2].wire(), nullptr);
  EXPECT_EQ(*got[2].wire(), MakeSpans(4, "grpc").SerializeAsString());
}

TEST_F(OtlpReceiverTest, SignalWithoutPipelineIs404) {
  auto res = http_->Post("/v1/metrics", "", "application/x-protobuf");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);  // empty request: nothing to refuse
  core::MetricsRequest m;
  auto* metric = m.add_resource_metrics()->add_scope_metrics()->add_metrics();
  metric->set_name("x");
  metric->mutable_gauge()->add_data_points()->set_as_int(1);
  res = http_->Post("/v1/metrics", m.SerializeAsString(), "application/x-protobuf");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(OtlpReceiverTest, GrpcAcceptsValidAndRejectsMalformed) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", receiver_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(channel);
  {
    grpc::ClientContext ctx;
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
    grpc::Status s = stub->Export(&ctx, MakeSpans(3), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(traces_.records(), 3u);
  // Raw bytes that are not a valid message.
  grpc::GenericStub generic(channel);
  std::string garbage = MakeSpans(3).SerializeAsString();
  garbage.resize(garbage.size() - 9);
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext ctx;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                    grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = s;
                      done = true;
                      cv.notify_all();
                    });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; }));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  lock.unlock();
  // Backpressure answers RESOURCE_EXHAUSTED.
  traces_.refuse_status = absl::ResourceExhaustedError("queue full");
  grpc::ClientContext ctx2;
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse r2;
  EXPECT_EQ(stub->Export(&ctx2, MakeSpans(1), &r2).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  traces_.refuse_status = absl::OkStatus();
  ExpectStillServing();
}

// Over the process's memory budget a request is refused with 429 and
// Retry-After before its body is read, or while it is decompressed; under it
// the same requests pass.
TEST_F(OtlpReceiverTest, RequestsBeyondTheMemoryBudgetGet429) {
  core::MemoryBudget& budget = core::MemoryBudget::Process();
  const std::map<std::string, std::string> labels = {{"receiver", "otlp/test"},
                                                     {"reason", "memory_budget"}};
  const double before = MetricValue("tributary_receiver_failed_requests_total", labels);
  const std::string body = MakeSpans(20).SerializeAsString();
  budget.SetLimit(body.size() / 2);
  auto res = PostProto(body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  EXPECT_EQ(ErrorBody(res).code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  // A small gzip body is admitted; what it decompresses to is not.
  const std::string big = MakeSpans(2000).SerializeAsString();
  const std::string compressed = common::compress::Gzip(big);
  budget.SetLimit(compressed.size() + 32768);
  res = http_->Post("/v1/traces", {{"Content-Encoding", "gzip"}}, compressed,
                    "application/x-protobuf");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(MetricValue("tributary_receiver_failed_requests_total", labels) - before, 2);
  // Nothing is held once the refused requests are gone.
  for (int i = 0; i < 500 && budget.used() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(budget.used(), 0u);
  budget.SetLimit(0);
  ExpectStillServing();
  res = http_->Post("/v1/traces", {{"Content-Encoding", "gzip"}}, compressed,
                    "application/x-protobuf");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// Keeps every envelope, unacknowledged, until Release().
class HoldingConsumer : public core::Consumer {
 public:
  absl::Status Consume(core::Envelope envelope) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(std::move(envelope));
    cv_.notify_all();
    return absl::OkStatus();
  }
  bool WaitForHeld(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return held_.size() >= n; });
  }
  void Release() {
    std::vector<core::Envelope> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(held_);
    }
    held.clear();  // the acknowledgements fire here, successful
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<core::Envelope> held_;
};

class OtlpReceiverWaitTest : public ::testing::Test {
 protected:
  void Start(int64_t max_concurrent, std::chrono::milliseconds ack_timeout) {
    OtlpReceiverConfig config;
    config.protocols.grpc->endpoint = "127.0.0.1:0";
    config.protocols.grpc->max_concurrent_requests = max_concurrent;
    config.protocols.http->endpoint = "127.0.0.1:0";
    config.protocols.http->max_concurrent_requests = max_concurrent;
    config.ack_timeout = ack_timeout;
    core::ReceiverConsumers consumers;
    consumers.traces = &traces_;
    consumers.logs = &logs_;
    // One id a test, so that its counts are its own.
    id_ = std::string("otlp/") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    receiver_ = std::make_unique<OtlpReceiver>(id_, config, consumers);
    ASSERT_TRUE(receiver_->Start().ok());
  }
  void TearDown() override {
    traces_.Release();
    if (receiver_) receiver_->Shutdown(core::Clock::now() + std::chrono::seconds(2));
  }
  httplib::Result Post(const std::string& path, const std::string& body) {
    httplib::Client client("127.0.0.1", receiver_->http_port());
    client.set_read_timeout(30, 0);
    return client.Post(path, body, "application/x-protobuf");
  }

  HoldingConsumer traces_;
  RecordingConsumer logs_;
  std::string id_;
  std::unique_ptr<OtlpReceiver> receiver_;
};

// Requests waiting for their acknowledgement hold no thread: with twenty
// of them waiting, another is answered at once.
TEST_F(OtlpReceiverWaitTest, WaitingRequestsHoldNoThread) {
  Start(1024, std::chrono::seconds(30));
  std::vector<std::thread> waiting;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    waiting.emplace_back([&] {
      auto res = Post("/v1/traces", MakeSpans(1).SerializeAsString());
      if (res && res->status == 200) ok.fetch_add(1);
    });
  }
  ASSERT_TRUE(traces_.WaitForHeld(20));
  core::LogsRequest two_logs;
  auto* scope = two_logs.add_resource_logs()->add_scope_logs();
  scope->add_log_records()->mutable_body()->set_string_value("one");
  scope->add_log_records()->mutable_body()->set_string_value("two");
  auto logs = Post("/v1/logs", two_logs.SerializeAsString());
  ASSERT_TRUE(logs);
  EXPECT_EQ(logs->status, 200);
  EXPECT_EQ(ok.load(), 0);
  traces_.Release();
  for (auto& t : waiting) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(MetricValue("tributary_receiver_accepted_records_total",
                        {{"receiver", id_}, {"transport", "http"}}),
            22);
}

// gRPC calls waiting for their acknowledgement hold no thread either: 64 of
// them add (almost) none to the process, and each is answered once its data
// is acknowledged, the last one at its ack_timeout.
TEST_F(OtlpReceiverWaitTest, WaitingGrpcCallsHoldNoThread) {
  Start(64, std::chrono::seconds(30));
  auto threads = [] {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    }
    return -1;
  };
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", receiver_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  const std::string bytes = MakeSpans(1).SerializeAsString();
  struct Call {
    grpc::ClientContext ctx;
    grpc::ByteBuffer request, response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  auto send = [&] {
    auto call = std::make_unique<Call>();
    grpc::Slice slice(bytes);
    call->request = grpc::ByteBuffer(&slice, 1);
    Call* c = call.get();
    generic.UnaryCall(&c->ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                      grpc::StubOptions(), &c->request, &c->response, [&, c](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        c->status = s;
                        ++answered;
                        cv.notify_all();
                      });
    calls.push_back(std::move(call));
  };
  send();  // warms gRPC's threads up
  ASSERT_TRUE(traces_.WaitForHeld(1));
  const int before = threads();
  for (int i = 1; i < 64; ++i) send();
  ASSERT_TRUE(traces_.WaitForHeld(64));
  const int during = threads();
  EXPECT_LE(during - before, 4) << "threads before " << before << ", with 64 calls waiting "
                                << during;
  // One more is over max_concurrent_requests.
  send();
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return answered == 1; }));
  }
  EXPECT_EQ(calls.back()->status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  traces_.Release();
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered == 65; }));
  for (int i = 0; i < 64; ++i)
    EXPECT_TRUE(calls[i]->status.ok()) << calls[i]->status.error_message();
  EXPECT_EQ(MetricValue("tributary_receiver_accepted_records_total",
                        {{"receiver", id_}, {"transport", "grpc"}}),
            64);
}

TEST_F(OtlpReceiverWaitTest, UnacknowledgedGrpcCallsAreAnsweredAtAckTimeout) {
  Start(1024, std::chrono::milliseconds(300));
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", receiver_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(channel);
  grpc::ClientContext ctx;
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
  grpc::Status s = stub->Export(&ctx, MakeSpans(2), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("did not acknowledge"));
  traces_.Release();
  EXPECT_EQ(MetricValue("tributary_receiver_refused_records_total",
                        {{"receiver", id_}, {"transport", "grpc"}, {"reason", "unavailable"}}),
            2);
}

TEST_F(OtlpReceiverWaitTest, RequestsBeyondMaxConcurrentRequestsGet503) {
  Start(1, std::chrono::seconds(30));
  std::thread first([&] {
    auto res = Post("/v1/traces", MakeSpans(1).SerializeAsString());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  });
  ASSERT_TRUE(traces_.WaitForHeld(1));
  auto second = Post("/v1/traces", MakeSpans(1).SerializeAsString());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  EXPECT_EQ(second->get_header_value("Retry-After"), "1");
  EXPECT_EQ(MetricValue("tributary_receiver_failed_requests_total",
                        {{"receiver", id_}, {"reason", "too_many_requests"}}),
            1);
  traces_.Release();
  first.join();
}

// At ack_timeout the request is answered with a retryable error and counted
// once; the acknowledgement that comes later changes nothing.
TEST_F(OtlpReceiverWaitTest, UnacknowledgedRequestsAreAnsweredAtAckTimeout) {
  Start(1024, std::chrono::milliseconds(300));
  auto res = Post("/v1/traces", MakeSpans(3).SerializeAsString());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->get_header_value("Retry-After"), "1");
  google::rpc::Status status;
  ASSERT_TRUE(status.ParseFromString(res->body));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("did not acknowledge"));
  traces_.Release();
  EXPECT_EQ(MetricValue("tributary_receiver_refused_records_total",
                        {{"receiver", id_}, {"reason", "unavailable"}}),
            3);
  EXPECT_EQ(MetricValue("tributary_receiver_accepted_records_total",
                        {{"receiver", id_}, {"transport", "http"}}),
            0);
}

}  // namespace
}  // namespace tributary::receivers::otlp
