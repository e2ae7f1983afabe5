#include "tributary/core/config.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/registry.h"
#include "tributary/core/runtime/service.h"

namespace tributary::core::runtime {
namespace {

using ::testing::HasSubstr;

TEST(ParseDurationTest, AcceptsUnitsAndCompounds) {
  EXPECT_EQ(*ParseDuration("200ms"), std::chrono::milliseconds(200));
  EXPECT_EQ(*ParseDuration("5s"), std::chrono::seconds(5));
  EXPECT_EQ(*ParseDuration("1m30s"), std::chrono::seconds(90));
  EXPECT_EQ(*ParseDuration("1.5h"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseDuration("0"), std::chrono::nanoseconds(0));
}

TEST(ParseDurationTest, RejectsMissingOrUnknownUnits) {
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("5 parsecs").ok());
  EXPECT_FALSE(ParseDuration("ms").ok());
  EXPECT_FALSE(ParseDuration("").ok());
}

TEST(ByteSizeTest, ParsesBinaryAndDecimalUnits) {
  EXPECT_EQ(ByteSize::Parse("4MiB")->bytes, 4u << 20);
  EXPECT_EQ(ByteSize::Parse("1GB")->bytes, 1000000000u);
  EXPECT_EQ(ByteSize::Parse("512")->bytes, 512u);
  EXPECT_EQ(ByteSize::Parse("64 KiB")->bytes, 65536u);
  EXPECT_FALSE(ByteSize::Parse("4 furlongs").ok());
  EXPECT_FALSE(ByteSize::Parse("MiB").ok());
  EXPECT_EQ(ByteSize{4u << 20}.ToString(), "4MiB");
}

TEST(ExpandEnvTest, SubstitutesBothFormsAndDefaults) {
  setenv("TRIBUTARY_TEST_VAR", "value", 1);
  unsetenv("TRIBUTARY_TEST_UNSET");
  EXPECT_EQ(*ExpandEnv("a ${env:TRIBUTARY_TEST_VAR} ${TRIBUTARY_TEST_VAR}"), "a value value");
  EXPECT_EQ(*ExpandEnv("${env:TRIBUTARY_TEST_UNSET:-fallback}"), "fallback");
  EXPECT_EQ(*ExpandEnv("$$HOME"), "$HOME");
  EXPECT_FALSE(ExpandEnv("${unterminated").ok());
  EXPECT_FALSE(ExpandEnv("${bad name}").ok());
}

class LoadConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { RegisterAllComponents(registry_); }
  absl::StatusOr<ServiceConfig> Load(const std::string& text) {
    return LoadConfigText(registry_, text, "test.yaml");
  }
  Registry registry_;
};

constexpr char kValid[] = R"(receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 1s
exporters:
  file:
    path: /tmp/x.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
)";

TEST_F(LoadConfigTest, AcceptsValidConfig) {
  auto config = Load(kValid);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->pipelines.size(), 1u);
  EXPECT_EQ(config->pipelines[0].signal, Signal::kTraces);
  EXPECT_EQ(config->pipelines[0].exporters[0].type, "file");
}

TEST_F(LoadConfigTest, UnknownKeyNamesFileLineKeyAndHint) {
  std::string text = kValid;
  text.replace(text.find("path:"), 5, "pth:");
  auto config = Load(text);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("test.yaml:11:5: exporters.file.pth: unknown key (did you mean 'path'?)"));
  // The required key is then missing too.
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("exporters.file.path: required key is missing"));
}

TEST_F(LoadConfigTest, WrongTypesAndBadDurationsAreReported) {
  std::string text = kValid;
  text.replace(text.find("timeout: 1s"), 11, "timeout: soon");
  auto config = Load(text);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("test.yaml:8:14: processors.batch.timeout: 'soon' is not a duration"));

  text = kValid;
  text.replace(text.find("timeout: 1s"), 11, "send_batch_size: many");
  config = Load(text);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("processors.batch.send_batch_size: expected an integer"));
}

TEST_F(LoadConfigTest, DanglingReferenceNamesItsLine) {
  std::string text = kValid;
  text.replace(text.find("exporters: [file]"), 17, "exporters: [fille]");
  auto config = Load(text);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("test.yaml:17:19: service.pipelines.traces.exporters: references exporter "
                        "'fille', which is not defined (did you mean 'file'?)"));
}

TEST_F(LoadConfigTest, UnknownComponentTypeAndPipelineSignal) {
  std::string text = kValid;
  text.replace(text.find("  file:"), 7, "  filee:");
  auto config = Load(text);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("exporters.filee: unknown type 'filee' (did you mean 'file'?)"));

  text = kValid;
  text.replace(text.find("    traces:"), 11, "    spans:");
  config = Load(text);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("pipeline id must be traces, metrics or logs"));
}

TEST_F(LoadConfigTest, YamlSyntaxErrorHasLine) {
  auto config = Load("receivers:\n  otlp: [\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("test.yaml:"));
}

}  // namespace
}  // namespace tributary::core::runtime
