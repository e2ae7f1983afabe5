#include "tributary/core/otlp_codec.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tributary/core/testing/golden.h"
#include "tributary/core/testing/otlp_corpus.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core {
namespace {

constexpr char kSpanJson[] =
    R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},)"
    R"("scopeSpans":[{"scope":{"name":"lib","version":"1.0"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
    R"("spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"GET /","kind":2,)"
    R"("startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",)"
    R"("attributes":[{"key":"http.status_code","value":{"intValue":"200"}}],)"
    R"("links":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002"}],)"
    R"("status":{"message":"boom","code":2}}]}]}]})";

// The OTLP/JSON of a corpus that uses every field of every signal, from a
// batch of objects and from one of serialized bytes, is byte for byte the
// golden file (TRIBUTARY_UPDATE_GOLDEN=1 writes it instead).
TEST(OtlpJsonTest, CorpusIsTheGoldenFile) {
  testing::OtlpCorpus corpus(20);
  const std::vector<Batch> batches = {Batch(corpus.Logs(4, 3)), Batch(corpus.Traces(4, 3)),
                                      Batch(corpus.Metrics(4, 10))};
  std::string got;
  for (const Batch& batch : batches) {
    const std::string objects = EncodeOtlpJson(batch);
    const Batch wire(batch.signal(), batch.message().SerializeAsString(), batch.record_count());
    EXPECT_EQ(EncodeOtlpJson(wire), objects);
    got += objects;
    got += '\n';
  }
  const std::string path = TRIBUTARY_SOURCE_DIR "/tests/golden/otlp.jsonl";
  testing::ExpectGolden(path, got);
}

TEST(OtlpJsonTest, DecodesHexIdsAndEncodesThemBack) {
  auto batch = DecodeOtlpJson(Signal::kTraces, kSpanJson);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const auto& span = batch->traces().resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(span.trace_id(), absl::HexStringToBytes("5b8efff798038103d269b633813fc60c"));
  EXPECT_EQ(span.span_id(), absl::HexStringToBytes("eee19b7ec3c1b174"));
  EXPECT_EQ(span.parent_span_id().size(), 8u);
  EXPECT_EQ(span.links(0).span_id(), absl::HexStringToBytes("0000000000000002"));
  EXPECT_EQ(span.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(span.start_time_unix_nano(), 1544712660000000000ull);
  EXPECT_EQ(span.attributes(0).value().int_value(), 200);
  EXPECT_EQ(EncodeOtlpJson(*batch), kSpanJson);
}

// What EncodeOtlpJson writes, the protobuf JSON parser reads back unchanged.
template <class Request>
void ExpectRoundTrip(const Request& request, Signal signal) {
  const std::string json = EncodeOtlpJson(Batch(request));
  auto back = DecodeOtlpJson(signal, json);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << json;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back->message(), request)) << json;
}

