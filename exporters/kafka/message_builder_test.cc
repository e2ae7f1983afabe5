#include "exporters/kafka/message_builder.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/testing/golden.h"
#include "tributary/core/testing/otlp_corpus.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::exporters::kafka {

using common::kafka::Encoding;
namespace {

using core::Batch;
using core::LogsRequest;
using core::TracesRequest;

void SetAttr(opentelemetry::proto::resource::v1::Resource* r, const std::string& k,
             const std::string& v) {
  auto* kv = r->add_attributes();
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

LogsRequest MakeLogs(int resources, int per_resource, size_t body_bytes) {
  LogsRequest req;
  for (int r = 0; r < resources; ++r) {
    auto* rl = req.add_resource_logs();
    SetAttr(rl->mutable_resource(), "service.name", "svc" + std::to_string(r));
    rl->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    auto* sl = rl->add_scope_logs();
    sl->mutable_scope()->set_name("scope" + std::to_string(r));
    for (int i = 0; i < per_resource; ++i) {
      auto* rec = sl->add_log_records();
      rec->set_time_unix_nano(1700000000000000000ull + i);
      std::string body = "r" + std::to_string(r) + " line " + std::to_string(i) + " ";
      body.resize(std::max(body.size(), body_bytes), 'x');
      rec->mutable_body()->set_string_value(body);
    }
  }
  return req;
}

// Decodes every message and returns the records of all of them, in order,
// each paired with its resource's service name.
std::vector<std::pair<std::string, std::string>> LogBodies(const std::vector<Message>& messages) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Message& m : messages) {
    LogsRequest req;
    EXPECT_TRUE(req.ParseFromString(m.value));
    for (const auto& rl : req.resource_logs()) {
      for (const auto& sl : rl.scope_logs()) {
        EXPECT_EQ(sl.scope().name().substr(0, 5), "scope");
        for (const auto& rec : sl.log_records()) {
          out.emplace_back(rl.resource().attributes(0).value().string_value(),
                           rec.body().string_value());
        }
      }
      EXPECT_EQ(rl.schema_url(), "https://opentelemetry.io/schemas/1.21.0");
    }
  }
  return out;
}

// The messages of a corpus that uses every field, each signal in both
// encodings, cut small, from a batch of objects and from one of serialized
// bytes, are the golden file's: topic, key, records, size and a hash of the
// value of each (TRIBUTARY_UPDATE_GOLDEN=1 writes it instead).
TEST(MessageBuilder, MessagesAreTheGoldenFile) {
  core::testing::OtlpCorpus corpus(21);
  const std::vector<Batch> batches = {Batch(corpus.Logs(5, 3)), Batch(corpus.Traces(5, 3)),
                                      Batch(corpus.Metrics(5, 10))};
  auto fnv = [](std::string_view bytes) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    return h;
  };
  std::string got;
  for (const Batch& batch : batches) {
    const Batch wire(batch.signal(), batch.message().SerializeAsString(), batch.record_count());
    for (const Encoding encoding : {Encoding::kOtlpProto, Encoding::kOtlpJson}) {
      MessageOptions options;
      options.encoding = encoding;
      options.topic = "otlp";
      options.topic_from_attribute = "host.name";
      options.max_message_bytes = 3000;
      std::vector<Message> messages, from_wire;
      std::vector<Batch> oversized, oversized_from_wire;
      BuildMessages(batch, options, &messages, &oversized);
      BuildMessages(wire, options, &from_wire, &oversized_from_wire);
      ASSERT_EQ(messages.size(), from_wire.size());
      ASSERT_EQ(oversized.size(), oversized_from_wire.size());
      for (size_t i = 0; i < messages.size(); ++i) {
        const Message& m = messages[i];
        EXPECT_EQ(m.topic, from_wire[i].topic);
        EXPECT_EQ(m.key, from_wire[i].key);
        EXPECT_EQ(m.records, from_wire[i].records);
        EXPECT_TRUE(m.value == from_wire[i].value) << i;
        absl::StrAppend(&got, m.topic, "\t", m.key, "\t", m.records, "\t", m.value.size(), "\t",
                        absl::Hex(fnv(m.value), absl::kZeroPad16), "\n");
      }
      for (const Batch& b : oversized) absl::StrAppend(&got, "oversized\t", b.record_count(), "\n");
    }
  }
  const std::string path = TRIBUTARY_SOURCE_DIR "/tests/golden/kafka_messages.tsv";
  core::testing::ExpectGolden(path, got);
}

