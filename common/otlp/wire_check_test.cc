#include "common/otlp/wire_check.h"

#include <string>

#include "gtest/gtest.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/testing/otlp_corpus.h"

namespace tributary::common::otlp {
namespace {

using core::Signal;

RecordLimits Unlimited() {
  RecordLimits limits;
  limits.max_attributes = 0;
  limits.max_attribute_value_length.bytes = 0;
  return limits;
}

// What the receiver's object path decides for `bytes`: the records when the
// request parses and nothing in it is invalid or over a limit.
std::optional<size_t> ByParsing(Signal signal, const std::string& bytes,
                                const RecordLimits& limits) {
  absl::StatusOr<core::Batch> batch = core::DecodeOtlpProto(signal, bytes);
  if (!batch.ok()) return std::nullopt;
  if (core::RemoveInvalidRecords(*batch).rejected > 0) return std::nullopt;
  const LimitsApplied applied = ApplyRecordLimits(*batch, limits);
  if (applied.dropped_attributes > 0 || applied.truncated_values > 0) return std::nullopt;
  return batch->record_count();
}

void ExpectAgrees(Signal signal, const std::string& bytes, const RecordLimits& limits) {
  EXPECT_EQ(PassesUnchanged(signal, bytes, limits), ByParsing(signal, bytes, limits));
}

TEST(WireCheckTest, AgreesWithTheObjectPathOnACorpusThatUsesEveryField) {
  RecordLimits small;
  small.max_attributes = 3;
  small.max_attribute_value_length.bytes = 12;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    core::testing::OtlpCorpus corpus(seed);
    const std::string traces = corpus.Traces(3, 4).SerializeAsString();
    const std::string logs = corpus.Logs(3, 4).SerializeAsString();
    const std::string metrics = corpus.Metrics(3, 4).SerializeAsString();
    for (const RecordLimits& limits : {RecordLimits(), Unlimited(), small}) {
      ExpectAgrees(Signal::kTraces, traces, limits);
      ExpectAgrees(Signal::kLogs, logs, limits);
      ExpectAgrees(Signal::kMetrics, metrics, limits);
    }
    // Without limits every request of the corpus passes as it is.
    EXPECT_TRUE(PassesUnchanged(Signal::kMetrics, metrics, Unlimited()).has_value());
  }
}

core::TracesRequest OneSpan() {
  core::TracesRequest request;
  auto* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, 'a'));
  span->set_span_id(std::string(8, 'b'));
  span->set_name("GET /");
  return request;
}

TEST(WireCheckTest, CountsRecordsOfEverySignal) {
  core::TracesRequest traces = OneSpan();
  *traces.mutable_resource_spans(0)->mutable_scope_spans(0)->add_spans() =
      traces.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(PassesUnchanged(Signal::kTraces, traces.SerializeAsString(), RecordLimits()), 2u);
  core::MetricsRequest metrics;
  auto* sm = metrics.add_resource_metrics()->add_scope_metrics();
  auto* gauge = sm->add_metrics();
  gauge->set_name("g");
  gauge->mutable_gauge()->add_data_points()->set_as_int(1);
  gauge->mutable_gauge()->add_data_points()->set_as_double(2);
  auto* histogram = sm->add_metrics();
  histogram->set_name("h");
  auto* point = histogram->mutable_histogram()->add_data_points();
  point->add_bucket_counts(1);  // packed on the wire
  point->add_explicit_bounds(0.5);
  EXPECT_EQ(PassesUnchanged(Signal::kMetrics, metrics.SerializeAsString(), RecordLimits()), 3u);
  EXPECT_EQ(PassesUnchanged(Signal::kLogs, core::LogsRequest().SerializeAsString(), RecordLimits()),
            0u);
}

TEST(WireCheckTest, InvalidRecordsAndMalformedRequestsNeedTheParser) {
  core::TracesRequest short_trace_id = OneSpan();
  short_trace_id.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_trace_id(
      std::string(15, 'a'));
  EXPECT_FALSE(
      PassesUnchanged(Signal::kTraces, short_trace_id.SerializeAsString(), RecordLimits()));
  core::TracesRequest bad_parent = OneSpan();
  bad_parent.mutable_resource_spans(0)
      ->mutable_scope_spans(0)
      ->mutable_spans(0)
      ->set_parent_span_id("xyz");
  EXPECT_FALSE(PassesUnchanged(Signal::kTraces, bad_parent.SerializeAsString(), RecordLimits()));
  core::LogsRequest log;
  log.add_resource_logs()->add_scope_logs()->add_log_records()->set_span_id("1234567");
  EXPECT_FALSE(PassesUnchanged(Signal::kLogs, log.SerializeAsString(), RecordLimits()));
  core::MetricsRequest unnamed;
  unnamed.add_resource_metrics()->add_scope_metrics()->add_metrics()->mutable_sum();
  EXPECT_FALSE(PassesUnchanged(Signal::kMetrics, unnamed.SerializeAsString(), RecordLimits()));

  // A span name that is not UTF-8 (protobuf refuses to parse it).
  std::string bytes = OneSpan().SerializeAsString();
  const size_t at = bytes.find("GET /");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] = '\xC0';
  EXPECT_FALSE(core::DecodeOtlpProto(Signal::kTraces, bytes).ok());
  EXPECT_FALSE(PassesUnchanged(Signal::kTraces, bytes, RecordLimits()));
  // A length written in six bytes, which protobuf refuses.
  const std::string six(std::string("\x0a\x80\x80\x80\x80\x80\x00", 7));
  EXPECT_FALSE(core::DecodeOtlpProto(Signal::kMetrics, six).ok());
  EXPECT_FALSE(PassesUnchanged(Signal::kMetrics, six, Unlimited()));
  // Cut short.
  const std::string whole = OneSpan().SerializeAsString();
  EXPECT_FALSE(PassesUnchanged(Signal::kTraces, whole.substr(0, whole.size() - 1), RecordLimits()));
}