TEST(OtlpJsonTest, EveryFieldTypeRoundTrips) {
  LogsRequest logs;
  auto* rl = logs.add_resource_logs();
  rl->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  auto* attr = rl->mutable_resource()->add_attributes();
  attr->set_key("k8s.pod.name");
  attr->mutable_value()->set_string_value("quote \" backslash \\ tab \t nl \n ctl \x01 é 日本 😀");
  auto* log = rl->add_scope_logs()->add_log_records();
  log->set_time_unix_nano(18446744073709551615ull);
  log->set_severity_number(opentelemetry::proto::logs::v1::SEVERITY_NUMBER_ERROR);
  log->set_severity_text("ERROR");
  log->set_trace_id(
      std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff", 16));
  log->set_span_id(std::string("\xde\xad\xbe\xef\x00\x00\x00\x01", 8));
  log->set_flags(1);
  auto* body = log->mutable_body()->mutable_kvlist_value();
  auto* kv = body->add_values();
  kv->set_key("int");
  kv->mutable_value()->set_int_value(-9223372036854775807ll - 1);
  kv = body->add_values();
  kv->set_key("zero");
  kv->mutable_value()->set_int_value(0);  // set in a oneof: written even at zero
  kv = body->add_values();
  kv->set_key("double");
  kv->mutable_value()->set_double_value(0.1);
  kv = body->add_values();
  kv->set_key("bytes");
  kv->mutable_value()->set_bytes_value(std::string("\x00\xff\x10", 3));
  auto* array = body->add_values()->mutable_value()->mutable_array_value();
  array->add_values()->set_bool_value(false);
  array->add_values()->set_double_value(-1e300);
  ExpectRoundTrip(logs, Signal::kLogs);

  ExpectRoundTrip(testing::MakeSpans(5), Signal::kTraces);

  MetricsRequest metrics;
  auto* sm = metrics.add_resource_metrics()->add_scope_metrics();
  auto* gauge = sm->add_metrics();
  gauge->set_name("g");
  gauge->mutable_gauge()->add_data_points()->set_as_double(2.5);
  auto* sum = sm->add_metrics();
  sum->set_name("s");
  sum->mutable_sum()->set_is_monotonic(true);
  sum->mutable_sum()->set_aggregation_temporality(
      opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* sp = sum->mutable_sum()->add_data_points();
  sp->set_as_int(7);
  auto* ex = sp->add_exemplars();
  ex->set_span_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  ex->set_as_double(1.25);
  auto* hist = sm->add_metrics();
  hist->set_name("h");
  auto* hp = hist->mutable_histogram()->add_data_points();
  hp->set_count(3);
  hp->set_sum(0);  // optional: present at zero
  hp->set_min(-2);
  hp->add_bucket_counts(1);
  hp->add_bucket_counts(2);
  hp->add_explicit_bounds(0.5);
  auto* exp = sm->add_metrics();
  exp->set_name("e");
  auto* ep = exp->mutable_exponential_histogram()->add_data_points();
  ep->set_scale(-3);
  ep->mutable_positive()->set_offset(-1);
  ep->mutable_positive()->add_bucket_counts(4);
  ExpectRoundTrip(metrics, Signal::kMetrics);
}

TEST(OtlpJsonTest, EscapesAndRepairsStrings) {
  std::string out;
  AppendJsonEscaped("a\"b\\c\x01\x1f\x7f", &out);
  EXPECT_EQ(out, "a\\\"b\\\\c\\u0001\\u001f\x7f");
  out.clear();
  // A lone continuation byte, a truncated sequence, an overlong form and a
  // surrogate each become U+FFFD; valid characters stay as they are.
  AppendJsonEscaped("x\x80y\xe6\x97z\xc0\xafé\xed\xa0\x80", &out);
  EXPECT_EQ(out, "x\uFFFDy\uFFFD\uFFFDz\uFFFD\uFFFDé\uFFFD\uFFFD\uFFFD");
  out = "[";
  AppendJsonString("say \"hi\"", &out);
  EXPECT_EQ(out, "[\"say \\\"hi\\\"\"");
  EXPECT_EQ(EncodeOtlpJson(Batch(LogsRequest())), "{}");
}

// Every byte value at every position of a 19-byte text (the escaper looks at
// eight bytes at a time), against a byte-by-byte reading.
TEST(OtlpJsonTest, EscapesEveryByteAtEveryPosition) {
  auto reference = [](unsigned char c) -> std::string {
    switch (c) {
      case '"':
        return "\\\"";
      case '\\':
        return "\\\\";
      case '\n':
        return "\\n";
      case '\r':
        return "\\r";
      case '\t':
        return "\\t";
    }
    if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      return std::string("\\u00") + kHex[c >> 4] + kHex[c & 0xF];
    }
    if (c >= 0x80) return "\uFFFD";  // alone, no byte starts a valid sequence
    return std::string(1, static_cast<char>(c));
  };
  for (int c = 0; c < 256; ++c) {
    for (size_t at = 0; at < 19; ++at) {
      std::string text(19, 'a');
      text[at] = static_cast<char>(c);
      std::string out;
      AppendJsonEscaped(text, &out);
      const std::string want = std::string(at, 'a') + reference(static_cast<unsigned char>(c)) +
                               std::string(18 - at, 'a');
      ASSERT_EQ(out, want) << "byte " << c << " at " << at;
    }
  }
}

TEST(OtlpJsonTest, IgnoresUnknownFieldsAndRejectsBrokenJson) {
  auto batch = DecodeOtlpJson(Signal::kLogs, R"({"resourceLogs":[],"futureField":1})");
  EXPECT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(DecodeOtlpJson(Signal::kLogs, R"({"resourceLogs":[)").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeOtlpJson(Signal::kTraces,
                           R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz!"}]}]}]})")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OtlpProtoTest, TruncatedMessageIsInvalid) {
  std::string bytes = testing::MakeSpans(3).SerializeAsString();
  ASSERT_TRUE(DecodeOtlpProto(Signal::kTraces, bytes).ok());
  auto truncated = DecodeOtlpProto(Signal::kTraces, bytes.substr(0, bytes.size() - 5));
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidationTest, RemovesSpansWithBadIdsOnly) {
  TracesRequest r = testing::MakeSpans(4);
  r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(1)->set_trace_id("short");
  Batch batch(r);
  ValidationResult v = RemoveInvalidRecords(batch);
  EXPECT_EQ(v.rejected, 1u);
  EXPECT_THAT(v.message, ::testing::HasSubstr("trace_id"));
  EXPECT_EQ(batch.record_count(), 3u);
  Batch good(testing::MakeSpans(2));
  EXPECT_EQ(RemoveInvalidRecords(good).rejected, 0u);
}

}  // namespace
}  // namespace tributary::core
