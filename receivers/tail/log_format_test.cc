#include "receivers/tail/log_format.h"

#include "gtest/gtest.h"

namespace tributary::receivers::tail {
namespace {

TEST(Rfc3339, ParsesUtcWithNanoseconds) {
  int64_t t;
  ASSERT_TRUE(ParseRfc3339("2024-03-01T12:34:56.123456789Z", &t));
  EXPECT_EQ(t, 1709296496123456789);
  ASSERT_TRUE(ParseRfc3339("1970-01-01T00:00:00Z", &t));
  EXPECT_EQ(t, 0);
}

TEST(Rfc3339, AppliesTheOffsetAndShortFractions) {
  int64_t t;
  ASSERT_TRUE(ParseRfc3339("2024-03-01T14:34:56.5+02:00", &t));
  EXPECT_EQ(t, 1709296496500000000);
  ASSERT_TRUE(ParseRfc3339("2024-03-01T10:04:56-02:30", &t));
  EXPECT_EQ(t, 1709296496000000000);
}

TEST(Rfc3339, RefusesMalformedTimes) {
  int64_t t;
  for (const char* bad :
       {"", "2024-03-01", "2024-13-01T00:00:00Z", "2024-03-01T00:00:00", "2024-03-01T00:00:00.Z",
        "2024-03-01T00:00:00Zjunk", "2024-03-01T00:00:00+0200", "x024-03-01T00:00:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad, &t)) << bad;
  }
}

TEST(CriLine, SplitsTimeStreamFlagAndMessage) {
  RuntimeLine l;
  ASSERT_TRUE(ParseCriLine("2024-03-01T12:34:56.000000001Z stderr F hello world", &l));
  EXPECT_EQ(l.time_unix_nano, 1709296496000000001);
  EXPECT_EQ(l.stream, Stream::kStderr);
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.message, "hello world");
}

TEST(CriLine, ReadsPartialFlagTagsAndEmptyMessages) {
  RuntimeLine l;
  ASSERT_TRUE(ParseCriLine("2024-03-01T12:34:56Z stdout P part one ", &l));
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(l.message, "part one ");
  ASSERT_TRUE(ParseCriLine("2024-03-01T12:34:56Z stdout F:x:y tagged", &l));
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.message, "tagged");
  ASSERT_TRUE(ParseCriLine("2024-03-01T12:34:56Z stdout F", &l));
  EXPECT_EQ(l.message, "");
}

TEST(CriLine, RefusesOtherLines) {
  RuntimeLine l;
  for (const char* bad :
       {"plain text", "2024-03-01T12:34:56Z stdin F x", "2024-03-01T12:34:56Z stdout X x",
        "2024-03-01T12:34:56Z stdout", "yesterday stdout F x"}) {
    EXPECT_FALSE(ParseCriLine(bad, &l)) << bad;
  }
}

TEST(DockerLine, UnescapesTheLogAndMarksPartials) {
  RuntimeLine l;
  std::string scratch;
  ASSERT_TRUE(ParseDockerLine(
      R"({"log":"say \"hi\"\tnow\n","stream":"stdout","time":"2024-03-01T12:34:56.5Z"})", &l,
      &scratch));
  EXPECT_EQ(l.message, "say \"hi\"\tnow");
  EXPECT_EQ(l.stream, Stream::kStdout);
  EXPECT_FALSE(l.partial);
  EXPECT_EQ(l.time_unix_nano, 1709296496500000000);
  ASSERT_TRUE(ParseDockerLine(R"({"stream":"stderr","log":"no newline","extra":[1,{"a":null}]})",
                              &l, &scratch));
  EXPECT_TRUE(l.partial);
  EXPECT_EQ(l.stream, Stream::kStderr);
  EXPECT_EQ(l.message, "no newline");
}

TEST(DockerLine, RefusesBrokenJson) {
  RuntimeLine l;
  std::string scratch;
  for (const char* bad : {"", "{", R"({"log":"x")", R"({"stream":"stdout"})", R"({"log":1})",
                          R"({"log":"x\n"} trailing)", R"({"log":"x\n","time":"never"})"}) {
    EXPECT_FALSE(ParseDockerLine(bad, &l, &scratch)) << bad;
  }
}

TEST(JsonObject, KeepsTypesAndNesting) {
  opentelemetry::proto::common::v1::KeyValueList out;
  ASSERT_TRUE(
      ParseJsonObject(
          R"({"s":"x","i":-42,"d":1.5e3,"b":true,"n":null,"o":{"k":[1,"two"]},"big":1e400})", &out)
          .ok());
  ASSERT_EQ(out.values_size(), 7);
  EXPECT_EQ(out.values(0).value().string_value(), "x");
  EXPECT_EQ(out.values(1).value().int_value(), -42);
  EXPECT_DOUBLE_EQ(out.values(2).value().double_value(), 1500);
  EXPECT_TRUE(out.values(3).value().bool_value());
  EXPECT_EQ(out.values(4).value().value_case(), 0);
  const auto& nested = out.values(5).value().kvlist_value().values(0);
  EXPECT_EQ(nested.key(), "k");
  EXPECT_EQ(nested.value().array_value().values(1).string_value(), "two");
  EXPECT_TRUE(std::isinf(out.values(6).value().double_value()));
}

TEST(JsonObject, DecodesUnicodeEscapes) {
  opentelemetry::proto::common::v1::KeyValueList out;
  ASSERT_TRUE(ParseJsonObject(R"({"u":"\u00e9\ud83d\ude00\ud800x"})", &out).ok());
  EXPECT_EQ(out.values(0).value().string_value(), "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx");
}

TEST(JsonObject, ReportsWhereItFailed) {
  opentelemetry::proto::common::v1::KeyValueList out;
  absl::Status s = ParseJsonObject(R"({"a":tru})", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("byte"), std::string::npos);
  EXPECT_FALSE(ParseJsonObject("[1]", &out).ok());
  EXPECT_FALSE(ParseJsonObject(R"({"a":1} x)", &out).ok());
  EXPECT_FALSE(ParseJsonObject(R"({"a":"\x"})", &out).ok());
}

TEST(JsonObject, BoundsNesting) {
  std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  opentelemetry::proto::common::v1::KeyValueList out;
  EXPECT_FALSE(ParseJsonObject(deep, &out).ok());
}

TEST(Severity, MapsCommonNames) {
  EXPECT_EQ(SeverityFromText("TRACE"), 1);
  EXPECT_EQ(SeverityFromText("debug"), 5);
  EXPECT_EQ(SeverityFromText("Info"), 9);
  EXPECT_EQ(SeverityFromText("WARNING"), 13);
  EXPECT_EQ(SeverityFromText("err"), 17);
  EXPECT_EQ(SeverityFromText("panic"), 21);
  EXPECT_EQ(SeverityFromText("loud"), 0);
  EXPECT_EQ(SeverityFromNumber(30), 9);
  EXPECT_EQ(SeverityFromNumber(50), 17);
  EXPECT_EQ(SeverityFromNumber(7), 0);
}

}  // namespace
}  // namespace tributary::receivers::tail
