#include "tributary/core/otlp_codec.h"

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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
