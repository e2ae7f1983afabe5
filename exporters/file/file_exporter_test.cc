#include "exporters/file/file_exporter.h"

#include <dirent.h>

#include <fstream>

#include "gtest/gtest.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::exporters::file {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string FreshDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/" + name;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  return dir;
}

TEST(FileExporterTest, WritesOneOtlpJsonRequestPerLine) {
  std::string dir = FreshDir("file_exporter_lines");
  FileExporterConfig config;
  config.path = dir + "/out.jsonl";
  FileExporter exporter(config);
  ASSERT_TRUE(exporter.Start().ok());
  core::ExportReport report;
  core::Batch a(core::testing::MakeSpans(2));
  core::Batch b(core::testing::MakeSpans(3, "other"));
  ASSERT_TRUE(exporter.Export(a, report).ok());
  ASSERT_TRUE(exporter.Export(b, report).ok());
  exporter.Shutdown(core::Clock::now());
  auto lines = ReadLines(config.path);
  ASSERT_EQ(lines.size(), 2u);
  auto back = core::DecodeOtlpJson(core::Signal::kTraces, lines[1]);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->traces().SerializeAsString(), b.traces().SerializeAsString());
}

TEST(FileExporterTest, RotatesBySizeAndKeepsMaxBackups) {
  std::string dir = FreshDir("file_exporter_rotation");
  FileExporterConfig config;
  config.path = dir + "/out.jsonl";
  config.rotation.max_megabytes = 1;
  config.rotation.max_backups = 2;
  FileExporter exporter(config);
  ASSERT_TRUE(exporter.Start().ok());
  core::Batch big(core::testing::MakeSpans(2000));  // about 300 KiB of JSON
  core::ExportReport report;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(exporter.Export(big, report).ok());
  exporter.Shutdown(core::Clock::now());
  int files = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) files += std::string(e->d_name).rfind("out.jsonl", 0) == 0;
  closedir(d);
  EXPECT_EQ(files, 3);  // the live file and two backups
  EXPECT_FALSE(ReadLines(config.path).empty());
}

// A batch read back from the buffer as bytes is written from them: the same
// line as from its objects. Bytes that do not parse are refused for good and
// leave nothing in the file.
TEST(FileExporterTest, WritesBatchesHeldAsBytes) {
  std::string dir = FreshDir("file_exporter_wire");
  FileExporterConfig config;
  config.path = dir + "/out.jsonl";
  FileExporter exporter(config);
  ASSERT_TRUE(exporter.Start().ok());
  const core::Batch objects(core::testing::MakeSpans(5));
  const core::Batch bytes(core::Signal::kTraces, objects.traces().SerializeAsString(),
                          objects.record_count());
  core::ExportReport report;
  ASSERT_TRUE(exporter.Export(objects, report).ok());
  ASSERT_TRUE(exporter.Export(bytes, report).ok());
  const core::Batch broken(core::Signal::kTraces, std::string("\x0a\x09\x12", 3), 1);
  EXPECT_EQ(exporter.Export(broken, report).code(), absl::StatusCode::kDataLoss);
  exporter.Shutdown(core::Clock::now());
  const auto lines = ReadLines(config.path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], lines[1]);
  EXPECT_EQ(lines[0], core::EncodeOtlpJson(objects));
}

TEST(FileExporterTest, UnwritablePathIsRetryable) {
  FileExporterConfig config;
  config.path = "/nonexistent-dir/out.jsonl";
  FileExporter exporter(config);
  EXPECT_EQ(exporter.Start().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tributary::exporters::file
