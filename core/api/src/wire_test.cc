#include "tributary/core/wire.h"

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core::wire {
namespace {

using opentelemetry::proto::metrics::v1::Metric;

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(uint32_t number, Type type) {
  return Varint(static_cast<uint64_t>(number) << 3 | static_cast<uint32_t>(type));
}

TEST(WireWriterTest, WritesVarintsAndHeadersAsProtobufDoes) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{16383},
                     uint64_t{16384}, uint64_t{1} << 32, ~uint64_t{0}}) {
    uint8_t expected[10];
    const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(v, expected);
    std::string out = "x";
    AppendVarint(v, &out);
    EXPECT_EQ(out, "x" + std::string(reinterpret_cast<const char*>(expected), end - expected)) << v;
    EXPECT_EQ(VarintSize(v), google::protobuf::io::CodedOutputStream::VarintSize64(v)) << v;
  }
  // A ScopeLogs written field by field is what protobuf serializes.
  opentelemetry::proto::logs::v1::ScopeLogs scope_logs;
  scope_logs.mutable_scope()->set_name("tail");
  auto* record = scope_logs.add_log_records();
  record->mutable_body()->set_string_value(std::string(300, 'a'));
  std::string written;
  const std::string scope = scope_logs.scope().SerializeAsString();
  const std::string body = record->SerializeAsString();
  AppendLenHeader(1, scope.size(), &written);
  written += scope;
  AppendLenHeader(2, body.size(), &written);
  written += body;
  EXPECT_EQ(written, scope_logs.SerializeAsString());
  EXPECT_EQ(LenFieldSize(1, scope.size()) + LenFieldSize(2, body.size()), written.size());
  // Numbers from 16 take a two-byte tag.
  std::string wide;
  AppendLenHeader(16, 200, &wide);
  EXPECT_EQ(wide, Tag(16, Type::kLen) + Varint(200));
  EXPECT_EQ(LenFieldSize(16, 200), 2u + 2u + 200u);
}

