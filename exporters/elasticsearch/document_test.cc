#include "exporters/elasticsearch/document.h"

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"

namespace tributary::exporters::elasticsearch {
namespace {

void Attr(google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>* attrs,
          const std::string& k, const std::string& v) {
  auto* kv = attrs->Add();
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

Resource K8sResource() {
  Resource r;
  Attr(r.mutable_attributes(), "service.name", "checkout");
  Attr(r.mutable_attributes(), "host.name", "node-1");
  Attr(r.mutable_attributes(), "k8s.namespace.name", "shop");
  Attr(r.mutable_attributes(), "k8s.pod.name", "checkout-7d9");
  Attr(r.mutable_attributes(), "k8s.pod.label.app", "checkout");
  Attr(r.mutable_attributes(), "k8s.pod.label.app.kubernetes.io/name", "checkout");
  Attr(r.mutable_attributes(), "cloud.region", "eu-west-1");
  return r;
}

LogRecord MakeLog() {
  LogRecord rec;
  rec.set_time_unix_nano(1764537600123456789ull);  // 2025-11-30T21:20:00.123456789Z
  rec.set_observed_time_unix_nano(1764537601000000000ull);
  rec.set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_WARN);
  rec.mutable_body()->set_string_value("disk \"almost\" full");
  rec.set_trace_id(std::string(16, '\x01'));
  rec.set_span_id(std::string(8, '\x02'));
  Attr(rec.mutable_attributes(), "http.method", "GET");
  auto* n = rec.add_attributes();
  n->set_key("retries");
  n->mutable_value()->set_int_value(3);
  return rec;
}

TEST(Document, TimestampsAreRfc3339WithNanoseconds) {
  const std::pair<uint64_t, const char*> cases[] = {
      {0, "\"1970-01-01T00:00:00.000000000Z\""},
      {951782400000000001ull, "\"2000-02-29T00:00:00.000000001Z\""},
      {1700000000123456789ull, "\"2023-11-14T22:13:20.123456789Z\""},
      {18446744073709551615ull, "\"2554-07-21T23:34:33.709551615Z\""},
  };
  for (const auto& [nanos, want] : cases) {
    std::string out = "x";
    AppendTimestamp(nanos, &out);
    EXPECT_EQ(out, std::string("x") + want);
  }
}

TEST(Document, EcsLogDocument) {
  InstrumentationScope scope;
  scope.set_name("app.logger");
  std::string out;
  const LogRecord rec = MakeLog();
  const std::string index = LogsIndex(K8sResource(), 0, IndexOptions{});
  EXPECT_EQ(index, "logs-generic-default");
  AppendLogDocument(MappingMode::kEcs, K8sResource(), scope, rec, index, &out);
  const auto doc = nlohmann::json::parse(out);
  EXPECT_EQ(doc["@timestamp"], "2025-11-30T21:20:00.123456789Z");
  EXPECT_EQ(doc["message"], "disk \"almost\" full");
  EXPECT_EQ(doc["log.level"], "WARN");
  EXPECT_EQ(doc["service.name"], "checkout");
  EXPECT_EQ(doc["host.name"], "node-1");
  EXPECT_EQ(doc["kubernetes.namespace"], "shop");
  EXPECT_EQ(doc["kubernetes.pod.name"], "checkout-7d9");
  // Both labels, as two fields: no value and object at one path.
  EXPECT_EQ(doc["kubernetes.labels"]["app"], "checkout");
  EXPECT_EQ(doc["kubernetes.labels"]["app_kubernetes_io/name"], "checkout");
  EXPECT_EQ(doc["trace.id"], "01010101010101010101010101010101");
  EXPECT_EQ(doc["span.id"], "0202020202020202");
  EXPECT_EQ(doc["attributes"]["http_method"], "GET");
  EXPECT_EQ(doc["attributes"]["retries"], 3);
  EXPECT_EQ(doc["resource.attributes"]["cloud_region"], "eu-west-1");
  EXPECT_EQ(doc["log.logger"], "app.logger");
  EXPECT_EQ(doc["data_stream.type"], "logs");
  EXPECT_EQ(doc["data_stream.dataset"], "generic");
  EXPECT_EQ(doc["data_stream.namespace"], "default");
}

TEST(Document, OtelSpanDocument) {
  Span span;
  span.set_trace_id(std::string(16, '\xab'));
  span.set_span_id(std::string(8, '\xcd'));
  span.set_parent_span_id(std::string(8, '\xef'));
  span.set_name("GET /cart");
  span.set_kind(Span::SPAN_KIND_SERVER);
  span.set_start_time_unix_nano(1000000000ull);
  span.set_end_time_unix_nano(1250000000ull);
  span.mutable_status()->set_code(opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  span.mutable_status()->set_message("boom");
  auto* e = span.add_events();
  e->set_name("exception");
  e->set_time_unix_nano(1100000000ull);
  InstrumentationScope scope;
  scope.set_name("http");
  scope.set_version("1.2");
  std::string out;
  AppendSpanDocument(MappingMode::kOtel, K8sResource(), scope, span, "traces-generic-default",
                     &out);
  const auto doc = nlohmann::json::parse(out);
  EXPECT_EQ(doc["@timestamp"], "1970-01-01T00:00:01.000000000Z");
  EXPECT_EQ(doc["end_timestamp"], "1970-01-01T00:00:01.250000000Z");
  EXPECT_EQ(doc["duration"], 250000000);
  EXPECT_EQ(doc["trace_id"], "abababababababababababababababab");
  EXPECT_EQ(doc["parent_span_id"], "efefefefefefefef");
  EXPECT_EQ(doc["kind"], "SERVER");
  EXPECT_EQ(doc["status"]["code"], "Error");
  EXPECT_EQ(doc["status"]["message"], "boom");
  EXPECT_EQ(doc["events"][0]["name"], "exception");
  EXPECT_EQ(doc["resource"]["attributes"]["service_name"], "checkout");
  EXPECT_EQ(doc["scope"]["version"], "1.2");
  EXPECT_EQ(doc["data_stream.type"], "traces");

  std::string ecs;
  AppendSpanDocument(MappingMode::kEcs, K8sResource(), scope, span, "traces-generic-default", &ecs);
  const auto e2 = nlohmann::json::parse(ecs);
  EXPECT_EQ(e2["span.name"], "GET /cart");
  EXPECT_EQ(e2["event.outcome"], "failure");
  EXPECT_EQ(e2["event.duration"], 250000000);
  EXPECT_EQ(e2["parent.id"], "efefefefefefefef");
  EXPECT_EQ(SpanDocumentId(span),
            "abababababababababababababababab"
            "cdcdcdcdcdcdcdcd");
}

TEST(Document, NonStringBodiesAndOddValuesStayValidJson) {
  LogRecord rec = MakeLog();
  auto* kv = rec.mutable_body()->mutable_kvlist_value()->add_values();
  kv->set_key("a.b");
  kv->mutable_value()->set_double_value(std::nan(""));
  Attr(rec.mutable_attributes(), "bad\xff", "\x01\xfe");
  std::string out;
  AppendLogDocument(MappingMode::kEcs, Resource(), InstrumentationScope(), rec,
                    "logs-generic-default", &out);
  const auto doc = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << out;
  EXPECT_EQ(doc["message"], "{\"a_b\":\"NaN\"}");
  std::string otel;
  AppendLogDocument(MappingMode::kOtel, Resource(), InstrumentationScope(), rec,
                    "logs-generic-default", &otel);
  EXPECT_FALSE(nlohmann::json::parse(otel, nullptr, false).is_discarded()) << otel;
}

TEST(Document, IdsIgnoreObservedTimeButNotContent) {
  const Resource res = K8sResource();
  const uint64_t origin = OriginHash(res, InstrumentationScope());
  LogRecord a = MakeLog();
  LogRecord b = a;
  b.set_observed_time_unix_nano(a.observed_time_unix_nano() + 5);
  EXPECT_EQ(LogDocumentId(origin, a), LogDocumentId(origin, b));
  EXPECT_EQ(LogDocumentId(origin, a).size(), 32u);
  b.mutable_body()->set_string_value("other");
  EXPECT_NE(LogDocumentId(origin, a), LogDocumentId(origin, b));
  Resource other = res;
  other.mutable_attributes(0)->mutable_value()->set_string_value("cart");
  EXPECT_NE(LogDocumentId(OriginHash(other, InstrumentationScope()), a), LogDocumentId(origin, a));
}

TEST(Document, IndexNames) {
  Resource r;
  Attr(r.mutable_attributes(), "data_stream.dataset", "Nginx-Access");
  IndexOptions o;
  o.ns = "prod";
  EXPECT_EQ(LogsIndex(r, 0, o), "logs-nginx_access-prod");
  EXPECT_EQ(TracesIndex(Resource(), 0, o), "traces-generic-prod");
  o.logs_index = "logs-tributary-%Y.%m.%d";
  EXPECT_EQ(LogsIndex(r, 1764537600123456789ull, o), "logs-tributary-2025.11.30");
  EXPECT_EQ(FieldName("app.kubernetes.io/name"), "app_kubernetes_io/name");
}

}  // namespace
}  // namespace tributary::exporters::elasticsearch
