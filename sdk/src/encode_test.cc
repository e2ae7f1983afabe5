#include <gtest/gtest.h>

#include "test_support.h"

namespace tributary::sdk {
namespace {

using detail::Access;
using detail::SdkState;
namespace otlp = testing::otlp;

TEST(Encode, NestedMessagesOfAnyLengthParse) {
  // Lengths around the one-byte and two-byte varint limits.
  for (size_t len : {0, 1, 127, 128, 129, 16383, 16384, 300000}) {
    detail::OwnedValue v;
    v.Assign(AttributeValue(std::string_view(std::string(len, 'x'))), 0);
    std::string out;
    detail::WireWriter w(out);
    detail::WriteKeyValue(w, 1, "k", v);  // Resource.attributes
    otlp::resource::v1::Resource r;
    ASSERT_TRUE(r.ParseFromString(out)) << len;
    ASSERT_EQ(r.attributes_size(), 1);
    EXPECT_EQ(r.attributes(0).value().string_value().size(), len);
  }
}

TEST(Encode, LogRecordsCarryTheActiveSpanAndSeverity) {
  SdkState sdk(testing::QuietOptions());
  Tracer tracer = Access::Make<Tracer>(sdk.Tracer("t", ""));
  Logger logger = Access::Make<Logger>(sdk.Logger("orders", "3"));
  SpanContext ctx;
  {
    Span s = tracer.StartSpan("work");
    ctx = s.context();
    auto scope = s.Activate();
    logger.Warn("stock low", {{"sku", "A-1"}, {"left", 2}});
  }
  logger.Error("outside any span");
  std::vector<detail::LogRecordData*> batch;
  sdk.logs.Drain(batch, 100);
  std::string body;
  detail::EncodeLogs(batch, sdk.resource, body);
  otlp::collector::logs::v1::ExportLogsServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));
  const auto& sl = req.resource_logs(0).scope_logs(0);
  EXPECT_EQ(sl.scope().name(), "orders");
  EXPECT_EQ(sl.scope().version(), "3");
  ASSERT_EQ(sl.log_records_size(), 2);
  const auto& r = sl.log_records(0);
  EXPECT_EQ(r.body().string_value(), "stock low");
  EXPECT_EQ(r.severity_number(), otlp::logs::v1::SEVERITY_NUMBER_WARN);
  EXPECT_EQ(r.severity_text(), "WARN");
  EXPECT_EQ(testing::AttrString(r), "left=2,sku=A-1");
  EXPECT_EQ(r.trace_id(), std::string(reinterpret_cast<const char*>(ctx.trace_id.data()), 16));
  EXPECT_EQ(r.span_id(), std::string(reinterpret_cast<const char*>(ctx.span_id.data()), 8));
  EXPECT_EQ(r.flags(), 1u);
  EXPECT_GT(r.time_unix_nano(), 0u);
  EXPECT_EQ(r.observed_time_unix_nano(), r.time_unix_nano());
  const auto& outside = sl.log_records(1);
  EXPECT_TRUE(outside.trace_id().empty());
  EXPECT_EQ(outside.severity_number(), otlp::logs::v1::SEVERITY_NUMBER_ERROR);
  for (auto* rec : batch) sdk.logs.Recycle(rec);
}

TEST(Encode, LogsBelowTheMinimumSeverityAreNotMade) {
  SdkOptions o = testing::QuietOptions();
  o.min_log_severity = Severity::kWarn;
  SdkState sdk(o);
  Logger logger = Access::Make<Logger>(sdk.Logger("l", ""));
  EXPECT_FALSE(logger.Enabled(Severity::kInfo));
  logger.Info("no");
  logger.Error("yes");
  std::vector<detail::LogRecordData*> batch;
  EXPECT_EQ(sdk.logs.Drain(batch, 100), 1u);
  for (auto* rec : batch) sdk.logs.Recycle(rec);
}

}  // namespace
}  // namespace tributary::sdk
