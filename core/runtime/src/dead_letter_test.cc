#include "tributary/core/runtime/dead_letter.h"

#include <filesystem>
#include <fstream>
#include <future>

#include "gtest/gtest.h"
#include "tributary/core/runtime/exporter_runner.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core::runtime {
namespace {

using testing::MetricValue;
using testing::TempDir;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(DeadLetterFile, WritesOneJsonLinePerBatchWithTheErrorAndRotates) {
  TempDir dir;
  DeadLetterConfig config;
  config.path = dir.path() + "/dead.jsonl";
  config.max_size.bytes = 1500;
  DeadLetterFile file(config);
  Batch batch(testing::MakeSpans(2, "svc"));
  ASSERT_TRUE(file.Write("otlp/x", batch, absl::InvalidArgumentError("mapping \"error\"")).ok());
  std::vector<std::string> lines = Lines(config.path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"exporter\":\"otlp/x\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"signal\":\"traces\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"records\":2"), std::string::npos);
  EXPECT_NE(lines[0].find("mapping \\\"error\\\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"resourceSpans\""), std::string::npos);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(file.Write("otlp/x", batch, absl::OkStatus()).ok());
  EXPECT_FALSE(Lines(config.path + ".1").empty());
  EXPECT_LE(std::filesystem::file_size(config.path), 1500u);
}

// Refuses every batch for good.
class RefusingExporter : public Exporter {
 public:
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(Deadline) noexcept override {}
  absl::Status Export(const Batch&, ExportReport&) noexcept override {
    return absl::InvalidArgumentError("document rejected by mapping");
  }
};

TEST(DeadLetterFile, ExporterRunnerSendsPermanentFailuresThereAndCountsThem) {
  TempDir dir;
  DeadLetterConfig config;
  config.path = dir.path() + "/dead.jsonl";
  ExporterRunner runner("refusing/dl", std::make_unique<RefusingExporter>(), QueueConfig{},
                        RetryConfig{}, config);
  ASSERT_TRUE(runner.Start().ok());
  std::promise<absl::Status> done;
  Envelope e;
  e.batch = std::make_shared<const Batch>(testing::MakeSpans(3));
  e.acks.push_back(std::make_shared<Ack>([&](const absl::Status& s) { done.set_value(s); }));
  ASSERT_TRUE(runner.Consume(std::move(e)).ok());
  EXPECT_EQ(done.get_future().get().code(), absl::StatusCode::kInvalidArgument);
  runner.Shutdown(Clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(Lines(config.path).size(), 1u);
  EXPECT_EQ(MetricValue("tributary_dead_lettered_records_total", {{"exporter", "refusing/dl"}}), 3);
  EXPECT_EQ(MetricValue("tributary_dropped_records_total", {{"component", "refusing/dl"}}), 0);
}

}  // namespace
}  // namespace tributary::core::runtime
