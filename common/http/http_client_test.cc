#include "common/http/http_client.h"

#include <httplib.h>

#include <thread>

#include "gtest/gtest.h"

namespace tributary::common::http {
namespace {

// A loopback HTTP server on a free port, stopped with the test.
class Server {
 public:
  Server() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    // Connections made before the accept loop runs wait in the backlog.
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Server() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& operator*() { return server_; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpClient, SendsTheBodyAndEveryHeaderAndReadsTheResponse) {
  Server server;
  (*server).Put("/thing", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Retry-After", "7");
    res.set_content(req.get_header_value("Authorization") + "|" +
                        req.get_header_value("X-Request") + "|" + req.body,
                    "application/openmetrics-text; version=1.0.0");
  });
  ClientOptions options;
  options.headers = {"Authorization: Bearer t0k"};
  Client client(options);
  Request request;
  request.method = "PUT";
  request.url = server.Url("/thing");
  request.body = "payload";
  request.headers = {"X-Request: yes"};
  const Response r = client.Send(request);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Bearer t0k|yes|payload");
  EXPECT_EQ(r.content_type, "application/openmetrics-text; version=1.0.0");
  EXPECT_EQ(r.retry_after, std::chrono::seconds(7));
  EXPECT_FALSE(r.too_large);

  // The handle goes back to the pool and serves the next request.
  request.method = "GET";
  (*server).Get("/thing", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("got", "text/plain");
  });
  const Response again = client.Send(request);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, "got");
  EXPECT_EQ(again.retry_after, std::chrono::nanoseconds(0));
}

TEST(HttpClient, ALargeResponseIsCutOrAbandoned) {
  Server server;
  (*server).Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(100000, 'x'), "text/plain");
  });
  Client client(ClientOptions{});
  Request request;
  request.method = "GET";
  request.url = server.Url("/big");
  request.max_response_bytes = 1000;
  const Response cut = client.Send(request);
  EXPECT_EQ(cut.status, 200);
  EXPECT_EQ(cut.body.size(), 1000u);
  EXPECT_TRUE(cut.too_large);

  request.fail_over_limit = true;
  const Response abandoned = client.Send(request);
  EXPECT_EQ(abandoned.status, 0);
  EXPECT_TRUE(abandoned.too_large);
  EXPECT_FALSE(abandoned.error.empty());
}

TEST(HttpClient, NoResponseSaysWhy) {
  Server server;
  (*server).Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    res.set_content("late", "text/plain");
  });
  ClientOptions options;
  options.timeout = std::chrono::milliseconds(200);
  Client client(options);
  Request request;
  request.method = "GET";
  request.url = server.Url("/slow");
  const Response slow = client.Send(request);
  EXPECT_EQ(slow.status, 0);
  EXPECT_TRUE(slow.timed_out);

  request.url = "http://127.0.0.1:1/nothing";
  const Response refused = client.Send(request);
  EXPECT_EQ(refused.status, 0);
  EXPECT_FALSE(refused.timed_out);
  EXPECT_FALSE(refused.error.empty());
}

TEST(HttpClient, StreamsTheBodyUntilToldToStopOrCancelled) {
  Server server;
  (*server).Get("/stream", [](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      for (int i = 0; i < 50; ++i) {
        if (!sink.write("line\n", 5)) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      sink.done();
      return true;
    });
  });
  Client client(ClientOptions{});
  Request request;
  request.method = "GET";
  request.url = server.Url("/stream");
  std::string seen;
  request.on_body = [&](std::string_view data) {
    seen.append(data);
    return seen.size() < 15;
  };
  const Response stopped = client.Send(request);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_GE(seen.size(), 15u);
  EXPECT_LT(seen.size(), 250u);
  EXPECT_TRUE(stopped.body.empty());

  std::atomic<bool> cancel{true};
  request.on_body = [](std::string_view) { return true; };
  request.cancel = &cancel;
  const Response cancelled = client.Send(request);
  EXPECT_EQ(cancelled.status, 0);
  EXPECT_FALSE(cancelled.error.empty());
}

}  // namespace
}  // namespace tributary::common::http
