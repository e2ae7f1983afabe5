#include "tributary/core/telemetry.h"

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core {
namespace {

const MetricFamily<prometheus::Counter> kWidgets{"tributary_test_widgets_total",
                                                 "Widgets seen, for the test"};
const MetricFamily<prometheus::Histogram> kWidgetSize{"tributary_test_widget_size",
                                                      "Widget sizes, for the test"};

TEST(MetricFamily, RegistersOnceAndCountsPerLabelSet) {
  prometheus::Family<prometheus::Counter>& family = kWidgets.Get();
  EXPECT_EQ(&kWidgets.Get(), &family);
  // Another declaration of the same name reaches the same family.
  const MetricFamily<prometheus::Counter> again{"tributary_test_widgets_total",
                                                "Widgets seen, for the test"};
  EXPECT_EQ(&again.Get(), &family);

  kWidgets.Add({{"kind", "a"}}).Increment(2);
  again.Add({{"kind", "a"}}).Increment();
  kWidgets.Add({{"kind", "b"}}).Increment();
  EXPECT_EQ(testing::MetricValue("tributary_test_widgets_total", {{"kind", "a"}}), 3);
  EXPECT_EQ(testing::MetricValue("tributary_test_widgets_total", {{"kind", "b"}}), 1);
  EXPECT_NE(RenderSelfMetrics().find("# HELP tributary_test_widgets_total Widgets seen"),
            std::string::npos);
}

TEST(MetricFamily, HistogramsTakeTheirBuckets) {
  prometheus::Histogram& h =
      kWidgetSize.Add({{"kind", "a"}}, prometheus::Histogram::BucketBoundaries{1, 10});
  h.Observe(5);
  h.Observe(50);
  const std::string text = RenderSelfMetrics();
  EXPECT_NE(text.find("tributary_test_widget_size_bucket{kind=\"a\",le=\"10\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tributary_test_widget_size_count{kind=\"a\"} 2"), std::string::npos);
}

}  // namespace
}  // namespace tributary::core