TEST(WireReaderTest, ReadsEveryWireType) {
  std::string data = Tag(1, Type::kVarint) + Varint(300) + Tag(2, Type::kLen) + Varint(3) + "abc" +
                     Tag(3, Type::kFixed64) + std::string("\x01\0\0\0\0\0\0\x80", 8) +
                     Tag(4, Type::kFixed32) + std::string("\x02\0\0\0", 4) +
                     Tag(5, Type::kStartGroup) + Tag(6, Type::kVarint) + Varint(7) +
                     Tag(5, Type::kEndGroup) + Tag(536870911, Type::kVarint) + Varint(1);
  Reader reader(data);
  Field f;
  ASSERT_TRUE(reader.Next(&f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.type, Type::kVarint);
  EXPECT_EQ(f.value, 300u);
  ASSERT_TRUE(reader.Next(&f));
  EXPECT_EQ(f.number, 2u);
  EXPECT_EQ(f.type, Type::kLen);
  EXPECT_EQ(f.bytes, "abc");
  ASSERT_TRUE(reader.Next(&f));
  EXPECT_EQ(f.type, Type::kFixed64);
  EXPECT_EQ(f.value, 0x8000000000000001u);
  ASSERT_TRUE(reader.Next(&f));
  EXPECT_EQ(f.type, Type::kFixed32);
  EXPECT_EQ(f.value, 2u);
  ASSERT_TRUE(reader.Next(&f));
  EXPECT_EQ(f.number, 5u);
  EXPECT_EQ(f.type, Type::kStartGroup);
  EXPECT_EQ(f.bytes, Tag(6, Type::kVarint) + Varint(7));
  ASSERT_TRUE(reader.Next(&f));
  EXPECT_EQ(f.number, 536870911u);
  EXPECT_FALSE(reader.Next(&f));
  EXPECT_TRUE(reader.ok());
}

TEST(WireReaderTest, StopsOnMalformedData) {
  const std::string cases[] = {
      Tag(1, Type::kVarint) + "\x80",                                   // truncated varint
      Tag(1, Type::kVarint) + std::string(10, '\xff') + "\x01",         // eleven bytes
      Tag(2, Type::kLen) + Varint(4) + "abc",                           // length past the end
      Tag(3, Type::kFixed64) + "1234567",                               // truncated fixed64
      Tag(4, Type::kFixed32) + "123",                                   // truncated fixed32
      Varint(0) + Varint(1),                                            // field number 0
      std::string("\x88\x80\x80\x80\x80\x00", 6) + Varint(1),           // a tag of six bytes
      Varint(1 << 3 | 6),                                               // wire type 6
      Varint(1 << 3 | 7),                                               // wire type 7
      Tag(5, Type::kEndGroup),                                          // end without start
      Tag(5, Type::kStartGroup) + Tag(6, Type::kEndGroup),              // mismatched end
      Tag(5, Type::kStartGroup) + Tag(6, Type::kVarint) + Varint(1),    // unterminated
      Tag(2, Type::kLen) + std::string("\x80\x80\x80\x80\x80\x00", 6),  // a length of six bytes
      Tag(5, Type::kStartGroup) + Tag(2, Type::kLen) + std::string("\x81\x80\x80\x80\x80\x00", 6) +
          "x" + Tag(5, Type::kEndGroup),  // the same in a group
  };
  for (const std::string& data : cases) {
    Reader reader(data);
    Field f;
    while (reader.Next(&f)) {
    }
    EXPECT_FALSE(reader.ok()) << ::testing::PrintToString(data);
    EXPECT_EQ(CountOtlpRecords(Signal::kLogs, Tag(1, Type::kLen) + Varint(data.size()) + data),
              std::nullopt)
        << ::testing::PrintToString(data);
  }
}

TEST(CountOtlpRecordsTest, CountsSpansAndLogsAsParsed) {
  TracesRequest traces = testing::MakeSpans(3, "a");
  traces.MergeFrom(testing::MakeSpans(4, "b"));
  traces.mutable_resource_spans(1)->add_scope_spans()->add_spans()->set_name("extra");
  EXPECT_EQ(CountOtlpRecords(Signal::kTraces, traces.SerializeAsString()), CountRecords(traces));
  EXPECT_EQ(CountRecords(traces), 8u);

  LogsRequest logs;
  for (int r = 0; r < 3; ++r) {
    auto* rl = logs.add_resource_logs();
    for (int s = 0; s <= r; ++s) {
      auto* sl = rl->add_scope_logs();
      for (int i = 0; i < 5; ++i) sl->add_log_records()->mutable_body()->set_string_value("x");
    }
  }
  EXPECT_EQ(CountOtlpRecords(Signal::kLogs, logs.SerializeAsString()), 30u);
  EXPECT_EQ(CountOtlpRecords(Signal::kLogs, ""), 0u);
}

TEST(CountOtlpRecordsTest, CountsTheDataPointsOfEveryMetricType) {
  MetricsRequest request;
  auto* sm = request.add_resource_metrics()->add_scope_metrics();
  Metric* gauge = sm->add_metrics();
  for (int i = 0; i < 2; ++i) gauge->mutable_gauge()->add_data_points()->set_as_int(i);
  Metric* sum = sm->add_metrics();
  for (int i = 0; i < 3; ++i) sum->mutable_sum()->add_data_points()->set_as_double(i);
  sm->add_metrics()->mutable_histogram()->add_data_points()->set_count(1);
  for (int i = 0; i < 4; ++i) {
    sm->mutable_metrics(2)->mutable_histogram()->add_data_points()->set_count(i);
  }
  sm->add_metrics()->mutable_exponential_histogram()->add_data_points()->set_count(1);
  sm->add_metrics()->mutable_summary()->add_data_points()->set_count(1);
  sm->add_metrics()->set_name("no data");
  EXPECT_EQ(CountRecords(request), 12u);
  EXPECT_EQ(CountOtlpRecords(Signal::kMetrics, request.SerializeAsString()), 12u);
}

// Serialized messages concatenated are one message merged: a oneof member
// written twice adds its points, another member replaces them.
TEST(CountOtlpRecordsTest, FollowsTheOneofAsAParserDoes) {
  Metric two_points, three_points, one_sum;
  for (int i = 0; i < 2; ++i) two_points.mutable_gauge()->add_data_points();
  for (int i = 0; i < 3; ++i) three_points.mutable_gauge()->add_data_points();
  one_sum.mutable_sum()->add_data_points();
  for (const std::string& metric :
       {two_points.SerializeAsString() + three_points.SerializeAsString(),
        two_points.SerializeAsString() + one_sum.SerializeAsString(),
        one_sum.SerializeAsString() + two_points.SerializeAsString() +
            three_points.SerializeAsString()}) {
    std::string scope = Tag(2, Type::kLen) + Varint(metric.size()) + metric;
    std::string resource = Tag(2, Type::kLen) + Varint(scope.size()) + scope;
    std::string request = Tag(1, Type::kLen) + Varint(resource.size()) + resource;
    MetricsRequest parsed;
    ASSERT_TRUE(parsed.ParseFromString(request));
    EXPECT_EQ(CountOtlpRecords(Signal::kMetrics, request), CountRecords(parsed));
  }
}

TEST(CountOtlpRecordsTest, SkipsFieldsOfAnotherWireTypeAsAParserDoes) {
  // Field 1 of the request as a varint is an unknown field, not a resource.
  LogsRequest logs;
  logs.add_resource_logs()->add_scope_logs()->add_log_records();
  std::string request = Tag(1, Type::kVarint) + Varint(5) + logs.SerializeAsString() +
                        Tag(9, Type::kStartGroup) + Tag(1, Type::kLen) + Varint(0) +
                        Tag(9, Type::kEndGroup);
  LogsRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(request));
  EXPECT_EQ(CountOtlpRecords(Signal::kLogs, request), 1u);
  EXPECT_EQ(CountRecords(parsed), 1u);
}

