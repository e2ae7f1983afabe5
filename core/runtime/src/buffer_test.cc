#include "tributary/core/runtime/buffer.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <set>

#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core::runtime {
namespace {

using testing::MetricValue;
using testing::RecordingConsumer;
using testing::TempDir;

// Keeps envelopes without settling them until told to.
class HoldingConsumer : public Consumer {
 public:
  absl::Status Consume(Envelope envelope) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(std::move(envelope));
    cv_.notify_all();
    return absl::OkStatus();
  }
  bool WaitForBatches(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_.size() >= n; });
  }
  // Settles the first `n` held envelopes with `status`.
  void Release(size_t n, const absl::Status& status = absl::OkStatus()) {
    std::vector<Envelope> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      n = std::min(n, held_.size());
      out.assign(std::make_move_iterator(held_.begin()),
                 std::make_move_iterator(held_.begin() + static_cast<long>(n)));
      held_.erase(held_.begin(), held_.begin() + static_cast<long>(n));
    }
    for (Envelope& e : out) e.Fail(status);
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Envelope> held_;
};

BufferOptions Options(const std::string& dir, const std::string& name) {
  BufferOptions o;
  o.directory = dir + "/" + name;
  o.name = name;
  o.signal = Signal::kTraces;
  o.max_bytes = 4 << 20;
  o.segment_bytes = 64 << 10;
  o.fsync = FsyncPolicy::kNever;
  o.replay_rate = 0;
  return o;
}

// Appends a batch of `spans` spans tagged `tag`; returns the status its ack settled with.
std::future<absl::Status> Append(WriteAheadBuffer& buffer, int spans, const std::string& tag,
                                 absl::Status* refused = nullptr) {
  auto promise = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = promise->get_future();
  Envelope e;
  e.batch = std::make_shared<const Batch>(testing::MakeSpans(spans, tag));
  e.acks.push_back(
      std::make_shared<Ack>([promise](const absl::Status& s) { promise->set_value(s); }));
  absl::Status s = buffer.Consume(std::move(e));
  if (refused != nullptr) *refused = s;
  return result;
}

