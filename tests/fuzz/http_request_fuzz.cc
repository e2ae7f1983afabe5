// The OTLP/HTTP request path end to end: HTTP parsing, gzip decompression
// with its size limit, content types, decoding, the pipeline hand-off. A
// receiver listens on loopback; each input is written to it as the raw
// request (first byte even), or as the body of a gzip-encoded POST (odd).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "receivers/otlp/otlp_receiver.h"

namespace {

class Discard : public tributary::core::Consumer {
 public:
  absl::Status Consume(tributary::core::Envelope) noexcept override { return absl::OkStatus(); }
};

int Port() {
  static int port = [] {
    static Discard discard;
    tributary::receivers::otlp::OtlpReceiverConfig config;
    config.protocols.grpc.reset();
    config.protocols.http->endpoint = "127.0.0.1:0";
    config.protocols.http->max_request_body_size = tributary::core::ByteSize{1 << 20};
    config.protocols.http->max_decompressed_body_size = tributary::core::ByteSize{4 << 20};
    config.protocols.http->max_concurrent_requests = 2;
    tributary::core::ReceiverConsumers consumers{&discard, &discard, &discard};
    auto* receiver = new tributary::receivers::otlp::OtlpReceiver("otlp/fuzz", config, consumers);
    if (!receiver->Start().ok()) abort();
    return receiver->http_port();
  }();
  return port;
}

void Exchange(const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(Port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    (void)!write(fd, request.data(), request.size());
    shutdown(fd, SHUT_WR);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
  }
  close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    Exchange(rest);
    return 0;
  }
  static const char* kPaths[] = {"/v1/traces", "/v1/metrics", "/v1/logs"};
  static const char* kTypes[] = {"application/x-protobuf", "application/json"};
  std::string request =
      std::string("POST ") + kPaths[data[0] / 2 % 3] +
      " HTTP/1.1\r\nHost: fuzz\r\nContent-Type: " + kTypes[data[0] / 8 % 2] +
      "\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(rest.size()) +
      "\r\nConnection: close\r\n\r\n" + rest;
  Exchange(request);
  return 0;
}
