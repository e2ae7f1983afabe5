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

// Keys shaped like a connector's: a list of blocks and a list of durations.
struct Dimension {
  std::string name;
  std::string default_value;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("name", name, "attribute name");
    v.Optional("default", default_value, "value when the attribute is absent");
  }
  absl::Status Validate() const {
    return name.empty() ? absl::InvalidArgumentError("name must not be empty") : absl::OkStatus();
  }
};
struct ListsConfig {
  std::vector<Dimension> dimensions;
  std::vector<std::chrono::milliseconds> buckets{std::chrono::milliseconds(2),
                                                 std::chrono::seconds(1)};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("dimensions", dimensions, "extra attributes");
    v.Optional("buckets", buckets, "bucket bounds");
  }
};

ConfigErrors ReadLists(const std::string& text, ListsConfig* out) {
  ConfigErrors errors;
  FieldReader::ReadStruct(YAML::Load(text), "c.yaml", "connectors.x", &errors, *out);
  return errors;
}

TEST(ConfigListsTest, ReadsListsOfBlocksAndOfDurations) {
  ListsConfig config;
  ConfigErrors errors = ReadLists(
      "dimensions:\n  - name: http.method\n    default: GET\n  - {name: http.route}\n"
      "buckets: [100us, 2ms, 1.5s]\n",
      &config);
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(config.dimensions.size(), 2u);
  EXPECT_EQ(config.dimensions[0].name, "http.method");
  EXPECT_EQ(config.dimensions[0].default_value, "GET");
  EXPECT_EQ(config.dimensions[1].name, "http.route");
  EXPECT_EQ(config.dimensions[1].default_value, "");
  // Each duration is kept to the field's resolution.
  EXPECT_EQ(config.buckets, (std::vector<std::chrono::milliseconds>{
                                std::chrono::milliseconds(0), std::chrono::milliseconds(2),
                                std::chrono::milliseconds(1500)}));
}

TEST(ConfigListsTest, ErrorsNameTheItemAndItsKey) {
  ListsConfig config;
  const std::string errors =
      ReadLists(
          "dimensions:\n  - name: a\n  - {name: b, colour: red}\n  - {default: x}\n  -\n"
          "buckets: [2ms, soon]\n",
          &config)
          .ToString();
  EXPECT_THAT(errors, HasSubstr("connectors.x.dimensions[1].colour"));
  EXPECT_THAT(errors, HasSubstr("connectors.x.dimensions[2].name: required key is missing"));
  EXPECT_THAT(errors, HasSubstr("connectors.x.dimensions[2]: name must not be empty"));
  EXPECT_THAT(errors, HasSubstr("connectors.x.dimensions[3]: expected a value"));
  EXPECT_THAT(errors, HasSubstr("connectors.x.buckets[1]"));
  EXPECT_THAT(ReadLists("dimensions: http.method\n", &config).ToString(),
              HasSubstr("connectors.x.dimensions: expected a list"));
}

TEST(ConfigListsTest, TheReferenceDescribesEachItemsKeys) {
  std::vector<FieldDoc> docs = DescribeConfig<ListsConfig>();
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs[0].key, "dimensions");
  EXPECT_EQ(docs[0].type, "list of blocks");
  EXPECT_EQ(docs[1].key, "dimensions[].name");
  EXPECT_TRUE(docs[1].required);
  EXPECT_EQ(docs[2].key, "dimensions[].default");
  EXPECT_EQ(docs[3].key, "buckets");
  EXPECT_EQ(docs[3].type, "list of durations");
  EXPECT_EQ(docs[3].default_value, "`[2ms, 1s]`");
}

struct CarriedOverConfig {
  std::string endpoint;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint, "where to send");
    v.Unsupported("auth", "use headers");
  }
};

TEST(ConfigUnsupportedTest, AKeyNotImplementedIsRefusedByNameAndDocumented) {
  CarriedOverConfig config;
  ConfigErrors errors;
  FieldReader::ReadStruct(YAML::Load("endpoint: x\nauth: {authenticator: basicauth}\n"), "c.yaml",
                          "exporters.otlphttp", &errors, config);
  EXPECT_EQ(errors.ToString(), "c.yaml:2:1: exporters.otlphttp.auth: not supported: use headers");
  ConfigErrors none;
  FieldReader::ReadStruct(YAML::Load("endpoint: x\n"), "c.yaml", "exporters.otlphttp", &none,
                          config);
  EXPECT_TRUE(none.empty()) << none.ToString();
  std::vector<FieldDoc> docs = DescribeConfig<CarriedOverConfig>();
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[1].key, "auth");
  EXPECT_EQ(docs[1].help, "not supported: use headers");
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
