#include "receivers/tail/record_assembler.h"

#include "gtest/gtest.h"
#include "re2/re2.h"

namespace tributary::receivers::tail {
namespace {

using namespace std::chrono_literals;

class AssemblerTest : public ::testing::Test {
 protected:
  RecordAssembler Make() {
    return RecordAssembler(&options_, [this] { return logs_->add_log_records(); });
  }
  std::string Body(int i) const { return logs_->log_records(i).body().string_value(); }
  std::string Attribute(int i, const std::string& key) const {
    for (const auto& kv : logs_->log_records(i).attributes()) {
      if (kv.key() == key) {
        return kv.value().has_bool_value() ? (kv.value().bool_value() ? "true" : "false")
                                           : kv.value().string_value();
      }
    }
    return "";
  }
  // Feeds lines with consecutive offsets.
  void Feed(RecordAssembler& a, std::initializer_list<std::string_view> lines,
            SteadyTime now = SteadyTime()) {
    for (std::string_view l : lines) {
      a.AddLine(l, offset_, offset_ + l.size() + 1, false, now, 7);
      offset_ += l.size() + 1;
    }
  }

  AssemblerOptions options_;
  // Records on an arena: the assembler fills whichever record it is handed.
  google::protobuf::Arena arena_;
  opentelemetry::proto::logs::v1::ScopeLogs* logs_ =
      google::protobuf::Arena::CreateMessage<opentelemetry::proto::logs::v1::ScopeLogs>(&arena_);
  uint64_t offset_ = 0;
};

TEST_F(AssemblerTest, RawLinesBecomeRecords) {
  auto a = Make();
  Feed(a, {"first", "second\r"});
  ASSERT_EQ(logs_->log_records_size(), 2);
  EXPECT_EQ(Body(0), "first");
  EXPECT_EQ(Body(1), "second");
  EXPECT_EQ(logs_->log_records(0).observed_time_unix_nano(), 7u);
  EXPECT_EQ(a.SafeOffset(offset_), offset_);
}

TEST_F(AssemblerTest, CriPartialLinesAreJoinedPerStream) {
  options_.format = Format::kCri;
  auto a = Make();
  Feed(a, {"2024-03-01T12:00:00Z stdout P one ", "2024-03-01T12:00:01Z stderr F err line",
           "2024-03-01T12:00:02Z stdout P two "});
  ASSERT_EQ(logs_->log_records_size(), 1);
  EXPECT_EQ(Body(0), "err line");
  EXPECT_EQ(Attribute(0, "log.iostream"), "stderr");
  // The unfinished stdout record started at offset 0: a checkpoint stays there.
  EXPECT_EQ(a.SafeOffset(offset_), 0u);
  Feed(a, {"2024-03-01T12:00:03Z stdout F three"});
  ASSERT_EQ(logs_->log_records_size(), 2);
  EXPECT_EQ(Body(1), "one two three");
  EXPECT_EQ(logs_->log_records(1).time_unix_nano(), 1709294400000000000u);
  EXPECT_EQ(a.SafeOffset(offset_), offset_);
}

TEST_F(AssemblerTest, LinesNotInTheFormatAreKeptRawAndMarked) {
  options_.format = Format::kCri;
  auto a = Make();
  Feed(a, {"garbage line"});
  ASSERT_EQ(logs_->log_records_size(), 1);
  EXPECT_EQ(Body(0), "garbage line");
  EXPECT_EQ(Attribute(0, "log.record.parse_error"), "not a CRI log line");
  EXPECT_EQ(a.counts().parse_errors, 1u);
}

TEST_F(AssemblerTest, StderrSeverityWhenConfigured) {
  options_.format = Format::kCri;
  options_.stderr_severity = 17;
  auto a = Make();
  Feed(a, {"2024-03-01T12:00:00Z stderr F boom", "2024-03-01T12:00:00Z stdout F fine"});
  EXPECT_EQ(logs_->log_records(0).severity_number(), 17);
  EXPECT_EQ(logs_->log_records(1).severity_number(), 0);
}

TEST_F(AssemblerTest, MultilineJoinsUntilTheNextStartLine) {
  re2::RE2 start("^\\d{4}-");
  options_.line_start = &start;
  auto a = Make();
  Feed(a, {"2024-01-01 Exception in thread main", "\tat com.example.A(A.java:1)",
           "\tat com.example.B(B.java:2)"});
  EXPECT_EQ(logs_->log_records_size(), 0);
  EXPECT_EQ(a.SafeOffset(offset_), 0u);
  const uint64_t second = offset_;
  Feed(a, {"2024-01-01 next"});
  ASSERT_EQ(logs_->log_records_size(), 1);
  EXPECT_EQ(Body(0),
            "2024-01-01 Exception in thread main\n\tat com.example.A(A.java:1)\n"
            "\tat com.example.B(B.java:2)");
  EXPECT_EQ(a.SafeOffset(offset_), second);
}

TEST_F(AssemblerTest, MultilineFlushesAfterTheTimeout) {
  re2::RE2 start("^panic:");
  options_.line_start = &start;
  options_.flush_timeout = 500ms;
  auto a = Make();
  const SteadyTime t0 = SteadyTime() + 10s;
  Feed(a, {"panic: boom", "goroutine 1 [running]:"}, t0);
  a.FlushIdle(t0 + 499ms, 0);
  EXPECT_EQ(logs_->log_records_size(), 0);
  a.FlushIdle(t0 + 500ms, 0);
  ASSERT_EQ(logs_->log_records_size(), 1);
  EXPECT_EQ(Body(0), "panic: boom\ngoroutine 1 [running]:");
  EXPECT_FALSE(a.HasUnfinished());
}

TEST_F(AssemblerTest, RecordsAreCutAtTheLimitAndMarked) {
  options_.max_record_bytes = 10;
  re2::RE2 start("^S");
  options_.line_start = &start;
  auto a = Make();
  Feed(a, {"S 12345", "continuation that is long", "S short"});
  ASSERT_EQ(logs_->log_records_size(), 1);
  EXPECT_EQ(Body(0), "S 12345\nco");
  EXPECT_EQ(Attribute(0, "log.record.truncated"), "true");
  EXPECT_EQ(a.counts().truncated, 1u);
  a.FlushAll(0);
  EXPECT_EQ(Body(1), "S short");
  EXPECT_EQ(Attribute(1, "log.record.truncated"), "");
}

TEST_F(AssemblerTest, CutLinesAreMarkedEvenWithoutMultiline) {
  options_.max_record_bytes = 4;
  auto a = Make();
  a.AddLine("abcd", 0, 100, true, SteadyTime(), 0);
  a.AddLine("\xc3\xa9\xc3\xa9\xc3\xa9", 100, 107, false, SteadyTime(), 0);
  EXPECT_EQ(Body(0), "abcd");
  EXPECT_EQ(Attribute(0, "log.record.truncated"), "true");
  EXPECT_EQ(Body(1), "\xc3\xa9\xc3\xa9");  // never half a character
}

TEST_F(AssemblerTest, JsonFieldsBecomeAttributes) {
  options_.format = Format::kJson;
  options_.message_key = "msg";
  auto a = Make();
  Feed(a, {R"({"msg":"started","level":"warn","time":"2024-03-01T12:00:00Z","port":8080})",
           R"({"msg":"x","level":50})", "not json", ""});
  ASSERT_EQ(logs_->log_records_size(), 3);
  const auto& r = logs_->log_records(0);
  EXPECT_EQ(r.body().string_value(), "started");
  EXPECT_EQ(r.severity_number(), 13);
  EXPECT_EQ(r.severity_text(), "warn");
  EXPECT_EQ(r.time_unix_nano(), 1709294400000000000u);
  ASSERT_EQ(r.attributes_size(), 2);  // time and port; level is the severity
  EXPECT_EQ(r.attributes(1).key(), "port");
  EXPECT_EQ(r.attributes(1).value().int_value(), 8080);
  EXPECT_EQ(logs_->log_records(1).severity_number(), 17);
  EXPECT_EQ(Body(2), "not json");
  EXPECT_NE(Attribute(2, "log.record.parse_error"), "");
}

TEST_F(AssemblerTest, JsonRecordsOnTheHeapToo) {
  options_.format = Format::kJson;
  opentelemetry::proto::logs::v1::ScopeLogs heap;
  RecordAssembler a(&options_, [&heap] { return heap.add_log_records(); });
  Feed(a, {R"({"message":"hi","user":{"id":7}})", "{broken"});
  ASSERT_EQ(heap.log_records_size(), 2);
  EXPECT_EQ(heap.log_records(0).body().string_value(), "hi");
  EXPECT_EQ(heap.log_records(0).attributes(0).value().kvlist_value().values(0).value().int_value(),
            7);
  EXPECT_EQ(heap.log_records(1).body().string_value(), "{broken");
}

TEST_F(AssemblerTest, DockerPartialsAreJoined) {
  options_.format = Format::kDocker;
  auto a = Make();
  Feed(a, {R"({"log":"abc","stream":"stdout","time":"2024-03-01T12:00:00Z"})",
           R"({"log":"def\n","stream":"stdout","time":"2024-03-01T12:00:01Z"})"});
  ASSERT_EQ(logs_->log_records_size(), 1);
  EXPECT_EQ(Body(0), "abcdef");
}

TEST_F(AssemblerTest, InvalidUtf8IsReplaced) {
  auto a = Make();
  Feed(a, {"bad \xff byte"});
  EXPECT_EQ(Body(0), "bad \xef\xbf\xbd byte");
}

}  // namespace
}  // namespace tributary::receivers::tail
