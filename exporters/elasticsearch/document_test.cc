#include "exporters/elasticsearch/document.h"

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"

namespace tributary::exporters::elasticsearch {
namespace {

using opentelemetry::proto::common::v1::InstrumentationScope;
using opentelemetry::proto::logs::v1::LogRecord;
using opentelemetry::proto::resource::v1::Resource;
using opentelemetry::proto::trace::v1::Span;

// A resource and scope serialized, as the views over them need.
class SerializedOrigin {
 public:
  SerializedOrigin(const Resource& resource, const InstrumentationScope& scope)
      : resource_(resource.SerializeAsString()), scope_(scope.SerializeAsString()) {
    origin_.resource.Add(resource_);
    origin_.scope.Add(scope_);
    EXPECT_TRUE(CompleteOrigin(&origin_));
  }
  const Origin& get() const { return origin_; }

 private:
  const std::string resource_, scope_;
  Origin origin_;
};

std::string LogDocument(MappingMode mode, const Resource& resource,
                        const InstrumentationScope& scope, const LogRecord& record,
                        const std::string& index) {
  const SerializedOrigin origin(resource, scope);
  const std::string bytes = record.SerializeAsString();
  LogView view;
  EXPECT_TRUE(ReadLog(bytes, &view));
  std::string out;
  EXPECT_TRUE(AppendLogDocument(mode, origin.get(), view, index, &out));
  return out;
}

std::string SpanDocument(MappingMode mode, const Resource& resource,
                         const InstrumentationScope& scope, const Span& span,
                         const std::string& index) {
  const SerializedOrigin origin(resource, scope);
  const std::string bytes = span.SerializeAsString();
  SpanView view;
  EXPECT_TRUE(ReadSpan(bytes, &view));
  std::string out;
  EXPECT_TRUE(AppendSpanDocument(mode, origin.get(), view, index, &out));
  return out;
}

std::string LogId(const Resource& resource, const LogRecord& record) {
  const SerializedOrigin origin(resource, InstrumentationScope());
  const std::string bytes = record.SerializeAsString();
  LogView view;
  EXPECT_TRUE(ReadLog(bytes, &view));
  return LogDocumentId(origin.get(), view);
}

std::string LogsIndexOf(const Resource& resource, uint64_t time, const IndexOptions& o) {
  return LogsIndex(SerializedOrigin(resource, InstrumentationScope()).get(), time, o);
}

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
  const LogRecord rec = MakeLog();
  const std::string index = LogsIndexOf(K8sResource(), 0, IndexOptions{});
  EXPECT_EQ(index, "logs-generic-default");
  const std::string out = LogDocument(MappingMode::kEcs, K8sResource(), scope, rec, index);
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
  const std::string out =
      SpanDocument(MappingMode::kOtel, K8sResource(), scope, span, "traces-generic-default");
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

