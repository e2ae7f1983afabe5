#include "exporters/file/file_exporter.h"

#include <dirent.h>
#include <sys/stat.h>
#include <utime.h>

#include <fstream>
#include <sstream>

#include "common/compress/zstd.h"
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

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The length-prefixed messages of a file the Collector's `proto` format or
// its zstd compression wrote.
std::vector<std::string> Frames(const std::string& data) {
  std::vector<std::string> out;
  for (size_t at = 0; at + 4 <= data.size();) {
    const uint32_t n =
        (static_cast<uint8_t>(data[at]) << 24) | (static_cast<uint8_t>(data[at + 1]) << 16) |
        (static_cast<uint8_t>(data[at + 2]) << 8) | static_cast<uint8_t>(data[at + 3]);
    out.push_back(data.substr(at + 4, n));
    at += 4 + n;
  }
  return out;
}

// The Collector's `format: proto`, `compression: zstd`, `append` and
// `create_directory`.
TEST(FileExporterTest, ProtoFormatZstdAppendAndDirectory) {
  const std::string dir = FreshDir("file_exporter_formats");
  const core::TracesRequest spans = core::testing::MakeSpans(3);
  core::ExportReport report;
  {
    FileExporterConfig config;
    config.path = dir + "/new/sub/out.pb";
    config.format = "proto";
    config.create_directory = true;
    ASSERT_TRUE(config.Validate().ok());
    FileExporter exporter(config);
    ASSERT_TRUE(exporter.Start().ok()) << "create_directory";
    ASSERT_TRUE(exporter.Export(core::Batch(spans), report).ok());
    ASSERT_TRUE(
        exporter.Export(core::Batch(core::Signal::kTraces, spans.SerializeAsString(), 3), report)
            .ok());
    exporter.Shutdown(core::Clock::now());
    const std::vector<std::string> frames = Frames(ReadAll(config.path));
    ASSERT_EQ(frames.size(), 2u);
    for (const std::string& f : frames) EXPECT_EQ(f, spans.SerializeAsString());
  }
  for (const char* format : {"json", "proto"}) {
    SCOPED_TRACE(format);
    FileExporterConfig config;
    config.path = dir + "/zstd-" + format;
    config.format = format;
    config.compression = "zstd";
    FileExporter exporter(config);
    ASSERT_TRUE(exporter.Start().ok());
    ASSERT_TRUE(exporter.Export(core::Batch(spans), report).ok());
    exporter.Shutdown(core::Clock::now());
    const std::vector<std::string> frames = Frames(ReadAll(config.path));
    ASSERT_EQ(frames.size(), 1u);
    auto plain = common::compress::Unzstd(frames[0], 1 << 20);
    ASSERT_TRUE(plain.ok()) << plain.status();
    if (std::string(format) == "proto") {
      EXPECT_EQ(*plain, spans.SerializeAsString());
    } else {
      auto back = core::DecodeOtlpJson(core::Signal::kTraces, *plain);
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(back->traces().SerializeAsString(), spans.SerializeAsString());
    }
  }
  // append: false empties the file at start (the second round finds the
  // first round's line and leaves one); the default keeps it.
  for (bool append : {true, false}) {
    FileExporterConfig config;
    config.path = dir + "/append.jsonl";
    config.append = append;
    FileExporter exporter(config);
    ASSERT_TRUE(exporter.Start().ok());
    ASSERT_TRUE(exporter.Export(core::Batch(spans), report).ok());
    exporter.Shutdown(core::Clock::now());
    EXPECT_EQ(ReadLines(config.path).size(), 1u) << append;
  }
  FileExporterConfig keep;
  keep.path = dir + "/append.jsonl";
  FileExporter again(keep);
  ASSERT_TRUE(again.Start().ok());
  ASSERT_TRUE(again.Export(core::Batch(spans), report).ok());
  again.Shutdown(core::Clock::now());
  EXPECT_EQ(ReadLines(keep.path).size(), 2u);

  FileExporterConfig bad;
  bad.path = "x";
  bad.format = "avro";
  EXPECT_FALSE(bad.Validate().ok());
  bad.format = "json";
  bad.directory_permissions = "rwx";
  EXPECT_FALSE(bad.Validate().ok());
}

// rotation.max_days removes backups last written longer ago.
TEST(FileExporterTest, RotationRemovesBackupsOlderThanMaxDays) {
  const std::string dir = FreshDir("file_exporter_max_days");
  const std::string old_backup = dir + "/out.jsonl.2000-01-01T00-00-00.0";
  std::ofstream(old_backup) << "old\n";
  struct utimbuf times {
    946684800, 946684800
  };  // 2000-01-01
  ASSERT_EQ(utime(old_backup.c_str(), &times), 0);
  FileExporterConfig config;
  config.path = dir + "/out.jsonl";
  config.rotation.max_megabytes = 1;
  config.rotation.max_backups = 0;
  config.rotation.max_days = 7;
  config.rotation.localtime = true;
  FileExporter exporter(config);
  ASSERT_TRUE(exporter.Start().ok());
  core::Batch big(core::testing::MakeSpans(2000));
  core::ExportReport report;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(exporter.Export(big, report).ok());
  exporter.Shutdown(core::Clock::now());
  struct stat st;
  EXPECT_NE(::stat(old_backup.c_str(), &st), 0);  // removed
  int files = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) files += std::string(e->d_name).rfind("out.jsonl", 0) == 0;
  closedir(d);
  EXPECT_GE(files, 2);  // the live file and the recent backups stay
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
