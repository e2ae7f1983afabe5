// Sends spans with unique ids to an OTLP/gRPC endpoint as an instrumented
// service would, retrying each request until it is acknowledged, and writes
// the id ranges that were acknowledged. The fault suite compares them with
// what reached the destination.
//
//   tributary-fault-send --endpoint HOST:PORT --acked FILE [--duration 20]
//       [--threads 2] [--batch 50] [--rate 40] [--give-up-after 300] [--deadline 5]
//
// --rate is requests per second per thread; --deadline is the seconds an
// attempt waits for its answer. Failed attempts are counted by status code. Each acknowledged
// request adds a line `<first id> <count>` to FILE.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace {

namespace otlp = opentelemetry::proto;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string endpoint;
  std::string acked;
  double duration = 20;
  int threads = 2;
  int batch = 50;
  double rate = 40;
  double give_up_after = 300;
  double deadline = 5;
};

otlp::collector::trace::v1::ExportTraceServiceRequest MakeRequest(uint64_t first, int count,
                                                                  std::mt19937_64& rng) {
  otlp::collector::trace::v1::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("fault-sender");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("tributary.fault");
  const uint64_t now =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  for (int i = 0; i < count; ++i) {
    auto* span = ss->add_spans();
    std::string trace(16, '\0'), id(8, '\0');
    for (char& c : trace) c = static_cast<char>(rng() | 1);
    for (char& c : id) c = static_cast<char>(rng() | 1);
    span->set_trace_id(trace);
    span->set_span_id(id);
    span->set_name("id:" + std::to_string(first + static_cast<uint64_t>(i)));
    span->set_kind(otlp::trace::v1::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(now);
    span->set_end_time_unix_nano(now + 1000);
  }
  return req;
}

bool Parse(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--endpoint") {
      o->endpoint = v;
    } else if (k == "--acked") {
      o->acked = v;
    } else if (k == "--duration") {
      o->duration = std::stod(v);
    } else if (k == "--threads") {
      o->threads = std::stoi(v);
    } else if (k == "--batch") {
      o->batch = std::stoi(v);
    } else if (k == "--rate") {
      o->rate = std::stod(v);
    } else if (k == "--give-up-after") {
      o->give_up_after = std::stod(v);
    } else if (k == "--deadline") {
      o->deadline = std::stod(v);
    } else {
      return false;
    }
  }
  return !o->endpoint.empty() && !o->acked.empty() && o->threads > 0 && o->batch > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, &o)) {
    fprintf(stderr,
            "usage: %s --endpoint HOST:PORT --acked FILE [--duration S] [--threads N] "
            "[--batch N] [--rate R] [--give-up-after S] [--deadline S]\n",
            argv[0]);
    return 2;
  }
  FILE* acked = fopen(o.acked.c_str(), "w");
  if (acked == nullptr) {
    perror(o.acked.c_str());
    return 1;
  }
  std::mutex acked_mu;
  std::atomic<uint64_t> acked_spans{0}, abandoned_spans{0}, failures{0};
  std::atomic<uint64_t> failures_by_code[17] = {};
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_sending = start + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(o.duration));
  const Clock::time_point give_up =
      stop_sending +
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.give_up_after));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      auto channel =
          grpc::CreateCustomChannel(o.endpoint, grpc::InsecureChannelCredentials(), args);
      auto stub = otlp::collector::trace::v1::TraceService::NewStub(channel);
      uint64_t next_id = (static_cast<uint64_t>(t) + 1) * 1000000000000ull;
      const auto interval = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(o.rate > 0 ? 1.0 / o.rate : 0));
      Clock::time_point due = Clock::now();
      while (Clock::now() < stop_sending) {
        std::this_thread::sleep_until(due);
        due += interval;
        auto req = MakeRequest(next_id, o.batch, rng);
        // Retried until acknowledged, as an SDK with a persistent queue would.
        auto backoff = std::chrono::milliseconds(50);
        bool ok = false;
        while (Clock::now() < give_up) {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::duration_cast<std::chrono::system_clock::duration>(
                               std::chrono::duration<double>(o.deadline)));
          ctx.set_wait_for_ready(false);
          otlp::collector::trace::v1::ExportTraceServiceResponse resp;
          grpc::Status s = stub->Export(&ctx, req, &resp);
          if (s.ok()) {
            ok = true;
            break;
          }
          failures++;
          failures_by_code[std::min<int>(s.error_code(), 16)]++;
          std::this_thread::sleep_for(backoff);
          backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        }
        if (ok) {
          acked_spans += static_cast<uint64_t>(o.batch);
          std::lock_guard<std::mutex> lock(acked_mu);
          fprintf(acked, "%llu %d\n", static_cast<unsigned long long>(next_id), o.batch);
        } else {
          abandoned_spans += static_cast<uint64_t>(o.batch);
        }
        next_id += static_cast<uint64_t>(o.batch);
        if (Clock::now() > due + std::chrono::seconds(1)) due = Clock::now();
      }
    });
  }
  for (auto& th : threads) th.join();
  fclose(acked);
  std::string codes;
  for (int c = 0; c < 17; ++c) {
    if (failures_by_code[c].load() > 0) {
      codes += " code_" + std::to_string(c) + "=" + std::to_string(failures_by_code[c].load());
    }
  }
  printf("fault-send: acked=%llu abandoned=%llu failed_attempts=%llu%s\n",
         static_cast<unsigned long long>(acked_spans.load()),
         static_cast<unsigned long long>(abandoned_spans.load()),
         static_cast<unsigned long long>(failures.load()), codes.c_str());
  return abandoned_spans.load() == 0 ? 0 : 3;
}
