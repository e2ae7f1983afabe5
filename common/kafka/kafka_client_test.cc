#include "common/kafka/kafka_client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace tributary::common::kafka {
namespace {

ClientConfig Read(const std::string& yaml) {
  ClientConfig c;
  core::ConfigErrors errors;
  core::FieldReader::ReadStruct(YAML::Load(yaml), "test.yaml", "kafka", &errors, c);
  EXPECT_TRUE(errors.empty()) << errors.ToString();
  return c;
}

std::string Property(const ConfPtr& conf, const char* name) {
  char value[512];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(conf.get(), name, value, &size) != RD_KAFKA_CONF_OK) return "(unset)";
  return value;
}

std::string SecurityProtocol(const std::string& yaml) {
  absl::StatusOr<ConfPtr> conf = BuildConf(Read(yaml), {});
  EXPECT_TRUE(conf.ok()) << conf.status();
  return conf.ok() ? Property(*conf, "security.protocol") : "(error)";
}

TEST(KafkaClientConfig, TlsIsOnWhereTheBlockIsUnlessInsecure) {
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\n"), "plaintext");
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\ntls:\n"), "ssl");
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\ntls: {ca_file: /etc/ca.pem}\n"), "ssl");
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\ntls: {insecure: true}\n"), "plaintext");
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\nsasl: {username: u}\ntls:\n"), "sasl_ssl");
}

TEST(KafkaClientConfig, TheOldEnabledSpellingKeepsItsMeaning) {
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\ntls: {enabled: true}\n"), "ssl");
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\ntls: {enabled: false}\n"), "plaintext");
}

TEST(KafkaClientConfig, TlsFilesAndVerificationReachLibrdkafka) {
  absl::StatusOr<ConfPtr> conf = BuildConf(
      Read("brokers: [b:9092]\ntls: {ca_file: /etc/ca.pem, insecure_skip_verify: true}\n"), {});
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_EQ(Property(*conf, "ssl.ca.location"), "/etc/ca.pem");
  EXPECT_EQ(Property(*conf, "enable.ssl.certificate.verification"), "false");
}

TEST(KafkaClientConfig, RefusesTlsSettingsLibrdkafkaCannotHonour) {
  ClientConfig c;
  core::ConfigErrors errors;
  core::FieldReader::ReadStruct(YAML::Load("tls: {min_version: \"1.3\"}\n"), "test.yaml", "kafka",
                                &errors, c);
  EXPECT_THAT(errors.ToString(), ::testing::HasSubstr("not supported by the Kafka client"));
}

TEST(KafkaClientConfig, SaslWithoutTlsIsRefusedUnlessAllowed) {
  ClientConfig c;
  core::ConfigErrors errors;
  core::FieldReader::ReadStruct(YAML::Load("sasl: {username: u, password: secret}\n"), "test.yaml",
                                "kafka", &errors, c);
  EXPECT_THAT(errors.ToString(), ::testing::HasSubstr("sasl.allow_plaintext"));
  EXPECT_THAT(errors.ToString(), ::testing::Not(::testing::HasSubstr("secret")));
  core::ConfigErrors insecure;
  core::FieldReader::ReadStruct(YAML::Load("sasl: {username: u}\ntls: {insecure: true}\n"),
                                "test.yaml", "kafka", &insecure, c);
  EXPECT_THAT(insecure.ToString(), ::testing::HasSubstr("unencrypted"));
  EXPECT_EQ(SecurityProtocol("brokers: [b:9092]\nsasl: {username: u, allow_plaintext: true}\n"),
            "sasl_plaintext");
}

TEST(KafkaDecodeMessage, AValidRequestStaysSerializedAndJoinsByConcatenation) {
  core::TracesRequest r;
  auto* span = r.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, '\x01'));
  span->set_span_id(std::string(8, '\x02'));
  span->set_name("GET /");
  auto a = DecodeMessage(core::Signal::kTraces, Encoding::kOtlpProto, r.SerializeAsString());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_NE(a->wire(), nullptr);
  EXPECT_EQ(a->record_count(), 1u);
  auto b = DecodeMessage(core::Signal::kTraces, Encoding::kOtlpProto, r.SerializeAsString());
  ASSERT_TRUE(b.ok());
  a->Append(std::move(*b));
  ASSERT_NE(a->wire(), nullptr);
  EXPECT_EQ(a->record_count(), 2u);
  EXPECT_EQ(a->traces().resource_spans_size(), 2);
  // A name that is not UTF-8: protobuf refuses it, and so does the decoder.
  span->set_name(std::string("\xff\xfe"));
  std::string bad;
  r.SerializePartialToString(&bad);
  EXPECT_FALSE(DecodeMessage(core::Signal::kTraces, Encoding::kOtlpProto, bad).ok());
}

}  // namespace
}  // namespace tributary::common::kafka
