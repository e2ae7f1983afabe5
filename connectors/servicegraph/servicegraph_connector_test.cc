#include "connectors/servicegraph/servicegraph_connector.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/config.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::connectors::servicegraph {
namespace {

using core::testing::MetricValue;
using opentelemetry::proto::trace::v1::Span;
using ::testing::HasSubstr;

constexpr uint64_t kStart = 1700000000000000000ull;
constexpr uint64_t kMs = 1000000;

struct SpanSpec {
  std::string service;
  int kind;
  std::string span_id;    // one character, repeated
  std::string parent_id;  // empty: a root span
  uint64_t duration_ms;
  bool error = false;
  std::map<std::string, std::string> attributes = {};
};

// One request holding each span under its own resource.
core::Envelope Spans(const std::string& trace, const std::vector<SpanSpec>& specs) {
  core::TracesRequest request;
  for (const SpanSpec& spec : specs) {
    auto* rs = request.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(spec.service);
    Span* s = rs->add_scope_spans()->add_spans();
    s->set_trace_id(std::string(16, trace[0]));
    s->set_span_id(std::string(8, spec.span_id[0]));
    if (!spec.parent_id.empty()) s->set_parent_span_id(std::string(8, spec.parent_id[0]));
    s->set_kind(static_cast<Span::SpanKind>(spec.kind));
    s->set_name("op");
    s->set_start_time_unix_nano(kStart);
    s->set_end_time_unix_nano(kStart + spec.duration_ms * kMs);
    if (spec.error) {
      s->mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
    }
    for (const auto& [k, v] : spec.attributes) {
      auto* a = s->add_attributes();
      a->set_key(k);
      a->mutable_value()->set_string_value(v);
    }
  }
  return core::Envelope{std::make_shared<const core::Batch>(std::move(request)), {}};
}

std::string Attr(const google::protobuf::RepeatedPtrField<
                     opentelemetry::proto::common::v1::KeyValue>& attributes,
                 const std::string& key) {
  for (const auto& kv : attributes) {
    if (kv.key() == key) return kv.value().string_value();
  }
  return "<absent>";
}

struct EdgeCounts {
  int64_t requests = 0, failed = 0;
  uint64_t server_count = 0, client_count = 0;
  double server_sum = 0, client_sum = 0;
  bool operator==(const EdgeCounts&) const = default;
};

class ServiceGraphTest : public ::testing::Test {
 protected:
  std::unique_ptr<ServiceGraphConnector> Make(ServiceGraphConfig config = {}) {
    EXPECT_TRUE(config.Validate().ok()) << config.Validate();
    return std::make_unique<ServiceGraphConnector>("servicegraph/test", std::move(config), &out_,
                                                   "instance-1", [this] { return now_; });
  }
  // The last flush's edges by "client->server (connection_type)".
  std::map<std::string, EdgeCounts> Edges() {
    std::map<std::string, EdgeCounts> out;
    std::vector<core::Batch> batches = out_.batches();
    if (batches.empty()) return out;
    const auto& scope = batches.back().metrics().resource_metrics(0).scope_metrics(0);
    EXPECT_EQ(scope.scope().name(), "traces_service_graph");
    for (const auto& m : scope.metrics()) {
      auto name = [](const auto& p) {
        EXPECT_EQ(Attr(p.attributes(), "collector.instance.id"), "instance-1");
        return Attr(p.attributes(), "client") + "->" + Attr(p.attributes(), "server") + " (" +
               Attr(p.attributes(), "connection_type") + ")";
      };
      if (m.name() == "traces_service_graph_request_total") {
        for (const auto& p : m.sum().data_points()) out[name(p)].requests = p.as_int();
      } else if (m.name() == "traces_service_graph_request_failed_total") {
        for (const auto& p : m.sum().data_points()) out[name(p)].failed = p.as_int();
      } else if (m.name() == "traces_service_graph_request_server_seconds") {
        EXPECT_EQ(m.unit(), "s");
        for (const auto& p : m.histogram().data_points()) {
          out[name(p)].server_count = p.count();
          out[name(p)].server_sum = p.sum();
        }
      } else if (m.name() == "traces_service_graph_request_client_seconds") {
        for (const auto& p : m.histogram().data_points()) {
          out[name(p)].client_count = p.count();
          out[name(p)].client_sum = p.sum();
        }
      } else {
        ADD_FAILURE() << "unexpected metric " << m.name();
      }
    }
    return out;
  }

