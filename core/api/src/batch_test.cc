#include "tributary/core/batch.h"

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core {
namespace {

TEST(BatchTest, CountsAndAppends) {
  Batch a(testing::MakeSpans(3));
  Batch b(testing::MakeSpans(2));
  EXPECT_EQ(a.signal(), Signal::kTraces);
  EXPECT_EQ(a.record_count(), 3u);
  a.Append(b);
  EXPECT_EQ(a.record_count(), 5u);
  EXPECT_EQ(CountRecords(a.traces()), 5u);
  EXPECT_EQ(a.traces().resource_spans_size(), 2);
}

TEST(BatchTest, AppendingABatchMovesItsResourcesInOrder) {
  Batch a(testing::MakeSpans(2, "a"));
  Batch b(testing::MakeSpans(3, "b"));
  a.Append(std::move(b));
  EXPECT_EQ(a.record_count(), 5u);
  EXPECT_EQ(CountRecords(a.traces()), 5u);
  ASSERT_EQ(a.traces().resource_spans_size(), 2);
  EXPECT_EQ(a.traces().resource_spans(1).resource().attributes(0).value().string_value(), "b");
  EXPECT_EQ(b.record_count(), 0u);
  EXPECT_EQ(b.traces().resource_spans_size(), 0);

  LogsRequest one;
  one.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body()->set_string_value(
      "first");
  LogsRequest two = one;
  two.mutable_resource_logs(0)
      ->mutable_scope_logs(0)
      ->mutable_log_records(0)
      ->mutable_body()
      ->set_string_value("second");
  Batch logs(std::move(one));
  logs.Append(Batch(std::move(two)));
  EXPECT_EQ(logs.record_count(), 2u);
  ASSERT_EQ(logs.logs().resource_logs_size(), 2);
  EXPECT_EQ(logs.logs().resource_logs(1).scope_logs(0).log_records(0).body().string_value(),
            "second");
}

TEST(BatchTest, CountsMetricPointsOfEveryType) {
  MetricsRequest r;
  auto* sm = r.add_resource_metrics()->add_scope_metrics();
  auto* gauge = sm->add_metrics();
  gauge->set_name("g");
  gauge->mutable_gauge()->add_data_points()->set_as_double(1);
  auto* hist = sm->add_metrics();
  hist->set_name("h");
  hist->mutable_histogram()->add_data_points();
  hist->mutable_histogram()->add_data_points();
  auto* summary = sm->add_metrics();
  summary->set_name("s");
  summary->mutable_summary()->add_data_points();
  EXPECT_EQ(Batch(r).record_count(), 4u);
}

TEST(AckTest, FiresOnceWhenLastReferenceGoes) {
  int calls = 0;
  absl::Status seen = absl::InternalError("not called");
  {
    auto ack = std::make_shared<Ack>([&](const absl::Status& s) {
      ++calls;
      seen = s;
    });
    AckRef copy = ack;
    ack.reset();
    EXPECT_EQ(calls, 0);
  }
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(seen.ok());
}

TEST(AckTest, RetryableFailureWinsOverPermanent) {
  absl::Status seen;
  {
    auto ack = std::make_shared<Ack>([&](const absl::Status& s) { seen = s; });
    ack->Fail(absl::InvalidArgumentError("bad"));
    ack->Fail(absl::UnavailableError("down"));
    ack->Fail(absl::InvalidArgumentError("bad again"));
  }
  EXPECT_EQ(seen.code(), absl::StatusCode::kUnavailable);
}

TEST(ComponentIdTest, ParsesTypeAndName) {
  auto id = ComponentId::Parse("otlp/agent");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->type, "otlp");
  EXPECT_EQ(id->name, "agent");
  EXPECT_EQ(id->ToString(), "otlp/agent");
  EXPECT_FALSE(ComponentId::Parse("otlp/").ok());
  EXPECT_FALSE(ComponentId::Parse("/x").ok());
  EXPECT_FALSE(ComponentId::Parse("ot-lp").ok());
}

}  // namespace
}  // namespace tributary::core

