#include "common/otlp/limits.h"

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::common::otlp {
namespace {

TEST(RecordLimits, DropsAttributesBeyondTheLimitAndCountsThemInTheRecord) {
  core::TracesRequest r = core::testing::MakeSpans(1);
  auto* span = r.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0);
  for (int i = 0; i < 10; ++i) {
    auto* kv = span->add_attributes();
    kv->set_key("k" + std::to_string(i));
    kv->mutable_value()->set_int_value(i);
  }
  span->set_dropped_attributes_count(2);
  core::Batch batch(std::move(r));
  RecordLimits limits;
  limits.max_attributes = 4;
  LimitsApplied applied = ApplyRecordLimits(batch, limits);
  EXPECT_EQ(applied.dropped_attributes, 6u);
  const auto& out = batch.traces().resource_spans(0).scope_spans(0).spans(0);
  ASSERT_EQ(out.attributes_size(), 4);
  EXPECT_EQ(out.attributes(3).key(), "k3");
  EXPECT_EQ(out.dropped_attributes_count(), 8u);
  EXPECT_EQ(batch.record_count(), 1u);
}

TEST(RecordLimits, CutsLongValuesAtACharacterBoundaryEvenInsideArraysAndBodies) {
  core::LogsRequest r;
  auto* log = r.add_resource_logs()->add_scope_logs()->add_log_records();
  log->mutable_body()->set_string_value(std::string(100, 'x'));
  auto* kv = log->add_attributes();
  kv->set_key("note");
  kv->mutable_value()->set_string_value("ab\xC3\xA9");  // "abé": é is two bytes
  auto* arr = log->add_attributes();
  arr->set_key("list");
  arr->mutable_value()->mutable_array_value()->add_values()->set_string_value("0123456789");
  core::Batch batch(std::move(r));
  RecordLimits limits;
  limits.max_attribute_value_length.bytes = 3;
  LimitsApplied applied = ApplyRecordLimits(batch, limits);
  EXPECT_EQ(applied.truncated_values, 3u);
  const auto& out = batch.logs().resource_logs(0).scope_logs(0).log_records(0);
  EXPECT_EQ(out.body().string_value(), "xxx");
  EXPECT_EQ(out.attributes(0).value().string_value(), "ab");  // not half of é
  EXPECT_EQ(out.attributes(1).value().array_value().values(0).string_value(), "012");
}

TEST(RecordLimits, DeepNestingIsCutOff) {
  core::LogsRequest r;
  auto* log = r.add_resource_logs()->add_scope_logs()->add_log_records();
  auto* v = log->mutable_body();
  for (int i = 0; i < 40; ++i) v = v->mutable_array_value()->add_values();
  v->set_string_value("deep");
  core::Batch batch(std::move(r));
  LimitsApplied applied = ApplyRecordLimits(batch, RecordLimits{});
  EXPECT_EQ(applied.truncated_values, 1u);
}

TEST(RecordLimits, ZeroMeansUnlimited) {
  core::Batch batch(core::testing::MakeSpans(3));
  RecordLimits limits;
  limits.max_attributes = 0;
  limits.max_attribute_value_length.bytes = 0;
  LimitsApplied applied = ApplyRecordLimits(batch, limits);
  EXPECT_EQ(applied.dropped_attributes + applied.truncated_values, 0u);
}

}  // namespace
}  // namespace tributary::common::otlp
