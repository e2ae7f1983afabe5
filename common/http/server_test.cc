#include "common/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/http/http_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tributary/core/testing/test_consumer.h"

namespace tributary::common::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A raw client connection, so that a test can send exactly the bytes (and at
// the pace) an attacker would.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Conn() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // What arrives until the peer closes or `wait` passes without a byte.
  std::string ReadUntilClosed(std::chrono::milliseconds wait = std::chrono::seconds(20)) {
    std::string out;
    closed_ = false;
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return out;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }
  // One response: its headers and a Content-Length body.
  std::string ReadResponse() {
    std::string out;
    while (true) {
      size_t end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t cl = out.find("Content-Length: ");
        size_t length = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
        if (out.size() >= end + 4 + length) return out;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20000) <= 0) return out;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

double Refused(const std::string& server, const std::string& reason) {
  return core::testing::MetricValue("tributary_http_refused_connections_total",
                                    {{"server", server}, {"reason", reason}});
}

// A connection cut at a timeout is closed by the stream itself, a moment
// before the server counts it: the count, once it reaches `n` (or after 10 s).
double RefusedSoon(const std::string& server, const std::string& reason, double n) {
  for (int i = 0; i < 500 && Refused(server, reason) < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Refused(server, reason);
}

// A server on a free loopback port that echoes the method, path and body;
// its name (the metrics' `server` label) is new for every server, so that
// counts start from 0 even when tests repeat.
ServerOptions EchoOptions(const std::string& name) {
  static std::atomic<int> servers{0};
  ServerOptions o;
  o.name = name + "/" + std::to_string(servers.fetch_add(1));
  o.endpoint = "127.0.0.1:0";
  o.handle = [](ServerRequest&& req, Responder responder) {
    responder.Send(ServerResponse::Text(200, req.method + " " + req.target + " " + req.body));
  };
  return o;
}

TEST(HttpServer, AnswersRequestsOnAKeptAliveConnection) {
  Server server(EchoOptions("test/keepalive"));
  ASSERT_TRUE(server.Start().ok());
  Conn c(server.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::string first = c.ReadResponse();
  EXPECT_THAT(first, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(first, HasSubstr("GET /a?x=1 "));
  ASSERT_TRUE(c.Send("POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"));
  std::string second = c.ReadResponse();
  EXPECT_THAT(second, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(second, HasSubstr("POST /b hello"));
  ASSERT_TRUE(
      c.Send("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("POST /c abcde"));
}

TEST(HttpServer, AnswersLaterFromAnotherThreadOrAtTheDeadline) {
  ServerOptions o = EchoOptions("test/async");
  std::vector<std::thread> senders;
  o.handle = [&senders](ServerRequest&& req, Responder responder) {
    if (req.path() == "/late") {
      senders.emplace_back([responder] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_TRUE(responder.Send(ServerResponse::Text(200, "late answer")));
      });
    } else {
      responder.ExpireAt(std::chrono::steady_clock::now() + std::chrono::milliseconds(200),
                         [] { return ServerResponse::Text(503, "gave up"); });
    }
  };
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  Conn c(server.port());
  ASSERT_TRUE(c.Send("GET /late HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(c.ReadResponse(), HasSubstr("late answer"));
  ASSERT_TRUE(c.Send("GET /never HTTP/1.1\r\nHost: h\r\n\r\n"));
  std::string expired = c.ReadResponse();
  EXPECT_THAT(expired, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(expired, HasSubstr("gave up"));
  for (auto& t : senders) t.join();
}

TEST(HttpServer, StreamsAnAnswerInPiecesWithTrailersAndSeesItsReaderGo) {
  ServerOptions o = EchoOptions("test/stream");
  std::vector<std::thread> writers;
  std::atomic<bool> refused{false};
  o.handle = [&](ServerRequest&& req, Responder responder) {
    const bool forever = req.path() == "/forever";
    writers.emplace_back([&, responder, forever] {
      ServerResponse head;
      head.content_type = "text/plain";
      head.headers.emplace_back("Trailer", "X-Count");
      std::shared_ptr<ServerStream> stream = responder.Stream(std::move(head));
      ASSERT_NE(stream, nullptr);
      EXPECT_EQ(responder.Stream(ServerResponse{}), nullptr);  // answered once
      if (forever) {
        // Until the reader goes: the close is seen without writing to it.
        for (int i = 0; i < 3000 && stream->Write(""); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        refused = !stream->Write("late");
        return;
      }
      for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(stream->Write("piece " + std::to_string(i) + "\n"));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      stream->Finish({{"X-Count", "3"}});
      EXPECT_FALSE(stream->Write("after the end"));
    });
  };
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());

  Client client(ClientOptions{});
  Request request;
  request.method = "GET";
  request.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/pieces";
  request.headers = {"TE: trailers"};
  request.keep_headers = {"X-Count"};
  std::vector<std::string> pieces;
  request.on_body = [&](std::string_view data) {
    pieces.emplace_back(data);
    return true;
  };
  Response r = client.Send(request);
  EXPECT_EQ(r.status, 200) << r.error;
  std::string body;
  for (const std::string& p : pieces) body += p;
  EXPECT_EQ(body, "piece 0\npiece 1\npiece 2\n");
  EXPECT_GE(pieces.size(), 2u);  // they came apart, as written
  EXPECT_THAT(r.headers,
              ::testing::ElementsAre(std::make_pair(std::string("X-Count"), std::string("3"))));

  {
    Conn c(server.port());
    ASSERT_TRUE(c.Send("GET /forever HTTP/1.1\r\nHost: h\r\n\r\n"));
    std::string head = c.ReadUntilClosed(std::chrono::milliseconds(200));
    EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK"));
    EXPECT_THAT(head, HasSubstr("Transfer-Encoding: chunked"));
  }
  for (auto& t : writers) t.join();
  EXPECT_TRUE(refused);
}

TEST(HttpServer, CutsConnectionsWhoseHeadersDoNotArriveInTime) {
  ServerOptions o = EchoOptions("test/slowheader");
  const std::string name = o.name;
  o.limits.read_header_timeout = std::chrono::milliseconds(300);
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  Conn silent(server.port());
  Conn slow(server.port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\n"));
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)slow.Send("X");  // a byte at a time does not extend the deadline
  }
  EXPECT_EQ(slow.ReadUntilClosed(), "");
  EXPECT_TRUE(slow.closed());
  EXPECT_EQ(silent.ReadUntilClosed(), "");
  EXPECT_TRUE(silent.closed());
  EXPECT_EQ(RefusedSoon(name, "read_header_timeout", 2), 2);
  // The server still answers.
  Conn fresh(server.port());
  ASSERT_TRUE(fresh.Send("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(fresh.ReadResponse(), StartsWith("HTTP/1.1 200"));
}

TEST(HttpServer, CutsBodiesSlowerThanTheMinimumRate) {
  ServerOptions o = EchoOptions("test/slowbody");
  const std::string name = o.name;
  o.limits.read_body_timeout = std::chrono::milliseconds(300);
  o.limits.min_body_rate = core::ByteSize{1024};
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  Conn c(server.port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50000\r\n\r\n0123456789"));
  EXPECT_EQ(c.ReadUntilClosed(), "");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(RefusedSoon(name, "read_body_timeout", 1), 1);
}

TEST(HttpServer, RefusesOversizedHeadersAndTooManyHeaders) {
  ServerOptions o = EchoOptions("test/headers");
  const std::string name = o.name;
  o.limits.max_header_bytes = core::ByteSize{4096};
  o.limits.max_header_count = 10;
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  Conn big(server.port());
  ASSERT_TRUE(big.Send("GET / HTTP/1.1\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n"));
  EXPECT_THAT(big.ReadUntilClosed(), StartsWith("HTTP/1.1 431"));
  Conn many(server.port());
  std::string request = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 11; ++i) request += "X-H" + std::to_string(i) + ": v\r\n";
  ASSERT_TRUE(many.Send(request + "\r\n"));
  EXPECT_THAT(many.ReadUntilClosed(), StartsWith("HTTP/1.1 431"));
  EXPECT_EQ(Refused(name, "header_too_large"), 1);
  EXPECT_EQ(Refused(name, "too_many_headers"), 1);
}

TEST(HttpServer, HoldsSizedAndChunkedBodiesToTheLimit) {
  ServerOptions o = EchoOptions("test/body");
  const std::string name = o.name;
  o.max_body_bytes = 1000;
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  Conn sized(server.port());
  ASSERT_TRUE(sized.Send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n"));
  EXPECT_THAT(sized.ReadUntilClosed(), StartsWith("HTTP/1.1 413"));
  Conn chunked(server.port());
  std::string chunk = "258\r\n" + std::string(600, 'x') + "\r\n";
  ASSERT_TRUE(chunked.Send("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           chunk + chunk + chunk + "0\r\n\r\n"));
  EXPECT_THAT(chunked.ReadUntilClosed(), StartsWith("HTTP/1.1 413"));
  EXPECT_EQ(Refused(name, "body_too_large"), 2);
}

TEST(HttpServer, ClosesConnectionsBeyondMaxConnectionsAtOnce) {
  ServerOptions o = EchoOptions("test/maxconn");
  const std::string name = o.name;
  o.limits.max_connections = 2;
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  auto a = std::make_unique<Conn>(server.port());
  Conn b(server.port());
  ASSERT_TRUE(a->Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(a->ReadResponse(), StartsWith("HTTP/1.1 200"));
  ASSERT_TRUE(b.Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(b.ReadResponse(), StartsWith("HTTP/1.1 200"));
  Conn c(server.port());
  EXPECT_EQ(c.ReadUntilClosed(), "");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(Refused(name, "max_connections"), 1);
  // A closed connection frees its place.
  a.reset();
  for (int i = 0; i < 200; ++i) {
    if (core::testing::MetricValue("tributary_http_connections", {{"server", name}}) < 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Conn d(server.port());
  ASSERT_TRUE(d.Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_THAT(d.ReadResponse(), StartsWith("HTTP/1.1 200"));
}

TEST(HttpServer, AdmissionRefusesBeforeTheBodyAndTheClientReadsTheAnswer) {
  ServerOptions o = EchoOptions("test/admit");
  bool handled = false;
  o.admit = [](const ServerRequest& req) -> std::optional<ServerResponse> {
    if (req.Header("authorization") == "Bearer ok") return std::nullopt;
    return ServerResponse::Text(401, "who are you");
  };
  o.handle = [&handled](ServerRequest&& req, Responder responder) {
    handled = true;
    responder.Send(ServerResponse::Text(200, std::to_string(req.body.size())));
  };
  o.max_body_bytes = 1 << 20;
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  Conn refused(server.port());
  ASSERT_TRUE(refused.Send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 200000\r\n\r\n"));
  (void)refused.Send(std::string(200000, 'b'));
  std::string answer = refused.ReadUntilClosed();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 401"));
  EXPECT_THAT(answer, HasSubstr("who are you"));
  EXPECT_FALSE(handled);
  // With Expect: 100-continue the body is asked for once admitted.
  Conn admitted(server.port());
  ASSERT_TRUE(admitted.Send(
      "POST / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ok\r\nContent-Length: 4\r\n"
      "Expect: 100-continue\r\n\r\n"));
  std::string interim = admitted.ReadResponse();
  EXPECT_THAT(interim, StartsWith("HTTP/1.1 100 Continue"));
  ASSERT_TRUE(admitted.Send("data"));
  std::string final_answer = admitted.ReadResponse();
  EXPECT_THAT(final_answer, StartsWith("HTTP/1.1 200"));
  EXPECT_TRUE(handled);
}

// Bodies hold the memory budget as they arrive, not as they are announced:
// a slow body announcing a megabyte holds what it sent; a body that outgrows
// the budget gets the listener's 429.
TEST(HttpServer, BodiesAreReservedOnTheMemoryBudgetAsTheyArrive) {
  core::MemoryBudget& budget = core::MemoryBudget::Process();
  budget.SetLimit(20000);
  ServerOptions o = EchoOptions("test/budget");
  const std::string name = o.name;
  o.max_body_bytes = 1 << 20;
  o.over_budget = [](const ServerRequest&) { return ServerResponse::Text(429, "over budget"); };
  o.handle = [](ServerRequest&& req, Responder responder) {
    responder.Send(ServerResponse::Text(200, std::to_string(req.reservation->bytes())));
  };
  Server server(std::move(o));
  ASSERT_TRUE(server.Start().ok());
  Conn slow(server.port());
  ASSERT_TRUE(slow.Send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n" +
                        std::string(100, 'x')));
  Conn fits(server.port());
  ASSERT_TRUE(fits.Send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n" +
                        std::string(5000, 'y')));
  std::string answer = fits.ReadResponse();
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(answer, ::testing::EndsWith("\r\n\r\n5000"));  // its body, reserved
  ASSERT_TRUE(slow.Send(std::string(30000, 'x')));
  EXPECT_THAT(slow.ReadUntilClosed(), StartsWith("HTTP/1.1 429"));
  EXPECT_EQ(Refused(name, "memory_budget"), 1);
  for (int i = 0; i < 500 && budget.used() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(budget.used(), 0u);
  budget.SetLimit(0);
}

TEST(HttpServer, StopsWithRequestsStillWaitingForTheirAnswer) {
  ServerOptions o = EchoOptions("test/stop");
  std::optional<Responder> held;
  o.handle = [&held](ServerRequest&&, Responder responder) {
    responder.ExpireAt(std::chrono::steady_clock::now() + std::chrono::hours(1),
                       [] { return ServerResponse::Text(503, "late"); });
    held = responder;
  };
  auto server = std::make_unique<Server>(std::move(o));
  ASSERT_TRUE(server->Start().ok());
  Conn c(server->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  for (int i = 0; i < 500 && !held; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(held.has_value());
  server->Stop();  // returns although an answer and an hour-long timer are pending
  EXPECT_EQ(c.ReadUntilClosed(), "");
  EXPECT_TRUE(held->Send(ServerResponse::Text(200, "after stop")));
  server.reset();
}

TEST(HttpServer, LimitsAreValidated) {
  ServerLimits limits;
  EXPECT_TRUE(limits.Validate().ok());
  limits.max_connections = 0;
  EXPECT_FALSE(limits.Validate().ok());
  limits = ServerLimits{};
  limits.min_body_rate = core::ByteSize{0};
  EXPECT_FALSE(limits.Validate().ok());
  limits = ServerLimits{};
  limits.max_header_bytes = core::ByteSize{100};
  EXPECT_FALSE(limits.Validate().ok());
}

}  // namespace
}  // namespace tributary::common::http
