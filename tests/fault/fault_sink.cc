// An OTLP/gRPC trace destination that fails on purpose: for the first
// --flaky-for seconds it answers a --fail-ratio share of requests with
// RESOURCE_EXHAUSTED or UNAVAILABLE (HTTP 429 and 503 in OTLP/HTTP terms),
// at random; every request it accepts is appended to --output as an OTLP/JSON
// line. Real servers do not fail like this on demand.
//
//   tributary-fault-sink --port N --output FILE [--flaky-for 15] [--fail-ratio 0.4]

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tributary/core/otlp_codec.h"

namespace {

namespace trace = opentelemetry::proto::collector::trace::v1;
using Clock = std::chrono::steady_clock;

class FlakyTraceService final : public trace::TraceService::Service {
 public:
  FlakyTraceService(FILE* out, Clock::time_point flaky_until, double ratio)
      : out_(out), flaky_until_(flaky_until), ratio_(ratio) {}

  grpc::Status Export(grpc::ServerContext*, const trace::ExportTraceServiceRequest* request,
                      trace::ExportTraceServiceResponse*) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Clock::now() < flaky_until_ &&
        std::uniform_real_distribution<double>(0, 1)(rng_) < ratio_) {
      ++refused_;
      return rng_() % 2 ? grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down")
                        : grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
    }
    std::string line = tributary::core::EncodeOtlpJson(tributary::core::Batch(*request)) + "\n";
    fwrite(line.data(), 1, line.size(), out_);
    fflush(out_);
    ++accepted_;
    return grpc::Status::OK;
  }
  void Report() {
    std::lock_guard<std::mutex> lock(mu_);
    printf("fault-sink: accepted=%llu refused=%llu\n", accepted_, refused_);
  }

 private:
  std::mutex mu_;
  FILE* out_;
  Clock::time_point flaky_until_;
  double ratio_;
  std::mt19937_64 rng_{12345};
  unsigned long long accepted_ = 0, refused_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string port, output;
  double flaky_for = 15, ratio = 0.4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--port") port = v;
    if (k == "--output") output = v;
    if (k == "--flaky-for") flaky_for = std::stod(v);
    if (k == "--fail-ratio") ratio = std::stod(v);
  }
  if (port.empty() || output.empty()) {
    fprintf(stderr, "usage: %s --port N --output FILE [--flaky-for S] [--fail-ratio R]\n", argv[0]);
    return 2;
  }
  FILE* out = fopen(output.c_str(), "a");
  if (out == nullptr) {
    perror(output.c_str());
    return 1;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  FlakyTraceService service(out,
                            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(flaky_for)),
                            ratio);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + port, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(64 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    fprintf(stderr, "fault-sink: cannot listen on port %s\n", port.c_str());
    return 1;
  }
  int sig;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  service.Report();
  fclose(out);
  return 0;
}
