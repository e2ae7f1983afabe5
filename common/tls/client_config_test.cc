#include "common/tls/client_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace tributary::common::tls {
namespace {

using ::testing::HasSubstr;

absl::Status Read(const std::string& yaml, TlsClientConfig* out) {
  core::ConfigErrors errors;
  core::FieldReader::ReadStruct(YAML::Load(yaml), "test.yaml", "tls", &errors, *out);
  return errors.ToStatus();
}

TEST(TlsClientConfig, ReadsTheOpenTelemetryCollectorKeys) {
  TlsClientConfig c;
  ASSERT_TRUE(Read(R"(
insecure_skip_verify: true
ca_file: /etc/ca.pem
cert_file: /etc/client.pem
key_file: /etc/client.key
server_name_override: collector.internal
min_version: "1.3"
reload_interval: 5s
)",
                   &c)
                  .ok());
  EXPECT_FALSE(c.insecure);
  EXPECT_TRUE(c.insecure_skip_verify);
  EXPECT_EQ(c.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.cert_file, "/etc/client.pem");
  EXPECT_EQ(c.key_file, "/etc/client.key");
  EXPECT_EQ(c.server_name_override, "collector.internal");
  EXPECT_EQ(c.min_version, "1.3");
  EXPECT_EQ(c.reload_interval, std::chrono::seconds(5));
  EXPECT_TRUE(c.enabled);
}

TEST(TlsClientConfig, RefusesWhatIsInconsistent) {
  TlsClientConfig c;
  EXPECT_THAT(std::string(Read("cert_file: /a.pem\n", &c).message()),
              HasSubstr("cert_file and key_file go together"));
  c = {};
  EXPECT_THAT(std::string(Read("min_version: \"1.1\"\n", &c).message()),
              HasSubstr("min_version '1.1' is not 1.2 or 1.3"));
  c = {};
  EXPECT_THAT(std::string(Read("insecure_skip_verfy: true\n", &c).message()),
              HasSubstr("did you mean 'insecure_skip_verify'"));
}

TEST(TlsClientConfig, TheOldKafkaSwitchStillReads) {
  TlsClientConfig c;
  ASSERT_TRUE(Read("enabled: false\n", &c).ok());
  EXPECT_FALSE(c.enabled);
  EXPECT_TRUE(ValidateFor(c, {.client = "the Kafka client", .legacy_enabled = true}).ok());
  EXPECT_THAT(std::string(ValidateFor(c, {.client = "HTTP clients"}).message()),
              HasSubstr("tls.enabled is not read by HTTP clients"));
}

TEST(ValidateFor, RefusesWhatTheTransportCannotHonour) {
  TlsClientConfig c;
  c.server_name_override = "x";
  EXPECT_THAT(std::string(ValidateFor(c, {.client = "the Kafka client"}).message()),
              HasSubstr("server_name_override is not supported by the Kafka client"));
  EXPECT_TRUE(ValidateFor(c, {.client = "gRPC", .server_name_override = true}).ok());
  c = {};
  c.insecure_skip_verify = true;
  EXPECT_THAT(
      std::string(ValidateFor(c, {.client = "gRPC", .insecure_skip_verify = false}).message()),
      HasSubstr("insecure_skip_verify is not supported by gRPC"));
  c = {};
  c.min_version = "1.3";
  EXPECT_THAT(std::string(ValidateFor(c, {.client = "gRPC"}).message()),
              HasSubstr("min_version 1.3 is not supported by gRPC"));
  EXPECT_TRUE(ValidateFor(c, {.client = "curl", .min_version_1_3 = true}).ok());
}

}  // namespace
}  // namespace tributary::common::tls
