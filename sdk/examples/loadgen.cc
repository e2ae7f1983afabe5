// tributary-example-loadgen: a known number of checkouts with a known error
// ratio, each in a trace of its own that it starts. Request i fails on
// purpose when floor((i + 1) * ratio) > floor(i * ratio), so N requests hold
// exactly floor(N * ratio) errors. Prints a JSON summary at the end.
//   tributary-example-loadgen [--target 127.0.0.1:8080] [--requests N (0: until stopped)]
//                             [--rate PER_SECOND (0: as fast as answered)] [--error-ratio R]
#include <cmath>

#include "http_telemetry.h"

using namespace tributary::examples;

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i += 2) {
    std::string a = argv[i];
    if ((a != "--target" && a != "--requests" && a != "--rate" && a != "--error-ratio") ||
        i + 1 >= argc) {
      std::fprintf(stderr, "loadgen: unknown option or missing value: %s\n", a.c_str());
      return 2;
    }
  }
  const auto [host, port] = HostPort(Flag(argc, argv, "--target", "127.0.0.1:8080"));
  const long long requests = std::atoll(Flag(argc, argv, "--requests", "100").c_str());
  const double rate = std::atof(Flag(argc, argv, "--rate", "10").c_str());
  const double error_ratio = std::atof(Flag(argc, argv, "--error-ratio", "0.1").c_str());
  std::atomic<bool> stop{false};
  std::thread stopper = OnStopSignal([&] { stop.store(true); });
  auto sdk = StartSdk("loadgen");
  HttpTelemetry http(*sdk, "tributary.example.loadgen");
  httplib::Client client(host, port);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);

  long long sent = 0, ok = 0, errors = 0, expected_errors = 0;
  auto start = std::chrono::steady_clock::now();
  for (long long i = 0; (requests == 0 || i < requests) && !stop.load(); ++i) {
    if (rate > 0)
      std::this_thread::sleep_until(start +
                                    std::chrono::duration<double>(static_cast<double>(i) / rate));
    bool fail = std::floor(static_cast<double>(i + 1) * error_ratio) >
                std::floor(static_cast<double>(i) * error_ratio);
    expected_errors += fail;
    std::string item = "sku-" + std::to_string(i % 10);
    std::string path = "/checkout?item=" + item + (fail ? "&fail=1" : "");
    Span root = http.tracer().StartSpan("checkout", {{"app.item", item}, {"app.request.index", i}});
    Scope scope = root.Activate();
    int status = http.Get(client, host, port, "/checkout", path);
    ++sent;
    if (status == 200) {
      ++ok;
    } else {
      ++errors;
      root.SetStatus(StatusCode::kError, "checkout answered " + std::to_string(status));
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"requests\":%lld,\"ok\":%lld,\"errors\":%lld,\"expected_errors\":%lld,\"seconds\":%.2f}\n",
      sent, ok, errors, expected_errors, seconds);
  std::fflush(stdout);
  sdk->Shutdown(std::chrono::seconds(5));
  kill(getpid(), SIGTERM);
  stopper.join();
  return errors == expected_errors ? 0 : 1;
}