TEST(MessageBuilder, LogsAreKeyedByResourceAndKeepEveryField) {
  const LogsRequest req = MakeLogs(3, 5, 10);
  const Batch batch(req);
  MessageOptions options;
  options.topic = "otlp_logs";
  std::vector<Message> messages;
  std::vector<Batch> oversized;
  BuildMessages(batch, options, &messages, &oversized);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_TRUE(oversized.empty());
  std::set<std::string> keys;
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].topic, "otlp_logs");
    EXPECT_EQ(messages[i].records, 5u);
    EXPECT_EQ(messages[i].key, ResourceKey(req.resource_logs(i).resource().SerializeAsString()));
    keys.insert(messages[i].key);
    // Each message is exactly the request of that one resource.
    LogsRequest one;
    *one.add_resource_logs() = req.resource_logs(i);
    LogsRequest got;
    ASSERT_TRUE(got.ParseFromString(messages[i].value));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(one, got));
    EXPECT_EQ(messages[i].value, one.SerializeAsString());
  }
  EXPECT_EQ(keys.size(), 3u);
}

TEST(MessageBuilder, SameResourcesShareOneMessage) {
  LogsRequest req = MakeLogs(2, 3, 10);
  // Both resources describe the same service: one key, one message.
  req.mutable_resource_logs(1)->mutable_resource()->CopyFrom(req.resource_logs(0).resource());
  std::vector<Message> messages;
  std::vector<Batch> oversized;
  BuildMessages(Batch(req), MessageOptions{}, &messages, &oversized);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].records, 6u);
  LogsRequest got;
  ASSERT_TRUE(got.ParseFromString(messages[0].value));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(req, got));
}

TEST(MessageBuilder, LargeGroupsAreCutToMaxMessageBytes) {
  const LogsRequest req = MakeLogs(2, 500, 200);
  MessageOptions options;
  options.max_message_bytes = 4096;
  std::vector<Message> messages;
  std::vector<Batch> oversized;
  BuildMessages(Batch(req), options, &messages, &oversized);
  EXPECT_TRUE(oversized.empty());
  EXPECT_GT(messages.size(), 40u);
  size_t records = 0;
  for (const Message& m : messages) {
    EXPECT_LE(m.value.size(), 4096u);
    // Cut greedily: no message is less than half full but the last of a group.
    records += m.records;
  }
  EXPECT_EQ(records, 1000u);
  const auto bodies = LogBodies(messages);
  ASSERT_EQ(bodies.size(), 1000u);
  for (int r = 0; r < 2; ++r) {
    for (int i = 0; i < 500; ++i) {
      const auto& [service, body] = bodies[r * 500 + i];
      EXPECT_EQ(service, "svc" + std::to_string(r));
      EXPECT_EQ(body.substr(0, body.find(' ', body.find(' ') + 1) + 1 + std::to_string(i).size()),
                "r" + std::to_string(r) + " line " + std::to_string(i));
    }
  }
}

