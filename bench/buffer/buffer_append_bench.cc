// Write-ahead buffer append throughput: batches of spans appended and
// acknowledged (written, and synced under `always`), with a reader that
// settles everything at once so segments are reclaimed as in a healthy
// pipeline. The baseline is plain write(2) of the same bytes to one file,
// with the same fsync pattern.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "benchmark/benchmark.h"
#include "tributary/core/runtime/buffer.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::core::runtime {
namespace {

constexpr int kBatchesPerIteration = 64;

class Settling : public Consumer {
 public:
  absl::Status Consume(Envelope) noexcept override { return absl::OkStatus(); }
};

std::string BenchDir() {
  const char* base = getenv("BENCH_DIR");
  std::string dir = std::string(base ? base : "/tmp") + "/tributary-buffer-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void BM_BufferAppend(benchmark::State& state) {
  const auto policy = static_cast<FsyncPolicy>(state.range(0));
  const int spans = static_cast<int>(state.range(1));
  const std::string dir = BenchDir();
  BufferOptions o;
  o.directory = dir + "/traces";
  o.name = "bench";
  o.max_bytes = 1ull << 30;
  o.segment_bytes = 16ull << 20;
  o.fsync = policy;
  o.fsync_interval = std::chrono::milliseconds(1000);
  Settling reader;
  WriteAheadBuffer buffer(o);
  buffer.AddCursor("bench", &reader);
  if (!buffer.Start().ok()) {
    state.SkipWithError("cannot start the buffer");
    return;
  }
  auto batch = std::make_shared<const Batch>(testing::MakeSpans(spans, "bench"));
  const int64_t bytes = static_cast<int64_t>(batch->ByteSize() + detail::kRecordHeaderSize);
  std::mutex mu;
  std::condition_variable cv;
  int acked = 0;
  for (auto _ : state) {
    {
      std::lock_guard<std::mutex> lock(mu);
      acked = 0;
    }
    for (int i = 0; i < kBatchesPerIteration; ++i) {
      Envelope e;
      e.batch = batch;
      e.acks.push_back(std::make_shared<Ack>([&](const absl::Status&) {
        std::lock_guard<std::mutex> lock(mu);
        if (++acked == kBatchesPerIteration) cv.notify_all();
      }));
      if (!buffer.Consume(std::move(e)).ok()) {
        state.SkipWithError("append refused");
        return;
      }
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return acked == kBatchesPerIteration; });
  }
  state.SetBytesProcessed(state.iterations() * kBatchesPerIteration * bytes);
  state.SetItemsProcessed(state.iterations() * kBatchesPerIteration * spans);
  buffer.Shutdown(Clock::now() + std::chrono::seconds(5));
  buffer.Close();
  std::filesystem::remove_all(dir);
}

// Baseline: the same bytes written with write(2), fdatasync after every
// write for `always`, none otherwise.
void BM_PlainWrite(benchmark::State& state) {
  const auto policy = static_cast<FsyncPolicy>(state.range(0));
  const int spans = static_cast<int>(state.range(1));
  const std::string dir = BenchDir();
  const std::string path = dir + "/plain";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
  std::string payload;
  testing::MakeSpans(spans, "bench").SerializeToString(&payload);
  payload.resize(payload.size() + detail::kRecordHeaderSize);
  uint64_t written = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatchesPerIteration; ++i) {
      if (write(fd, payload.data(), payload.size()) != static_cast<ssize_t>(payload.size())) {
        state.SkipWithError("write failed");
        break;
      }
      written += payload.size();
    }
    if (policy == FsyncPolicy::kAlways) fdatasync(fd);
    if (written > (256ull << 20)) {  // keep the file in bounds, as segments are
      ftruncate(fd, 0);
      lseek(fd, 0, SEEK_SET);
      written = 0;
    }
  }
  state.SetBytesProcessed(state.iterations() * kBatchesPerIteration *
                          static_cast<int64_t>(payload.size()));
  close(fd);
  std::filesystem::remove_all(dir);
}

void Policies(benchmark::internal::Benchmark* b) {
  for (auto p : {FsyncPolicy::kAlways, FsyncPolicy::kInterval, FsyncPolicy::kNever}) {
    b->Args({static_cast<int64_t>(p), 100});
  }
  b->UseRealTime()->MinTime(2.0);
}

BENCHMARK(BM_BufferAppend)->Apply(Policies);
BENCHMARK(BM_PlainWrite)->Apply(Policies);

}  // namespace
}  // namespace tributary::core::runtime

BENCHMARK_MAIN();