  const std::string ecs =
      SpanDocument(MappingMode::kEcs, K8sResource(), scope, span, "traces-generic-default");
  const auto e2 = nlohmann::json::parse(ecs);
  EXPECT_EQ(e2["span.name"], "GET /cart");
  EXPECT_EQ(e2["event.outcome"], "failure");
  EXPECT_EQ(e2["event.duration"], 250000000);
  EXPECT_EQ(e2["parent.id"], "efefefefefefefef");
  const std::string bytes = span.SerializeAsString();
  SpanView view;
  ASSERT_TRUE(ReadSpan(bytes, &view));
  EXPECT_EQ(SpanDocumentId(view),
            "abababababababababababababababab"
            "cdcdcdcdcdcdcdcd");
}

TEST(Document, NonStringBodiesAndOddValuesStayValidJson) {
  LogRecord rec = MakeLog();
  auto* kv = rec.mutable_body()->mutable_kvlist_value()->add_values();
  kv->set_key("a.b");
  kv->mutable_value()->set_double_value(std::nan(""));
  Attr(rec.mutable_attributes(), "bad\xff", "\x01\xfe");
  const std::string out = LogDocument(MappingMode::kEcs, Resource(), InstrumentationScope(), rec,
                                      "logs-generic-default");
  const auto doc = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << out;
  EXPECT_EQ(doc["message"], "{\"a_b\":\"NaN\"}");
  const std::string otel = LogDocument(MappingMode::kOtel, Resource(), InstrumentationScope(), rec,
                                       "logs-generic-default");
  EXPECT_FALSE(nlohmann::json::parse(otel, nullptr, false).is_discarded()) << otel;
}

TEST(Document, IdsIgnoreObservedTimeButNotContent) {
  const Resource res = K8sResource();
  LogRecord a = MakeLog();
  LogRecord b = a;
  b.set_observed_time_unix_nano(a.observed_time_unix_nano() + 5);
  EXPECT_EQ(LogId(res, a), LogId(res, b));
  EXPECT_EQ(LogId(res, a).size(), 32u);
  b.mutable_body()->set_string_value("other");
  EXPECT_NE(LogId(res, a), LogId(res, b));
  Resource other = res;
  other.mutable_attributes(0)->mutable_value()->set_string_value("cart");
  EXPECT_NE(LogId(other, a), LogId(res, a));
}

TEST(Document, IndexNames) {
  Resource r;
  Attr(r.mutable_attributes(), "data_stream.dataset", "Nginx-Access");
  IndexOptions o;
  o.ns = "prod";
  EXPECT_EQ(LogsIndexOf(r, 0, o), "logs-nginx_access-prod");
  EXPECT_EQ(TracesIndex(SerializedOrigin(Resource(), InstrumentationScope()).get(), 0, o),
            "traces-generic-prod");
  o.logs_index = "logs-tributary-%Y.%m.%d";
  EXPECT_EQ(LogsIndexOf(r, 1764537600123456789ull, o), "logs-tributary-2025.11.30");
  EXPECT_EQ(FieldName("app.kubernetes.io/name"), "app_kubernetes_io/name");
}

// A record whose fields come twice (two serialized records one after the
// other) reads as protobuf parses it: scalars from the last, repeated fields
// from both, message fields merged.
TEST(Document, FieldsWrittenTwiceReadAsProtobufParsesThem) {
  LogRecord first = MakeLog();
  auto* kv = first.mutable_body()->mutable_kvlist_value()->add_values();
  kv->set_key("a");
  kv->mutable_value()->set_int_value(1);
  LogRecord second;
  second.set_severity_text("second");
  kv = second.mutable_body()->mutable_kvlist_value()->add_values();
  kv->set_key("b");
  kv->mutable_value()->set_bool_value(true);
  Attr(second.mutable_attributes(), "more", "x");
  const std::string both = first.SerializeAsString() + second.SerializeAsString();
  LogRecord parsed;
  ASSERT_TRUE(parsed.ParseFromString(both));
  for (MappingMode mode : {MappingMode::kEcs, MappingMode::kOtel}) {
    const SerializedOrigin origin(K8sResource(), InstrumentationScope());
    LogView view;
    ASSERT_TRUE(ReadLog(both, &view));
    std::string raw;
    ASSERT_TRUE(AppendLogDocument(mode, origin.get(), view, "logs-a-b", &raw));
    EXPECT_EQ(raw, LogDocument(mode, K8sResource(), InstrumentationScope(), parsed, "logs-a-b"));
  }
  // The severity text of the second, the kvlist bodies merged.
  const SerializedOrigin origin(K8sResource(), InstrumentationScope());
  LogView view;
  ASSERT_TRUE(ReadLog(both, &view));
  std::string otel;
  ASSERT_TRUE(AppendLogDocument(MappingMode::kOtel, origin.get(), view, "logs-a-b", &otel));
  EXPECT_NE(otel.find("\"severity_text\":\"second\""), std::string::npos) << otel;
  EXPECT_NE(otel.find("\"body\":{\"a\":1,\"b\":true}"), std::string::npos) << otel;
}

TEST(Document, MalformedBytesAreRefused) {
  const std::string record = MakeLog().SerializeAsString();
  LogView view;
  EXPECT_FALSE(ReadLog(record.substr(0, record.size() - 3), &view));
  // A body whose length runs past the end.
  const std::string body_past_end = std::string("\x2a\x10\x0a\x05", 4) + "abc";
  EXPECT_FALSE(ReadLog(body_past_end, &view));
  // A readable record whose body is not: the document is refused.
  const std::string bad_body = std::string("\x2a\x02\x0a\x09", 4);
  ASSERT_TRUE(ReadLog(bad_body, &view));
  const SerializedOrigin origin{Resource(), InstrumentationScope()};
  std::string out;
  EXPECT_FALSE(AppendLogDocument(MappingMode::kOtel, origin.get(), view, "logs-a-b", &out));
  int calls = 0;
  EXPECT_FALSE(ForEachRecord("\x0a\x05\x12\x03\x12\x01",
                             [&](const core::RecordRef&, const Origin&, std::string_view) {
                               ++calls;
                               return true;
                             }));
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace tributary::exporters::elasticsearch
