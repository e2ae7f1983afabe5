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