// Polls `done` for up to ten seconds.
template <class F>
bool Eventually(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

std::string Tag(const Batch& b) {
  return b.traces().resource_spans(0).resource().attributes(0).value().string_value();
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(BufferRecord, HeaderRoundTripsAndChecksumCoversThePayload) {
  detail::RecordHeader h;
  h.seq = 42;
  h.records = 7;
  h.signal = Signal::kLogs;
  std::string payload = "payload bytes";
  char raw[detail::kRecordHeaderSize];
  detail::EncodeRecordHeader(h, payload, raw);
  detail::RecordHeader back;
  ASSERT_TRUE(detail::DecodeRecordHeader(raw, &back));
  EXPECT_EQ(back.seq, 42u);
  EXPECT_EQ(back.records, 7u);
  EXPECT_EQ(back.signal, Signal::kLogs);
  EXPECT_EQ(back.length, payload.size());
  EXPECT_EQ(back.crc, detail::RecordCrc(raw, payload.data(), payload.size()));
  payload[0] ^= 1;
  EXPECT_NE(back.crc, detail::RecordCrc(raw, payload.data(), payload.size()));
}

TEST(BufferRecord, CursorFilesRoundTripAndRefuseDamage) {
  const std::string data = detail::EncodeCursor(0x0102030405060708ull);
  ASSERT_EQ(data.size(), 12u);
  uint64_t committed = 7;
  ASSERT_TRUE(detail::DecodeCursor(data, &committed));
  EXPECT_EQ(committed, 0x0102030405060708ull);
  std::string damaged = data;
  damaged[3] ^= 1;
  committed = 7;
  EXPECT_FALSE(detail::DecodeCursor(damaged, &committed));
  EXPECT_FALSE(detail::DecodeCursor(data.substr(0, 11), &committed));
  EXPECT_EQ(committed, 7u);
}

TEST(WriteAheadBuffer, AcknowledgesOnceWrittenAndDeliversInOrder) {
  TempDir dir;
  RecordingConsumer out;
  WriteAheadBuffer buffer(Options(dir.path(), "traces"));
  buffer.AddCursor("otlp", &out);
  ASSERT_TRUE(buffer.Start().ok());
  std::vector<std::future<absl::Status>> acks;
  for (int i = 0; i < 20; ++i) acks.push_back(Append(buffer, 3, "b" + std::to_string(i)));
  for (auto& a : acks) EXPECT_TRUE(a.get().ok());
  ASSERT_TRUE(out.WaitForRecords(60));
  std::vector<Batch> got = out.batches();
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Tag(got[static_cast<size_t>(i)]), "b" + std::to_string(i));
  buffer.Shutdown(Clock::now() + std::chrono::seconds(5));
  buffer.Close();
  EXPECT_EQ(buffer.backlog_records("otlp"), 0u);
}

TEST(WriteAheadBuffer, AWireFormCursorGetsTheStoredBytesUnparsed) {
  TempDir dir;
  RecordingConsumer parsed, bytes;
  WriteAheadBuffer buffer(Options(dir.path(), "wire"));
  buffer.AddCursor("objects", &parsed);
  buffer.AddCursor("bytes", &bytes, /*wire_form=*/true);
  ASSERT_TRUE(buffer.Start().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Append(buffer, 3, "w" + std::to_string(i)).get().ok());
  ASSERT_TRUE(parsed.WaitForRecords(15));
  ASSERT_TRUE(bytes.WaitForRecords(15));
  const std::vector<Batch> parsed_batches = parsed.batches();
  const std::vector<Batch> byte_batches = bytes.batches();
  for (size_t i = 0; i < 5; ++i) {
    const Batch& p = parsed_batches[i];
    const Batch& b = byte_batches[i];
    EXPECT_EQ(Tag(p), "w" + std::to_string(i));
    ASSERT_NE(b.wire(), nullptr);
    EXPECT_EQ(*b.wire(), testing::MakeSpans(3, "w" + std::to_string(i)).SerializeAsString());
    EXPECT_EQ(b.record_count(), 3u);
    EXPECT_EQ(Tag(b), "w" + std::to_string(i));  // parses when asked
  }
  // A batch in wire form is stored as its bytes.
  Envelope e;
  const std::string stored = testing::MakeSpans(2, "again").SerializeAsString();
  e.batch = std::make_shared<const Batch>(Signal::kTraces, stored, 2);
  ASSERT_TRUE(buffer.Consume(std::move(e)).ok());
  ASSERT_TRUE(bytes.WaitForRecords(17));
  EXPECT_EQ(*bytes.batches()[5].wire(), stored);
  buffer.Shutdown(Clock::now() + std::chrono::seconds(5));
  buffer.Close();
}

// A wire-form cursor checks a record's shape and count against its header
// before handing the bytes on: a record whose bytes hold other than the
// records its header counts is skipped and counted, the next delivered.
TEST(WriteAheadBuffer, AWireFormCursorSkipsARecordThatDisagreesWithItsHeader) {
  TempDir dir;
  RecordingConsumer bytes;
  WriteAheadBuffer buffer(Options(dir.path(), "wire-count"));
  buffer.AddCursor("otlp/wire-count", &bytes, /*wire_form=*/true);
  ASSERT_TRUE(buffer.Start().ok());
  const double before =
      MetricValue("tributary_dropped_records_total",
                  {{"component", "otlp/wire-count"}, {"reason", "buffer_corrupt"}});
  for (size_t claimed : {5u, 3u}) {  // the first claims 5 of its 3 spans
    Envelope e;
    e.batch = std::make_shared<const Batch>(
        Signal::kTraces, testing::MakeSpans(3, "c" + std::to_string(claimed)).SerializeAsString(),
        claimed);
    ASSERT_TRUE(buffer.Consume(std::move(e)).ok());
  }
  ASSERT_TRUE(bytes.WaitForRecords(3));
  const std::vector<Batch> got = bytes.batches();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Tag(got[0]), "c3");
  EXPECT_TRUE(Eventually([&] {
    return MetricValue("tributary_dropped_records_total",
                       {{"component", "otlp/wire-count"}, {"reason", "buffer_corrupt"}}) -
               before ==
           5;
  }));
  buffer.Shutdown(Clock::now() + std::chrono::seconds(5));
  buffer.Close();
}