  core::testing::RecordingConsumer out_;
  uint64_t now_ = kStart + 60000 * kMs;
};

TEST_F(ServiceGraphTest, PairsClientAndServerSpansInEitherOrder) {
  auto c = Make();
  ASSERT_TRUE(c->Consume(Spans("a", {{"frontend", Span::SPAN_KIND_CLIENT, "1", "0", 30},
                                     {"backend", Span::SPAN_KIND_SERVER, "2", "1", 20}}))
                  .ok());
  // The server span of the next call comes first, in its own request.
  ASSERT_TRUE(
      c->Consume(Spans("b", {{"backend", Span::SPAN_KIND_SERVER, "2", "1", 10, true}})).ok());
  EXPECT_EQ(c->waiting(), 1u);
  ASSERT_TRUE(c->Consume(Spans("b", {{"frontend", Span::SPAN_KIND_CLIENT, "1", "0", 15}})).ok());
  EXPECT_EQ(c->waiting(), 0u);
  ASSERT_TRUE(c->Flush().ok());
  auto edges = Edges();
  ASSERT_EQ(edges.size(), 1u);
  const EdgeCounts& e = edges["frontend->backend ()"];
  EXPECT_EQ(e.requests, 2);
  EXPECT_EQ(e.failed, 1);
  EXPECT_EQ(e.server_count, 2u);
  EXPECT_EQ(e.client_count, 2u);
  EXPECT_DOUBLE_EQ(e.server_sum, 0.030);
  EXPECT_DOUBLE_EQ(e.client_sum, 0.045);
}

TEST_F(ServiceGraphTest, MessagingDatabaseAndVirtualNodes) {
  auto c = Make();
  const double unpaired_before =
      MetricValue("tributary_connector_unpaired_spans_total", {{"connector", "servicegraph/test"}});
  ASSERT_TRUE(c->Consume(Spans("m", {{"orders", Span::SPAN_KIND_PRODUCER, "1", "0", 2},
                                     {"billing", Span::SPAN_KIND_CONSUMER, "2", "1", 5}}))
                  .ok());
  // A database name makes an edge at once.
  ASSERT_TRUE(c->Consume(Spans("d", {{"backend",
                                      Span::SPAN_KIND_CLIENT,
                                      "3",
                                      "2",
                                      4,
                                      false,
                                      {{"db.name", "prices"}, {"db.system", "sqlite"}}}}))
                  .ok());
  // db.system alone names a virtual node once the wait runs out; so does
  // peer.service, which comes first.
  ASSERT_TRUE(
      c
          ->Consume(Spans(
              "s",
              {{"backend", Span::SPAN_KIND_CLIENT, "3", "2", 1, false, {{"db.system", "sqlite"}}},
               {"backend",
                Span::SPAN_KIND_CLIENT,
                "4",
                "2",
                1,
                true,
                {{"db.system", "redis"}, {"peer.service", "cache"}}}}))
          .ok());
  // A root server span: a request from outside tracing, an edge at once.
  const double edges_before =
      MetricValue("tributary_connector_edges_total", {{"connector", "servicegraph/test"}});
  ASSERT_TRUE(c->Consume(Spans("r", {{"frontend", Span::SPAN_KIND_SERVER, "5", "", 7}})).ok());
  EXPECT_EQ(edges_before + 1,
            MetricValue("tributary_connector_edges_total", {{"connector", "servicegraph/test"}}));
  // Neither side can be named: unpaired.
  ASSERT_TRUE(c->Consume(Spans("u", {{"frontend", Span::SPAN_KIND_CLIENT, "6", "5", 1},
                                     {"backend", Span::SPAN_KIND_SERVER, "7", "9", 1},
                                     {"backend", Span::SPAN_KIND_INTERNAL, "8", "7", 1}}))
                  .ok());
  EXPECT_EQ(c->waiting(), 4u);
  c->Expire();
  EXPECT_EQ(c->waiting(), 4u);  // not yet
  now_ += 2001 * kMs;
  c->Expire();
  EXPECT_EQ(c->waiting(), 0u);
  ASSERT_TRUE(c->Flush().ok());
  auto edges = Edges();
  EXPECT_EQ(edges.size(), 5u);
  EXPECT_EQ(edges["orders->billing (messaging_system)"].requests, 1);
  EXPECT_EQ(edges["backend->prices (database)"].requests, 1);
  EXPECT_DOUBLE_EQ(edges["backend->prices (database)"].server_sum, 0.004);
  EXPECT_EQ(edges["backend->sqlite (virtual_node)"].requests, 1);
  EXPECT_EQ(edges["backend->cache (virtual_node)"].failed, 1);
  EXPECT_EQ(edges["user->frontend (virtual_node)"].requests, 1);
  EXPECT_EQ(
      MetricValue("tributary_connector_unpaired_spans_total", {{"connector", "servicegraph/test"}}),
      unpaired_before + 2);
}

TEST_F(ServiceGraphTest, AFullStoreDropsAndCountsTheSpan) {
  ServiceGraphConfig config;
  config.store.max_items = 2;
  auto c = Make(config);
  const double before =
      MetricValue("tributary_connector_dropped_spans_total", {{"connector", "servicegraph/test"}});
  ASSERT_TRUE(c->Consume(Spans("a", {{"f", Span::SPAN_KIND_CLIENT, "1", "0", 1},
                                     {"f", Span::SPAN_KIND_CLIENT, "2", "0", 1},
                                     {"f", Span::SPAN_KIND_CLIENT, "3", "0", 1},
                                     // Its partner waits: it completes an edge.
                                     {"b", Span::SPAN_KIND_SERVER, "4", "1", 1}}))
                  .ok());
  EXPECT_EQ(c->waiting(), 1u);
  EXPECT_EQ(
      MetricValue("tributary_connector_dropped_spans_total", {{"connector", "servicegraph/test"}}),
      before + 1);
  ASSERT_TRUE(c->Flush().ok());
  EXPECT_EQ(Edges()["f->b ()"].requests, 1);
}

TEST_F(ServiceGraphTest, DimensionsComeFromEachSide) {
  ServiceGraphConfig config;
  config.dimensions = {"region"};
  config.virtual_node_extra_label = true;
  auto c = Make(config);
  ASSERT_TRUE(
      c
          ->Consume(Spans(
              "a", {{"f", Span::SPAN_KIND_CLIENT, "1", "0", 1, false, {{"region", "eu"}}},
                    {"b", Span::SPAN_KIND_SERVER, "2", "1", 1, false, {{"region", "us"}}},
                    {"b", Span::SPAN_KIND_CLIENT, "3", "2", 1, false, {{"db.system", "sqlite"}}}}))
          .ok());
  now_ += 10000 * kMs;
  c->Expire();
  ASSERT_TRUE(c->Flush().ok());
  std::vector<core::Batch> batches = out_.batches();
  const auto& scope = batches.back().metrics().resource_metrics(0).scope_metrics(0);
  std::set<std::string> seen;
  for (const auto& p : scope.metrics(0).sum().data_points()) {
    seen.insert(Attr(p.attributes(), "client_region") + "/" +
                Attr(p.attributes(), "server_region") + "/" + Attr(p.attributes(), "virtual_node"));
  }
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre("eu/us/<absent>", "<absent>/<absent>/server"));
}