TEST(MessageBuilder, RecordTooLargeAloneIsOversized) {
  LogsRequest req = MakeLogs(1, 3, 100);
  req.mutable_resource_logs(0)
      ->mutable_scope_logs(0)
      ->mutable_log_records(1)
      ->mutable_body()
      ->set_string_value(std::string(5000, 'y'));
  MessageOptions options;
  options.max_message_bytes = 2048;
  std::vector<Message> messages;
  std::vector<Batch> oversized;
  BuildMessages(Batch(req), options, &messages, &oversized);
  ASSERT_EQ(oversized.size(), 1u);
  EXPECT_EQ(oversized[0].record_count(), 1u);
  EXPECT_EQ(oversized[0].logs().resource_logs(0).scope_logs(0).log_records(0).body().string_value(),
            std::string(5000, 'y'));
  EXPECT_EQ(oversized[0].logs().resource_logs(0).resource().attributes(0).value().string_value(),
            "svc0");
  size_t records = 0;
  for (const Message& m : messages) records += m.records;
  EXPECT_EQ(records, 2u);
}

TEST(MessageBuilder, SpansAreGroupedByTraceAcrossResources) {
  TracesRequest req = core::testing::MakeSpans(6, "a");
  TracesRequest more = core::testing::MakeSpans(4, "b");
  // Spans i and i+3 of "a" share a trace, and "b"'s spans join "a"'s traces.
  auto* spans = req.mutable_resource_spans(0)->mutable_scope_spans(0);
  for (int i = 3; i < 6; ++i) spans->mutable_spans(i)->set_trace_id(spans->spans(i - 3).trace_id());
  auto* bspans = more.mutable_resource_spans(0)->mutable_scope_spans(0);
  for (int i = 0; i < 4; ++i)
    bspans->mutable_spans(i)->set_trace_id(spans->spans(i % 3).trace_id());
  *req.add_resource_spans() = more.resource_spans(0);

  std::vector<Message> messages;
  std::vector<Batch> oversized;
  MessageOptions options;
  options.topic = "otlp_spans";
  BuildMessages(Batch(req), options, &messages, &oversized);
  ASSERT_EQ(messages.size(), 3u);
  size_t total = 0;
  for (const Message& m : messages) {
    TracesRequest got;
    ASSERT_TRUE(got.ParseFromString(m.value));
    EXPECT_EQ(m.key.size(), 32u);
    for (const auto& rs : got.resource_spans()) {
      ASSERT_EQ(rs.resource().attributes_size(), 1);
      const std::string service = rs.resource().attributes(0).value().string_value();
      for (const auto& ss : rs.scope_spans()) {
        EXPECT_EQ(ss.scope().name(), "scope");
        for (const auto& span : ss.spans()) {
          ++total;
          std::string hex;
          for (unsigned char c : span.trace_id()) {
            hex += "0123456789abcdef"[c >> 4];
            hex += "0123456789abcdef"[c & 15];
          }
          EXPECT_EQ(hex, m.key);
          EXPECT_TRUE(service == "a" || service == "b");
        }
      }
    }
  }
  EXPECT_EQ(total, 10u);
  // The trace of spans 0, 3 and b0, b3: one message with two resource blocks.
  TracesRequest first;
  ASSERT_TRUE(first.ParseFromString(messages[0].value));
  ASSERT_EQ(first.resource_spans_size(), 2);
  EXPECT_EQ(first.resource_spans(0).scope_spans(0).spans_size(), 2);
  EXPECT_EQ(first.resource_spans(1).scope_spans(0).spans_size(), 2);
}

TEST(MessageBuilder, TopicFromResourceAttribute) {
  LogsRequest req = MakeLogs(2, 2, 10);
  SetAttr(req.mutable_resource_logs(1)->mutable_resource(), "kafka.topic", "team-b");
  MessageOptions options;
  options.topic = "otlp_logs";
  options.topic_from_attribute = "kafka.topic";
  std::vector<Message> messages;
  std::vector<Batch> oversized;
  BuildMessages(Batch(req), options, &messages, &oversized);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].topic, "otlp_logs");
  EXPECT_EQ(messages[1].topic, "team-b");
}