namespace tributary::core {
namespace {

TEST(BatchSplitTest, TracesKeepResourceAndScope) {
  Batch batch(testing::MakeSpans(7, "a"));
  batch.Append(Batch(testing::MakeSpans(5, "b")));
  std::vector<Batch> parts = Batch(batch).Split(4);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].record_count(), 4u);
  EXPECT_EQ(parts[1].record_count(), 4u);
  EXPECT_EQ(parts[2].record_count(), 4u);
  // The second part holds the end of "a" and the start of "b".
  ASSERT_EQ(parts[1].traces().resource_spans_size(), 2);
  EXPECT_EQ(parts[1].traces().resource_spans(0).resource().attributes(0).value().string_value(),
            "a");
  EXPECT_EQ(parts[1].traces().resource_spans(1).resource().attributes(0).value().string_value(),
            "b");
  EXPECT_EQ(parts[1].traces().resource_spans(1).scope_spans(0).scope().name(), "scope");
  // Reassembled in order, the records are the same.
  Batch whole = parts[0];
  whole.Append(parts[1]);
  whole.Append(parts[2]);
  std::vector<std::string> before, after;
  for (const auto* b : {&batch, &whole}) {
    auto& list = b == &batch ? before : after;
    for (const auto& rs : b->traces().resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) list.push_back(span.SerializeAsString());
      }
    }
  }
  EXPECT_EQ(before, after);
  EXPECT_EQ(Batch(batch).Split(0).size(), 1u);
  std::vector<Batch> within = Batch(batch).Split(100);
  ASSERT_EQ(within.size(), 1u);
  EXPECT_EQ(within[0].record_count(), 12u);
}

TEST(BatchSplitTest, MetricsSplitBetweenDataPoints) {
  MetricsRequest r;
  auto* sm = r.add_resource_metrics()->add_scope_metrics();
  auto* sum = sm->add_metrics();
  sum->set_name("requests");
  sum->set_unit("1");
  sum->mutable_sum()->set_is_monotonic(true);
  sum->mutable_sum()->set_aggregation_temporality(
      opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  for (int i = 0; i < 5; ++i) sum->mutable_sum()->add_data_points()->set_as_int(i);
  auto* hist = sm->add_metrics();
  hist->set_name("latency");
  for (int i = 0; i < 2; ++i) hist->mutable_histogram()->add_data_points()->set_count(i);
  std::vector<Batch> parts = Batch(r).Split(3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].record_count(), 3u);
  EXPECT_EQ(parts[1].record_count(), 3u);
  EXPECT_EQ(parts[2].record_count(), 1u);
  const auto& second = parts[1].metrics().resource_metrics(0).scope_metrics(0);
  ASSERT_EQ(second.metrics_size(), 2);
  EXPECT_EQ(second.metrics(0).name(), "requests");
  EXPECT_TRUE(second.metrics(0).sum().is_monotonic());
  EXPECT_EQ(second.metrics(0).sum().data_points(1).as_int(), 4);
  EXPECT_EQ(second.metrics(1).name(), "latency");
  EXPECT_EQ(second.metrics(1).histogram().data_points_size(), 1);
}

TEST(BatchSplitTest, LogsSplit) {
  LogsRequest r;
  auto* sl = r.add_resource_logs()->add_scope_logs();
  for (int i = 0; i < 10; ++i) sl->add_log_records()->mutable_body()->set_string_value("x");
  std::vector<Batch> parts = Batch(r).Split(3);
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[3].record_count(), 1u);
}

TEST(BatchTest, AWireFormBatchParsesOnlyWhenAsked) {
  const TracesRequest request = testing::MakeSpans(4, "w");
  const std::string bytes = request.SerializeAsString();
  Batch batch(Signal::kTraces, bytes, 4);
  EXPECT_EQ(batch.signal(), Signal::kTraces);
  EXPECT_EQ(batch.record_count(), 4u);
  EXPECT_EQ(batch.ByteSize(), bytes.size());
  ASSERT_NE(batch.wire(), nullptr);
  EXPECT_EQ(*batch.wire(), bytes);
  Batch copy = batch;  // still bytes
  ASSERT_NE(copy.wire(), nullptr);
  EXPECT_EQ(*copy.wire(), bytes);
  EXPECT_TRUE(batch.Parse().ok());
  EXPECT_EQ(batch.traces().SerializeAsString(), bytes);
  EXPECT_EQ(copy.traces().SerializeAsString(), bytes);
  // Read-only access keeps the bytes; a change drops them.
  EXPECT_NE(batch.wire(), nullptr);
  batch.mutable_traces().mutable_resource_spans(0)->set_schema_url("changed");
  EXPECT_EQ(batch.wire(), nullptr);
  EXPECT_EQ(batch.traces().resource_spans(0).schema_url(), "changed");
  EXPECT_EQ(batch.record_count(), 4u);
}