TEST(CountOtlpRecordsTest, TwoRequestsConcatenatedAreTheirUnion) {
  std::string a = testing::MakeSpans(3).SerializeAsString();
  std::string b = testing::MakeSpans(5).SerializeAsString();
  EXPECT_EQ(CountOtlpRecords(Signal::kTraces, a + b), 8u);
  TracesRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(a + b));
  EXPECT_EQ(CountRecords(parsed), 8u);
}

// AnyValues written in pieces (concatenated serializations) read as
// protobuf parses them: the last member wins, a message member written again
// right after itself merges, one written after another member starts anew.
TEST(AnyValueTest, FollowsTheOneofAsAParserDoes) {
  using PbAnyValue = opentelemetry::proto::common::v1::AnyValue;
  auto kvlist = [](const std::string& key) {
    PbAnyValue v;
    auto* kv = v.mutable_kvlist_value()->add_values();
    kv->set_key(key);
    kv->mutable_value()->set_int_value(1);
    return v.SerializeAsString();
  };
  PbAnyValue text;
  text.set_string_value("s");
  PbAnyValue number;
  number.set_int_value(-5);
  const std::string cases[] = {
      text.SerializeAsString() + number.SerializeAsString(),
      kvlist("a") + kvlist("b"),
      kvlist("a") + text.SerializeAsString() + kvlist("c"),
      number.SerializeAsString() + text.SerializeAsString(),
  };
  for (const std::string& bytes : cases) {
    PbAnyValue parsed;
    ASSERT_TRUE(parsed.ParseFromString(bytes));
    AnyValue any;
    ASSERT_TRUE(ReadAnyValue(bytes, &any));
    EXPECT_EQ(any.member, static_cast<uint32_t>(parsed.value_case()));
    switch (parsed.value_case()) {
      case PbAnyValue::kStringValue:
        EXPECT_EQ(any.bytes.bytes(), parsed.string_value());
        break;
      case PbAnyValue::kIntValue:
        EXPECT_EQ(static_cast<int64_t>(any.value), parsed.int_value());
        break;
      case PbAnyValue::kKvlistValue: {
        opentelemetry::proto::common::v1::KeyValueList list;
        ASSERT_TRUE(list.ParseFromString(std::string(any.bytes.bytes())));
        ASSERT_EQ(list.values_size(), parsed.kvlist_value().values_size());
        for (int k = 0; k < list.values_size(); ++k) {
          EXPECT_EQ(list.values(k).key(), parsed.kvlist_value().values(k).key());
        }
        break;
      }
      default:
        ADD_FAILURE() << "unexpected member " << parsed.value_case();
    }
  }
}

TEST(AnyValueTest, StringAttributeIsTheFirstWithAStringValue) {
  opentelemetry::proto::resource::v1::Resource resource;
  auto* kv = resource.add_attributes();
  kv->set_key("topic");
  kv->mutable_value()->set_int_value(3);
  kv = resource.add_attributes();
  kv->set_key("topic");
  kv->mutable_value()->set_string_value("logs");
  kv = resource.add_attributes();
  kv->set_key("topic");
  kv->mutable_value()->set_string_value("later");
  const std::string bytes = resource.SerializeAsString();
  EXPECT_EQ(StringAttribute(bytes, 1, "topic"), "logs");
  EXPECT_EQ(StringAttribute(bytes, 1, "other"), std::nullopt);
  EXPECT_EQ(StringAttribute(bytes, 2, "topic"), std::nullopt);
}

}  // namespace
}  // namespace tributary::core::wire