TEST(WriteAheadBuffer, UnsettledRecordsAreReplayedAfterRestartAndSettledOnesAreNot) {
  TempDir dir;
  {
    HoldingConsumer slow;
    WriteAheadBuffer buffer(Options(dir.path(), "traces"));
    buffer.AddCursor("otlp", &slow);
    ASSERT_TRUE(buffer.Start().ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Append(buffer, 2, "r" + std::to_string(i)).get().ok());
    ASSERT_TRUE(slow.WaitForBatches(10));
    slow.Release(4);  // r0..r3 delivered
    buffer.Shutdown(Clock::now() + std::chrono::milliseconds(100));
    // The exporter goes away with the rest unsettled, as a shutdown does.
    slow.Release(100, absl::UnavailableError("shutting down"));
    buffer.Close();
  }
  RecordingConsumer out;
  WriteAheadBuffer buffer(Options(dir.path(), "traces"));
  buffer.AddCursor("otlp", &out);
  ASSERT_TRUE(buffer.Start().ok());
  ASSERT_TRUE(out.WaitForRecords(12));
  std::vector<Batch> got = out.batches();
  ASSERT_EQ(got.size(), 6u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(Tag(got[i]), "r" + std::to_string(i + 4));
}

TEST(WriteAheadBuffer, SurvivesACrashWithoutShutdown) {
  TempDir dir;
  const std::string path = dir.path() + "/traces";
  {
    // A copy of the files taken while the process is running is what a
    // SIGKILL leaves behind.
    HoldingConsumer slow;
    WriteAheadBuffer buffer(Options(dir.path(), "traces"));
    buffer.AddCursor("otlp", &slow);
    ASSERT_TRUE(buffer.Start().ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(Append(buffer, 1, "c" + std::to_string(i)).get().ok());
    std::filesystem::copy(path, dir.path() + "/crashed", std::filesystem::copy_options::recursive);
    buffer.Shutdown(Clock::now());
    slow.Release(100, absl::UnavailableError("gone"));
  }
  RecordingConsumer out;
  WriteAheadBuffer buffer(Options(dir.path(), "crashed"));
  buffer.AddCursor("otlp", &out);
  ASSERT_TRUE(buffer.Start().ok());
  ASSERT_TRUE(out.WaitForRecords(5));
  EXPECT_EQ(out.batches().size(), 5u);
}

TEST(WriteAheadBuffer, EachCursorKeepsItsOwnPaceAndSegmentsGoOnceAllPassed) {
  TempDir dir;
  RecordingConsumer fast;
  HoldingConsumer slow;
  BufferOptions o = Options(dir.path(), "traces");
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("fast", &fast);
  buffer.AddCursor("slow", &slow);
  ASSERT_TRUE(buffer.Start().ok());
  // About 30 KiB per batch: a few segments' worth.
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(Append(buffer, 300, "s" + std::to_string(i)).get().ok());
  ASSERT_TRUE(fast.WaitForRecords(3600));
  ASSERT_TRUE(slow.WaitForBatches(12));
  const std::string path = o.directory;
  EXPECT_GT(SegmentFiles(path).size(), 2u);
  EXPECT_TRUE(Eventually([&] { return buffer.backlog_records("fast") == 0; }));
  EXPECT_EQ(buffer.backlog_records("slow"), 3600u);
  EXPECT_GT(SegmentFiles(path).size(), 2u);  // held for the slow one
  slow.Release(12);
  // Only the segment being written remains.
  EXPECT_TRUE(Eventually([&] { return SegmentFiles(path).size() == 1; }));
  EXPECT_TRUE(Eventually([&] { return buffer.backlog_records("slow") == 0; }));
}

TEST(WriteAheadBuffer, TornTailIsTruncatedAndNeverReplayed) {
  TempDir dir;
  BufferOptions o = Options(dir.path(), "traces");
  {
    HoldingConsumer slow;
    WriteAheadBuffer buffer(o);
    buffer.AddCursor("otlp", &slow);
    ASSERT_TRUE(buffer.Start().ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append(buffer, 2, "t" + std::to_string(i)).get().ok());
    buffer.Shutdown(Clock::now());
    slow.Release(100, absl::UnavailableError("gone"));
    buffer.Close();
  }
  std::vector<std::string> files = SegmentFiles(o.directory);
  ASSERT_EQ(files.size(), 1u);
  const auto before = std::filesystem::file_size(files[0]);
  {
    // Half a record: the header of a fourth one and a few payload bytes.
    std::ifstream in(files[0], std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream app(files[0], std::ios::binary | std::ios::app);
    app.write(data.data() + 8, detail::kRecordHeaderSize + 5);
  }
  HoldingConsumer out;
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("otlp", &out);
  ASSERT_TRUE(buffer.Start().ok());
  ASSERT_TRUE(out.WaitForBatches(3));
  EXPECT_EQ(std::filesystem::file_size(files[0]), before);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(out.held(), 3u);
  buffer.Shutdown(Clock::now());
  out.Release(100);
}

TEST(WriteAheadBuffer, CorruptRecordIsSkippedAndCountedTheRestDelivered) {
  TempDir dir;
  BufferOptions o = Options(dir.path(), "corrupt");
  {
    HoldingConsumer slow;
    WriteAheadBuffer buffer(o);
    buffer.AddCursor("otlp/corrupt", &slow);
    ASSERT_TRUE(buffer.Start().ok());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(Append(buffer, 4, "k" + std::to_string(i)).get().ok());
    buffer.Shutdown(Clock::now());
    slow.Release(100, absl::UnavailableError("gone"));
    buffer.Close();
  }
  std::vector<std::string> files = SegmentFiles(o.directory);
  ASSERT_EQ(files.size(), 1u);
  const auto size = std::filesystem::file_size(files[0]);
  const auto per_record = (size - 8) / 5;
  {
    // One byte in the middle of the third record's payload.
    std::fstream f(files[0], std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(8 + 2 * per_record + per_record / 2));
    char c;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(static_cast<std::streamoff>(8 + 2 * per_record + per_record / 2));
    f.write(&c, 1);
  }
  const double corrupt_before =
      MetricValue("tributary_dropped_records_total",
                  {{"component", "otlp/corrupt"}, {"reason", "buffer_corrupt"}});
  RecordingConsumer out;
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("otlp/corrupt", &out);
  ASSERT_TRUE(buffer.Start().ok());
  ASSERT_TRUE(out.WaitForRecords(16));
  std::vector<Batch> got = out.batches();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(Tag(got[0]), "k0");
  EXPECT_EQ(Tag(got[1]), "k1");
  EXPECT_EQ(Tag(got[2]), "k3");
  EXPECT_EQ(Tag(got[3]), "k4");
  EXPECT_EQ(MetricValue("tributary_dropped_records_total",
                        {{"component", "otlp/corrupt"}, {"reason", "buffer_corrupt"}}) -
                corrupt_before,
            4);
  EXPECT_GT(MetricValue("tributary_buffer_corrupt_bytes_total", {{"pipeline", "corrupt"}}), 0);
}

TEST(ScanSegment, ResynchronisesAfterGarbageAndReportsATornTail) {
  auto record = [](uint64_t seq, const std::string& payload) {
    detail::RecordHeader h;
    h.seq = seq;
    h.records = 1;
    std::string out(detail::kRecordHeaderSize, '\0');
    detail::EncodeRecordHeader(h, payload, out.data());
    return out + payload;
  };
  std::string data(detail::kSegmentMagic, sizeof(detail::kSegmentMagic));
  data += record(1, "one");
  data += "garbage that is no record at all, TRB1 included";
  const size_t third = data.size();
  data += record(3, "three");
  const size_t end = data.size();
  data += record(4, "four").substr(0, 20);
  detail::ScanResult r = detail::ScanSegment(data);
  ASSERT_EQ(r.entries.size(), 2u);
  EXPECT_EQ(r.entries[0].seq, 1u);
  EXPECT_EQ(r.entries[1].seq, 3u);
  EXPECT_EQ(r.entries[1].offset, third);
  EXPECT_EQ(r.valid_bytes, end);
  EXPECT_EQ(r.truncated_bytes, 20u);
  EXPECT_GT(r.corrupt_bytes, 0u);
}

TEST(WriteAheadBuffer, BlockModeRefusesRetryablyWhenFull) {
  TempDir dir;
  BufferOptions o = Options(dir.path(), "block");
  o.max_bytes = 256 << 10;
  HoldingConsumer stuck;
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("otlp", &stuck);
  ASSERT_TRUE(buffer.Start().ok());
  absl::Status refused;
  int accepted = 0;
  for (int i = 0; i < 100; ++i) {
    auto ack = Append(buffer, 300, "x", &refused);
    if (!refused.ok()) break;
    EXPECT_TRUE(ack.get().ok());
    ++accepted;
  }
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GT(accepted, 3);
  EXPECT_LE(buffer.size_bytes(), o.max_bytes);
  // Once the exporter catches up there is room again.
  ASSERT_TRUE(stuck.WaitForBatches(static_cast<size_t>(accepted)));
  stuck.Release(static_cast<size_t>(accepted));
  absl::Status again = absl::ResourceExhaustedError("");
  for (int i = 0; i < 200 && !again.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto ack = Append(buffer, 300, "y", &again);
    if (again.ok()) {
      EXPECT_TRUE(ack.get().ok());
    }
  }
  EXPECT_TRUE(again.ok());
  buffer.Shutdown(Clock::now());
  stuck.Release(1000, absl::UnavailableError("gone"));
}

TEST(WriteAheadBuffer, DropNewestCountsWhatItDrops) {
  TempDir dir;
  BufferOptions o = Options(dir.path(), "newest");
  o.max_bytes = 256 << 10;
  o.when_full = WhenFull::kDropNewest;
  const std::map<std::string, std::string> labels = {{"component", "buffer/newest"},
                                                     {"reason", "buffer_full"}};
  const double before = MetricValue("tributary_dropped_records_total", labels);
  HoldingConsumer stuck;
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("otlp", &stuck);
  ASSERT_TRUE(buffer.Start().ok());
  for (int i = 0; i < 30; ++i) {
    absl::Status s;
    EXPECT_TRUE(Append(buffer, 300, "x", &s).get().ok());
    EXPECT_TRUE(s.ok());
  }
  ASSERT_TRUE(stuck.WaitForBatches(1));
  const double dropped = MetricValue("tributary_dropped_records_total", labels) - before;
  EXPECT_GT(dropped, 0);
  EXPECT_TRUE(Eventually([&] { return stuck.held() * 300 + dropped >= 9000; }));
  EXPECT_EQ(stuck.held() * 300 + static_cast<size_t>(dropped), 9000u);
  buffer.Shutdown(Clock::now());
  stuck.Release(1000, absl::UnavailableError("gone"));
}

TEST(WriteAheadBuffer, DropOldestCountsExactlyWhatTheExporterNeverGets) {
  TempDir dir;
  BufferOptions o = Options(dir.path(), "oldest");
  o.max_bytes = 256 << 10;
  o.when_full = WhenFull::kDropOldest;
  const std::map<std::string, std::string> labels = {{"component", "otlp/oldest"},
                                                     {"reason", "buffer_full"}};
  const double before = MetricValue("tributary_dropped_records_total", labels);
  RecordingConsumer out;
  out.refuse_status = absl::ResourceExhaustedError("destination down");
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("otlp/oldest", &out);
  ASSERT_TRUE(buffer.Start().ok());
  for (int i = 0; i < 40; ++i) {
    absl::Status s;
    EXPECT_TRUE(Append(buffer, 300, "o" + std::to_string(i), &s).get().ok());
    EXPECT_TRUE(s.ok());
  }
  EXPECT_LE(buffer.size_bytes(), o.max_bytes);
  const double dropped = MetricValue("tributary_dropped_records_total", labels) - before;
  EXPECT_GT(dropped, 0);
  out.refuse_status = absl::OkStatus();
  const size_t expect = 12000 - static_cast<size_t>(dropped);
  ASSERT_TRUE(out.WaitForRecords(expect));
  buffer.Shutdown(Clock::now() + std::chrono::seconds(2));
  EXPECT_EQ(out.records(), expect);
  // The newest batch survived.
  EXPECT_EQ(Tag(out.batches().back()), "o39");
}

TEST(WriteAheadBuffer, BacklogReplayIsPacedAndLiveDataOvertakesIt) {
  TempDir dir;
  BufferOptions o = Options(dir.path(), "paced");
  {
    HoldingConsumer none;
    WriteAheadBuffer buffer(o);
    buffer.AddCursor("otlp", &none);
    ASSERT_TRUE(buffer.Start().ok());
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(Append(buffer, 10, "old").get().ok());
    buffer.Shutdown(Clock::now());
    none.Release(1000, absl::UnavailableError("gone"));
    buffer.Close();
  }
  o.replay_rate = 100;  // 500 records take five seconds
  RecordingConsumer out;
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("otlp", &out);
  ASSERT_TRUE(buffer.Start().ok());
  ASSERT_TRUE(Append(buffer, 1, "live").get().ok());
  ASSERT_TRUE(out.WaitForRecords(21));
  bool live_seen = false;
  for (const Batch& b : out.batches()) live_seen |= Tag(b) == "live";
  EXPECT_TRUE(live_seen);
  EXPECT_LT(out.records(), 501u);
}

TEST(WriteAheadBuffer, FsyncAlwaysAndIntervalBothDeliver) {
  for (FsyncPolicy policy : {FsyncPolicy::kAlways, FsyncPolicy::kInterval}) {
    TempDir dir;
    BufferOptions o = Options(dir.path(), "sync");
    o.fsync = policy;
    o.fsync_interval = std::chrono::milliseconds(10);
    RecordingConsumer out;
    WriteAheadBuffer buffer(o);
    buffer.AddCursor("otlp", &out);
    ASSERT_TRUE(buffer.Start().ok());
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(Append(buffer, 2, "f").get().ok());
    EXPECT_TRUE(out.WaitForRecords(10));
  }
}

TEST(BufferConfig, ValidatesPoliciesAndSizes) {
  BufferConfig c;
  EXPECT_TRUE(c.Validate().ok());
  c.fsync = "sometimes";
  EXPECT_FALSE(c.Validate().ok());
  c.fsync = "always";
  c.when_full = "explode";
  EXPECT_FALSE(c.Validate().ok());
  c.when_full = "drop_oldest";
  c.max_size.bytes = c.segment_size.bytes;
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace tributary::core::runtime
