#ifndef TRIBUTARY_COMMON_HTTP_SERVER_H_
#define TRIBUTARY_COMMON_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "tributary/core/config.h"
#include "tributary/core/memory_budget.h"

namespace tributary::common::tls {
class ServerCertificates;
}

namespace tributary::common::http {

// What every listener holds its clients to. A listener's config block takes
// these keys beside its own (`limits.VisitFields(v)` inside its VisitFields),
// with the OpenTelemetry Collector's names where it has them.
struct ServerLimits {
  int64_t max_connections = 4096;
  std::chrono::milliseconds read_header_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds read_body_timeout{10000};
  core::ByteSize min_body_rate{16 << 10};
  int64_t max_header_count = 100;
  core::ByteSize max_header_bytes{64 << 10};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("max_connections", max_connections,
               "connections held open at once; a connection beyond it is closed at once "
               "(and counted)");
    v.Optional("read_header_timeout", read_header_timeout,
               "how long a request's line and headers may take to arrive, counted from the "
               "connection's first byte (or from accepting it)");
    v.Optional("idle_timeout", idle_timeout,
               "how long a kept-alive connection may wait for its next request");
    v.Optional("read_body_timeout", read_body_timeout,
               "how long a body may take beyond what min_body_rate allows for its size");
    v.Optional("min_body_rate", min_body_rate,
               "bytes per second a body must keep up (after read_body_timeout's allowance)");
    v.Optional("max_header_count", max_header_count, "header fields a request may carry");
    v.Optional("max_header_bytes", max_header_bytes,
               "size of a request's line and headers together; larger ones get 431");
  }
  absl::Status Validate() const;
};

// One request, headers and body read in full.
struct ServerRequest {
  std::string method;
  std::string target;  // path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint64_t content_length = 0;  // as announced; 0 for chunked or no body
  bool chunked = false;
  // What the body (and what the handler adds, decompressing it) holds on
  // the process's memory budget, where the server keeps one; released with
  // the last copy.
  std::shared_ptr<core::MemoryBudget::Reservation> reservation;

  std::string_view path() const;
  // The first header of that name (any case); empty when absent.
  std::string_view Header(std::string_view name) const;
};

struct ServerResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static ServerResponse Text(int status, std::string body);
};

class Exchange;

// A response whose body is sent in pieces as they come (chunked transfer
// encoding), for answers that last: the live tap. Thread-safe.
class ServerStream {
 public:
  virtual ~ServerStream() = default;
  // Queues `data` as the next piece of the body. False once the client has
  // gone or the server stops: the writer should stop then.
  virtual bool Write(std::string data) = 0;
  // Ends the body, with `trailers` after it (the head names them in a
  // `Trailer` header); the connection is then closed.
  virtual void Finish(std::vector<std::pair<std::string, std::string>> trailers = {}) = 0;
  // Bytes queued and not yet written to the socket: what a slow reader has
  // left behind.
  virtual size_t pending() const = 0;
};

// Answers one request, from any thread, at most once. Holding a Responder
// holds no thread: a request waiting for its answer costs its connection's
// memory only.
class Responder {
 public:
  explicit Responder(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  // Sends `response` unless the request was answered already (then false).
  bool Send(ServerResponse response) const;
  // Answers with `head` (status, content type and headers; its body is not
  // used) and a body written through the stream returned; null if the
  // request was answered already.
  std::shared_ptr<ServerStream> Stream(ServerResponse head) const;
  // At `deadline`, answers with what `make` returns unless Send came first.
  void ExpireAt(std::chrono::steady_clock::time_point deadline,
                std::function<ServerResponse()> make) const;

 private:
  std::shared_ptr<Exchange> exchange_;
};

struct ServerOptions {
  std::string name;  // the `server` label of the connection metrics
  std::string endpoint;
  ServerLimits limits;
  size_t max_body_bytes = 64 << 10;
  std::shared_ptr<tls::ServerCertificates> tls;
  int threads = 1;
  // Called when the headers are in, before any of the body is read or any
  // memory is set aside for it. A response refuses the request; the
  // connection is then closed if a body was announced.
  std::function<std::optional<ServerResponse>(const ServerRequest&)> admit;
  // When set, called with the headers too (before `admit`); what it returns
  // is added to every response to that request, refusals included (CORS).
  std::function<std::vector<std::pair<std::string, std::string>>(const ServerRequest&)>
      response_headers;
  // When set, the body is reserved on the process's memory budget as it
  // arrives; a body that does not fit gets this answer (a 429) and its
  // connection is closed.
  std::function<ServerResponse(const ServerRequest&)> over_budget;
  // Called with the whole request on one of the server's threads; it must
  // not block (long work answers later through the Responder).
  std::function<void(ServerRequest&&, Responder)> handle;
};

// An event-driven HTTP/1.1 server (Boost.Beast on Asio): a few threads serve
// every connection; each limit above is enforced and each refusal counted in
// tributary_http_refused_connections_total{server,reason}.
class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  absl::Status Start();
  // Stops accepting, closes every connection, joins the threads.
  void Stop();
  int port() const { return port_; }

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

}  // namespace tributary::common::http

#endif  // TRIBUTARY_COMMON_HTTP_SERVER_H_