TEST(WireCheckTest, RequestsALimitWouldChangeNeedTheParser) {
  core::TracesRequest many = OneSpan();
  auto* span = many.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  for (int i = 0; i < 4; ++i) {
    auto* kv = span->add_attributes();
    kv->set_key("k" + std::to_string(i));
    kv->mutable_value()->set_int_value(i);
  }
  RecordLimits three;
  three.max_attributes = 3;
  RecordLimits four;
  four.max_attributes = 4;
  EXPECT_FALSE(PassesUnchanged(Signal::kTraces, many.SerializeAsString(), three));
  EXPECT_EQ(PassesUnchanged(Signal::kTraces, many.SerializeAsString(), four), 1u);

  // A log body and a nested attribute value longer than the limit.
  RecordLimits short_values;
  short_values.max_attribute_value_length.bytes = 8;
  core::LogsRequest body;
  auto* record = body.add_resource_logs()->add_scope_logs()->add_log_records();
  record->mutable_body()->set_string_value("123456789");
  EXPECT_FALSE(PassesUnchanged(Signal::kLogs, body.SerializeAsString(), short_values));
  record->mutable_body()->set_string_value("12345678");
  EXPECT_EQ(PassesUnchanged(Signal::kLogs, body.SerializeAsString(), short_values), 1u);
  auto* nested = record->add_attributes();
  nested->set_key("list");
  nested->mutable_value()->mutable_array_value()->add_values()->set_bytes_value("123456789");
  EXPECT_FALSE(PassesUnchanged(Signal::kLogs, body.SerializeAsString(), short_values));
  // The key of an attribute is not bounded.
  nested->mutable_value()->mutable_array_value()->mutable_values(0)->set_bytes_value("1");
  nested->set_key(std::string(100, 'k'));
  EXPECT_EQ(PassesUnchanged(Signal::kLogs, body.SerializeAsString(), short_values), 1u);

  // Values nested deeper than the limits keep are cut, whatever their size.
  core::LogsRequest deep;
  auto* value = deep.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body();
  for (int depth = 0; depth < 17; ++depth) {
    value = value->mutable_array_value()->add_values();
  }
  value->set_int_value(1);
  EXPECT_FALSE(PassesUnchanged(Signal::kLogs, deep.SerializeAsString(), RecordLimits()));
  EXPECT_EQ(PassesUnchanged(Signal::kLogs, deep.SerializeAsString(), Unlimited()), 1u);
  ExpectAgrees(Signal::kLogs, deep.SerializeAsString(), RecordLimits());
}

TEST(WireCheckTest, FieldsProtobufWouldMergeAreLeftToTheParser) {
  // Two requests one after the other are their union: two resources.
  const std::string bytes = OneSpan().SerializeAsString();
  EXPECT_EQ(PassesUnchanged(Signal::kTraces, bytes + bytes, RecordLimits()), 2u);
  // A log record whose body is written twice parses (merged), but is not
  // followed.
  core::LogsRequest one;
  one.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
      "a");
  const std::string body =
      one.resource_logs(0).scope_logs(0).log_records(0).body().SerializeAsString();
  auto len = [](const std::string& s) { return std::string(1, static_cast<char>(s.size())) + s; };
  const std::string record = "\x2a" + len(body) + "\x2a" + len(body);  // body is field 5
  const std::string request = "\x0a" + len("\x12" + len("\x12" + len(record)));
  ASSERT_TRUE(core::DecodeOtlpProto(Signal::kLogs, request).ok());
  EXPECT_FALSE(PassesUnchanged(Signal::kLogs, request, RecordLimits()));
  ExpectAgrees(Signal::kLogs, "\x0a" + len("\x12" + len("\x12" + len("\x2a" + len(body)))),
               RecordLimits());
}

}  // namespace
}  // namespace tributary::common::otlp