TEST(MessageBuilder, JsonEncodingDecodesToTheSameRecords) {
  const LogsRequest req = MakeLogs(2, 50, 40);
  MessageOptions options;
  options.encoding = Encoding::kOtlpJson;
  options.max_message_bytes = 2048;
  std::vector<Message> messages;
  std::vector<Batch> oversized;
  BuildMessages(Batch(req), options, &messages, &oversized);
  EXPECT_GT(messages.size(), 2u);
  LogsRequest all;
  for (const Message& m : messages) {
    EXPECT_LE(m.value.size(), 2048u);
    EXPECT_EQ(m.value.front(), '{');
    auto batch = core::DecodeOtlpJson(core::Signal::kLogs, m.value);
    ASSERT_TRUE(batch.ok()) << batch.status();
    EXPECT_EQ(batch->record_count(), m.records);
    for (const auto& rl : batch->logs().resource_logs()) *all.add_resource_logs() = rl;
  }
  size_t n = 0;
  for (const auto& rl : all.resource_logs()) {
    for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
  }
  EXPECT_EQ(n, 100u);
}

TEST(MessageBuilder, UnkeyedWhenPartitioningIsOff) {
  MessageOptions options;
  options.key_by_resource = false;
  std::vector<Message> messages;
  std::vector<Batch> oversized;
  BuildMessages(Batch(MakeLogs(3, 2, 10)), options, &messages, &oversized);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].key.empty());
  EXPECT_EQ(messages[0].records, 6u);
}

TEST(MessageBuilder, ResourceKeyIgnoresAttributeOrder) {
  opentelemetry::proto::resource::v1::Resource a, b, c;
  SetAttr(&a, "service.name", "x");
  SetAttr(&a, "k8s.pod.name", "p");
  SetAttr(&b, "k8s.pod.name", "p");
  SetAttr(&b, "service.name", "x");
  SetAttr(&c, "service.name", "y");
  SetAttr(&c, "k8s.pod.name", "p");
  EXPECT_EQ(ResourceKey(a.SerializeAsString()), ResourceKey(b.SerializeAsString()));
  EXPECT_NE(ResourceKey(a.SerializeAsString()), ResourceKey(c.SerializeAsString()));
  EXPECT_EQ(ResourceKey(a.SerializeAsString()).size(), 16u);
}

// A request whose resource block is written in two pieces (the resource
// twice, a schema URL between the scopes) is composed as protobuf parses it:
// the resource merged for the key, every record kept with its resource.
TEST(MessageBuilder, BlocksWrittenInPiecesComposeAsParsed) {
  LogsRequest first = MakeLogs(1, 2, 10);
  LogsRequest second;
  auto* rl = second.add_resource_logs();
  SetAttr(rl->mutable_resource(), "k8s.pod.name", "p");
  rl->add_scope_logs()->add_log_records()->mutable_body()->set_string_value("third");
  // Field 1 of each request is its resource block: the two blocks' fields
  // joined make one block written in pieces.
  const std::string joined =
      first.resource_logs(0).SerializeAsString() + second.resource_logs(0).SerializeAsString();
  std::string wire;
  wire.push_back('\x0a');
  for (size_t n = joined.size();; n >>= 7) {
    wire.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
    if (n < 0x80) break;
  }
  wire += joined;
  LogsRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  ASSERT_EQ(parsed.resource_logs_size(), 1);
  ASSERT_EQ(parsed.resource_logs(0).resource().attributes_size(), 2);

  std::vector<Message> messages;
  std::vector<Batch> oversized;
  ASSERT_TRUE(
      BuildMessages(Batch(core::Signal::kLogs, wire, 3), MessageOptions{}, &messages, &oversized));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].key, ResourceKey(parsed.resource_logs(0).resource().SerializeAsString()));
  LogsRequest decoded;
  ASSERT_TRUE(decoded.ParseFromString(messages[0].value));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decoded, parsed));
}

}  // namespace
}  // namespace tributary::exporters::kafka