TEST_F(ServiceGraphTest, ShutdownSettlesWaitingSpansAndEmits) {
  ServiceGraphConfig config;
  config.metrics_flush_interval = std::chrono::hours(1);
  auto c = Make(config);
  ASSERT_TRUE(c->Start().ok());
  ASSERT_TRUE(
      c
          ->Consume(Spans(
              "a", {{"b", Span::SPAN_KIND_CLIENT, "1", "0", 1, false, {{"db.system", "sqlite"}}}}))
          .ok());
  c->Shutdown(core::Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(Edges()["b->sqlite (virtual_node)"].requests, 1);
}

std::string ConfigErrors(const std::string& yaml) {
  core::ConfigErrors errors;
  ServiceGraphConfig config;
  core::FieldReader::ReadStruct(YAML::Load(yaml), "c.yaml", "connectors.servicegraph", &errors,
                                config);
  return errors.ToString();
}

TEST(ServiceGraphConfigTest, ReadsTheCollectorsKeysAndRefusesBadValues) {
  EXPECT_EQ(ConfigErrors("latency_histogram_buckets: [1ms, 10ms]\ndimensions: [region]\n"
                         "store: {ttl: 5s, max_items: 5000}\nvirtual_node_peer_attributes: "
                         "[peer.service]\nmetrics_flush_interval: 10s\n"),
            "");
  EXPECT_THAT(ConfigErrors("latency_histogram_buckets: [10ms, 1ms]"),
              HasSubstr("latency_histogram_buckets must be ascending"));
  EXPECT_THAT(ConfigErrors("store: {max_items: 0}"),
              HasSubstr("store.max_items must be at least 1"));
  EXPECT_THAT(ConfigErrors("store: {ttl: 0s}"), HasSubstr("store.ttl must be positive"));
  EXPECT_THAT(ConfigErrors("dimensions: [a, a]"), HasSubstr("dimensions[1]: 'a' is listed twice"));
  EXPECT_THAT(ConfigErrors("cache_loop: 1m"),
              HasSubstr("connectors.servicegraph.cache_loop: unknown key"));
}

}  // namespace
}  // namespace tributary::connectors::servicegraph