TEST(BatchTest, WireFormBatchesAppendAsBytes) {
  const std::string a = testing::MakeSpans(2, "a").SerializeAsString();
  const std::string b = testing::MakeSpans(3, "b").SerializeAsString();
  Batch joined(Signal::kTraces, a, 2);
  joined.Append(Batch(Signal::kTraces, b, 3));
  ASSERT_NE(joined.wire(), nullptr);
  EXPECT_EQ(*joined.wire(), a + b);
  EXPECT_EQ(joined.record_count(), 5u);
  Batch moved(Signal::kTraces, b, 3);
  joined.Append(std::move(moved));
  EXPECT_EQ(*joined.wire(), a + b + b);
  EXPECT_EQ(moved.record_count(), 0u);
  EXPECT_EQ(moved.traces().resource_spans_size(), 0);  // left an empty request
  EXPECT_EQ(CountRecords(joined.traces()), 8u);
  ASSERT_EQ(joined.traces().resource_spans_size(), 3);
  EXPECT_EQ(joined.traces().resource_spans(1).resource().attributes(0).value().string_value(), "b");

  // With objects on one side only, resources are appended as objects.
  Batch objects(testing::MakeSpans(1, "o"));
  objects.Append(Batch(Signal::kTraces, a, 2));
  EXPECT_EQ(objects.wire(), nullptr);
  EXPECT_EQ(objects.record_count(), 3u);
  EXPECT_EQ(CountRecords(objects.traces()), 3u);
  Batch with_objects(Signal::kTraces, b, 3);
  with_objects.Append(Batch(testing::MakeSpans(1, "o")));
  EXPECT_EQ(with_objects.wire(), nullptr);
  EXPECT_EQ(CountRecords(with_objects.traces()), 4u);
  // A parsed batch that keeps its bytes appends bytes; its objects are
  // parsed again when asked for.
  Batch parsed(Signal::kTraces, a, 2);
  ASSERT_TRUE(parsed.Parse().ok());
  parsed.Append(Batch(Signal::kTraces, b, 3));
  ASSERT_NE(parsed.wire(), nullptr);
  EXPECT_EQ(*parsed.wire(), a + b);
  EXPECT_EQ(CountRecords(parsed.traces()), 5u);
  EXPECT_EQ(parsed.record_count(), 5u);

  // Split keeps a batch within the limit as bytes and parses one above it.
  std::vector<Batch> whole = Batch(Signal::kTraces, a, 2).Split(2);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_NE(whole[0].wire(), nullptr);
  std::vector<Batch> parts = Batch(Signal::kTraces, a + b, 5).Split(2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].record_count(), 1u);
}

TEST(BatchTest, ABatchKeepsTheBytesItWasParsedFrom) {
  const TracesRequest request = testing::MakeSpans(3, "k");
  const std::string bytes = request.SerializeAsString();
  Batch batch{TracesRequest(request)};
  batch.KeepWire(bytes);
  ASSERT_NE(batch.wire(), nullptr);
  EXPECT_EQ(*batch.wire(), bytes);
  EXPECT_EQ(batch.traces().SerializeAsString(), bytes);  // the objects stay
  EXPECT_EQ(batch.ByteSize(), bytes.size());
  Batch copy = batch;  // copied as its bytes
  ASSERT_NE(copy.wire(), nullptr);
  EXPECT_EQ(*copy.wire(), bytes);
  EXPECT_EQ(copy.traces().SerializeAsString(), bytes);
  Batch moved = std::move(batch);
  ASSERT_NE(moved.wire(), nullptr);
  EXPECT_EQ(batch.record_count(), 0u);
  moved.mutable_traces().mutable_resource_spans(0)->set_schema_url(
      "x");  // objects kept, bytes gone
  EXPECT_EQ(moved.wire(), nullptr);
  EXPECT_EQ(CountRecords(moved.traces()), 3u);
}

TEST(BatchTest, RequestsOfAnySizeParseOntoAlignedArenaBlocks) {
  // The arena's first block is sized from the request; strings on it are
  // destroyed through a list kept at the block's end, which must stay
  // aligned whatever the size (UndefinedBehaviorSanitizer checks it).
  for (size_t pad = 0; pad < 8; ++pad) {
    LogsRequest request;
    auto* record = request.add_resource_logs()->add_scope_logs()->add_log_records();
    record->mutable_body()->set_string_value(std::string(4100 + pad, 'x'));
    for (int i = 0; i < 40; ++i) {
      auto* kv = record->add_attributes();
      kv->set_key("key " + std::to_string(i) + std::string(20, 'k'));
      kv->mutable_value()->set_string_value(std::string(30, 'v'));
    }
    const std::string bytes = request.SerializeAsString();
    Batch batch(Signal::kLogs, bytes, 1);
    ASSERT_TRUE(batch.Parse().ok());
    EXPECT_EQ(batch.logs().resource_logs(0).scope_logs(0).log_records(0).attributes_size(), 40);
  }
}

TEST(BatchTest, AWireFormBatchThatDoesNotParseSaysSo) {
  Batch broken(Signal::kLogs,
               std::string("\x0a\x05"
                           "ab",
                           4),
               1);
  absl::Status s = broken.Parse();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_EQ(broken.logs().resource_logs_size(), 0);
  EXPECT_EQ(broken.record_count(),
            1u);  // what the producer counted; the loss is the caller's to count
}

}  // namespace
}  // namespace tributary::core
