#include "tributary/sdk/propagation.h"

#include <gtest/gtest.h>
#include <httplib.h>

namespace tributary::sdk {
namespace {

TEST(Propagation, InjectThenExtractRoundTrips) {
  SpanContext c;
  for (int i = 0; i < 16; ++i) c.trace_id[i] = static_cast<uint8_t>(i + 1);
  for (int i = 0; i < 8; ++i) c.span_id[i] = static_cast<uint8_t>(0xf0 + i);
  c.trace_flags = 1;
  c.trace_state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
  std::map<std::string, std::string> headers;
  MapCarrier carrier(headers);
  InjectTraceContext(c, carrier);
  EXPECT_EQ(headers["traceparent"], "00-0102030405060708090a0b0c0d0e0f10-f0f1f2f3f4f5f6f7-01");
  EXPECT_EQ(headers["tracestate"], c.trace_state);
  SpanContext back = ExtractTraceContext(carrier);
  EXPECT_EQ(back.trace_id, c.trace_id);
  EXPECT_EQ(back.span_id, c.span_id);
  EXPECT_TRUE(back.IsSampled());
  EXPECT_TRUE(back.remote);
  EXPECT_EQ(back.trace_state, c.trace_state);
}

TEST(Propagation, InvalidContextIsNotInjected) {
  std::map<std::string, std::string> headers;
  MapCarrier carrier(headers);
  InjectTraceContext(SpanContext(), carrier);
  EXPECT_TRUE(headers.empty());
}

TEST(Propagation, MalformedTraceparentsAreRefused) {
  const char* bad[] = {
      "",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",    // short
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",  // version 00 is exactly 55
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // version ff
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",   // zero trace id
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   // zero span id
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",   // upper case
      "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // separator
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0g",   // flags
      "0x-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // version
      "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",  // later version, bad tail
  };
  for (const char* b : bad) {
    SpanContext c;
    EXPECT_FALSE(ParseTraceParent(b, c)) << b;
  }
  SpanContext c;
  EXPECT_TRUE(
      ParseTraceParent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future", c));
  EXPECT_TRUE(c.IsSampled());
  EXPECT_TRUE(ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", c));
  EXPECT_EQ(c.trace_flags, 1);  // only the sampled bit is kept
}

TEST(Propagation, TraceStateIsValidatedAndABadOneDropped) {
  EXPECT_TRUE(IsValidTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_TRUE(IsValidTraceState("tenant@vendor=x, a=b ,,"));
  EXPECT_FALSE(IsValidTraceState("Upper=x"));
  EXPECT_FALSE(IsValidTraceState("a="));
  EXPECT_FALSE(IsValidTraceState("a=b=c"));
  EXPECT_FALSE(IsValidTraceState("novalue"));
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_FALSE(IsValidTraceState(many));
  std::map<std::string, std::string> headers{
      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
      {"tracestate", "bad state"}};
  MapCarrier carrier(headers);
  SpanContext c = ExtractTraceContext(carrier);
  EXPECT_TRUE(c.IsValid());
  EXPECT_TRUE(c.trace_state.empty());
}

TEST(Propagation, CppHttplibHeadersAreCaseInsensitive) {
  httplib::Headers headers{
      {"TraceParent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}};
  HeadersCarrier carrier(headers);
  SpanContext c = ExtractTraceContext(carrier);
  ASSERT_TRUE(c.IsValid());
  c.span_id.fill(1);
  InjectTraceContext(c, carrier);
  EXPECT_EQ(headers.count("traceparent"), 1u);
  EXPECT_EQ(headers.find("traceparent")->second,
            "00-0af7651916cd43dd8448eb211c80319c-0101010101010101-01");
}

}  // namespace
}  // namespace tributary::sdk
