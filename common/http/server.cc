#include "common/http/server.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/http/endpoint.h"
#include "common/tls/tls.h"
#include "tributary/core/log.h"
#include "tributary/core/telemetry.h"

namespace tributary::common::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

const struct {
  core::MetricFamily<::prometheus::Gauge> connections{"tributary_http_connections",
                                                      "Connections an HTTP listener holds open"};
  core::MetricFamily<::prometheus::Counter> refused{
      "tributary_http_refused_connections_total",
      "Connections an HTTP listener closed or requests it refused before its handler, by reason "
      "(max_connections, read_header_timeout, read_body_timeout, write_timeout, "
      "header_too_large, too_many_headers, body_too_large, malformed, memory_budget)"};
} kFamilies;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return absl::ascii_tolower(static_cast<unsigned char>(x)) ==
                  absl::ascii_tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

absl::Status ServerLimits::Validate() const {
  if (max_connections < 1) return absl::InvalidArgumentError("max_connections must be >= 1");
  if (read_header_timeout.count() <= 0 || idle_timeout.count() <= 0 ||
      read_body_timeout.count() <= 0) {
    return absl::InvalidArgumentError(
        "read_header_timeout, idle_timeout and read_body_timeout must be > 0");
  }
  if (min_body_rate.bytes == 0) return absl::InvalidArgumentError("min_body_rate must be > 0");
  if (max_header_count < 1) return absl::InvalidArgumentError("max_header_count must be >= 1");
  if (max_header_bytes.bytes < 1024) {
    return absl::InvalidArgumentError("max_header_bytes must be at least 1KiB");
  }
  return absl::OkStatus();
}

std::string_view ServerRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view ServerRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

ServerResponse ServerResponse::Text(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

class StreamBody;

// One connection, plain or TLS: what the server's Stop and the Responder
// need of it.
class Connection {
 public:
  // Runs on the connection's strand: answers the request in hand with
  // `head` and then what `body` is given.
  virtual void AnswerStream(ServerResponse head, std::shared_ptr<StreamBody> body) = 0;
  // Runs on the connection's strand: writes what `body` holds.
  virtual void Pump(std::shared_ptr<StreamBody> body) = 0;
  virtual ~Connection() = default;
  virtual void Close() = 0;
  // Close() on the calling thread, once the server's threads are gone.
  virtual void CloseNow() = 0;
  // Runs on the connection's strand: answers the request in hand.
  virtual void Answer(ServerResponse response) = 0;
  virtual asio::any_io_executor executor() = 0;
};

struct Server::State {
  explicit State(ServerOptions o) : options(std::move(o)) {}

  ServerOptions options;
  asio::io_context io{std::max(1, options.threads)};
  tcp::acceptor acceptor{io};
  std::optional<asio::ssl::context> ssl;
  std::atomic<int64_t> open{0};
  std::atomic<bool> stopped{false};
  ::prometheus::Gauge* connections = nullptr;
  std::mutex mu;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> live;

  // The connections still open (taken under the lock, used outside it: a
  // connection's destructor takes the lock too).
  std::vector<std::shared_ptr<Connection>> Open() {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [raw, weak] : live) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }

  void Refused(std::string_view reason) {
    kFamilies.refused.Add({{"server", options.name}, {"reason", std::string(reason)}}).Increment();
  }
};

// The pieces of a streamed body, queued by the writer and written on the
// connection's strand one at a time, each framed as a chunk.
class StreamBody : public ServerStream, public std::enable_shared_from_this<StreamBody> {
 public:
  explicit StreamBody(std::shared_ptr<Connection> connection)
      : connection_(std::move(connection)) {}

  bool Write(std::string data) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (gone_ || finished_) return false;
    if (data.empty()) return true;
    std::string piece = absl::StrCat(absl::Hex(data.size()), "\r\n");
    piece.append(data);
    piece.append("\r\n");
    pending_ += piece.size();
    queue_.push_back(std::move(piece));
    KickLocked();
    return true;
  }

  void Finish(std::vector<std::pair<std::string, std::string>> trailers) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    std::string last = "0\r\n";
    for (const auto& [name, value] : trailers) absl::StrAppend(&last, name, ": ", value, "\r\n");
    last.append("\r\n");
    pending_ += last.size();
    queue_.push_back(std::move(last));
    KickLocked();
  }

  size_t pending() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_;
  }

  // On the strand, once the head is written: pieces may go.
  void Started() {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
    writing_ = true;  // the caller pumps next
  }
  // On the strand: the next piece to write (null when none is queued; the
  // next Write posts a Pump), and whether it ends the body.
  std::shared_ptr<std::string> Take(bool* last) {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty() || gone_) {
      writing_ = false;
      return nullptr;
    }
    auto piece = std::make_shared<std::string>(std::move(queue_.front()));
    queue_.pop_front();
    *last = finished_ && queue_.empty();
    return piece;
  }
  void Written(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ -= std::min(pending_, bytes);
  }
  // The connection closed: later writes are refused.
  void Gone() {
    std::lock_guard<std::mutex> lock(mu_);
    gone_ = true;
    queue_.clear();
    pending_ = 0;
  }

 private:
  void KickLocked() {
    if (!started_ || writing_ || gone_) return;
    writing_ = true;
    asio::post(connection_->executor(),
               [connection = connection_, self = shared_from_this()] { connection->Pump(self); });
  }

  const std::shared_ptr<Connection> connection_;
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  size_t pending_ = 0;
  bool started_ = false;
  bool writing_ = false;
  bool finished_ = false;
  bool gone_ = false;
};

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<Server::State> state, std::shared_ptr<Connection> connection)
      : state_(std::move(state)), connection_(std::move(connection)) {}

  bool Send(ServerResponse response) {
    if (answered_.exchange(true)) return false;
    if (state_->stopped.load()) return true;
    asio::post(connection_->executor(),
               [connection = connection_, self = shared_from_this(), r = std::move(response)]() {
                 if (self->timer_) self->timer_->cancel();
                 connection->Answer(std::move(r));
               });
    return true;
  }

  std::shared_ptr<ServerStream> Stream(ServerResponse head) {
    if (answered_.exchange(true)) return nullptr;
    auto body = std::make_shared<StreamBody>(connection_);
    if (state_->stopped.load()) {
      body->Gone();
      return body;
    }
    asio::post(connection_->executor(), [connection = connection_, self = shared_from_this(),
                                         head = std::move(head), body]() mutable {
      if (self->timer_) self->timer_->cancel();
      connection->AnswerStream(std::move(head), std::move(body));
    });
    return body;
  }

  void ExpireAt(SteadyTime deadline, std::function<ServerResponse()> make) {
    if (state_->stopped.load()) return;
    asio::post(connection_->executor(),
               [self = shared_from_this(), deadline, make = std::move(make)]() mutable {
                 if (self->answered_.load()) return;
                 self->timer_ = std::make_unique<asio::steady_timer>(self->connection_->executor());
                 self->timer_->expires_at(deadline);
                 self->timer_->async_wait([self, make = std::move(make)](beast::error_code ec) {
                   if (ec || self->answered_.exchange(true)) return;
                   self->connection_->Answer(make());
                 });
               });
  }

  // On the connection's strand, when it closes: no answer is waited for.
  void CancelTimer() {
    if (timer_) timer_->cancel();
  }

 private:
  std::shared_ptr<Server::State> state_;
  std::shared_ptr<Connection> connection_;
  std::atomic<bool> answered_{false};
  std::unique_ptr<asio::steady_timer> timer_;  // touched on the connection's strand only
};

bool Responder::Send(ServerResponse response) const { return exchange_->Send(std::move(response)); }

std::shared_ptr<ServerStream> Responder::Stream(ServerResponse head) const {
  return exchange_->Stream(std::move(head));
}

void Responder::ExpireAt(SteadyTime deadline, std::function<ServerResponse()> make) const {
  exchange_->ExpireAt(deadline, std::move(make));
}

namespace {

bool IsTimeout(const beast::error_code& ec) { return ec == beast::error::timeout; }

// A request body kept in a string that grows as the bytes arrive: unlike
// Beast's string_body it sets nothing aside for the announced length, so a
// body that never comes costs nothing, and what does come is reserved on
// the memory budget as it grows.
struct GrowingBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& v) { return v.size(); }
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      std::size_t n = 0;
      for (const auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// The phases of a connection: waiting for a request (idle), reading its
// headers, reading its body, handing it to the handler, writing the answer.
template <class Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<Server::State> state, Stream stream)
      : state_(std::move(state)), stream_(std::move(stream)) {}

  ~Session() override {
    state_->connections->Decrement();
    state_->open.fetch_sub(1);
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->live.erase(this);
  }

  void Run(SteadyTime accepted) {
    header_deadline_ = accepted + limits().read_header_timeout;
    if constexpr (kTls) {
      Lowest().expires_at(header_deadline_);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Fail(ec, "read_header_timeout");
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

  void Close() override {
    asio::post(executor(), [self = this->shared_from_this()] { self->Shutdown(); });
  }

  void CloseNow() override { Shutdown(); }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

  void Answer(ServerResponse response) override {
    Write(std::move(response), keep_alive_ && !state_->stopped.load());
  }

  void AnswerStream(ServerResponse head, std::shared_ptr<StreamBody> body) override {
    exchange_.reset();
    if (closed_) return body->Gone();
    stream_body_ = body;
    auto res = std::make_shared<bhttp::response<bhttp::empty_body>>();
    SetHead(head, res.get());
    res->keep_alive(false);
    res->chunked(true);
    auto serializer = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*res);
    Lowest().expires_after(limits().read_body_timeout);
    bhttp::async_write_header(
        stream_, *serializer,
        [self = this->shared_from_this(), res, serializer, body](beast::error_code ec, size_t) {
          if (ec) {
            body->Gone();
            return self->Fail(ec, "write_timeout");
          }
          body->Started();
          self->WatchClose(body);
          self->Pump(body);
        });
  }

  // While a streamed answer lasts nothing is read: a client that closes
  // its end is seen here, and the writer learns it at its next write.
  void WatchClose(std::shared_ptr<StreamBody> body) {
    Lowest().socket().async_wait(
        tcp::socket::wait_read, [self = this->shared_from_this(), body](beast::error_code ec) {
          if (ec || self->closed_) return;
          char c;
          const ssize_t n =
              ::recv(self->Lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            body->Gone();
            self->Shutdown();
          }
          // Bytes from the client (a pipelined request) are left unread:
          // the connection closes when the answer ends.
        });
  }

  void Pump(std::shared_ptr<StreamBody> body) override {
    bool last = false;
    std::shared_ptr<std::string> piece = body->Take(&last);
    if (piece == nullptr) return;
    ExpiresForWriting(piece->size());
    asio::async_write(
        stream_, asio::buffer(*piece),
        [self = this->shared_from_this(), body, piece, last](beast::error_code ec, size_t) {
          body->Written(piece->size());
          if (ec) {
            body->Gone();
            return self->Fail(ec, "write_timeout");
          }
          if (last) return self->Shutdown();
          self->Pump(std::move(body));
        });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  const ServerLimits& limits() const { return state_->options.limits; }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // A kept-alive connection waits up to idle_timeout for the next request's
  // first bytes; its headers then have read_header_timeout.
  void WaitForRequest() {
    if (buffer_.size() > 0) {
      header_deadline_ = std::chrono::steady_clock::now() + limits().read_header_timeout;
      return ReadHeader();
    }
    Lowest().expires_after(limits().idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(4096), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
          if (ec) return self->Shutdown();  // idle or closed: the end of a normal connection
          self->buffer_.commit(n);
          self->header_deadline_ =
              std::chrono::steady_clock::now() + self->limits().read_header_timeout;
          self->ReadHeader();
        });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(limits().max_header_bytes.bytes));
    // The body limit applies once the listener has seen the headers.
    parser_->body_limit(boost::none);
    Lowest().expires_at(header_deadline_);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream && buffer_.size() == 0) return Shutdown();
    if (ec == bhttp::error::header_limit) {
      return Refuse("header_too_large", 431, "request headers exceed max_header_bytes");
    }
    if (ec == bhttp::error::body_limit) {
      return Refuse(
          "body_too_large", 413,
          absl::StrCat("request body exceeds ", state_->options.max_body_bytes, " bytes"));
    }
    if (ec) return Fail(ec, "read_header_timeout");
    const auto& msg = parser_->get();
    request_ = ServerRequest{};
    request_.method = std::string(msg.method_string());
    request_.target = std::string(msg.target());
    for (const auto& field : msg) {
      if (static_cast<int64_t>(request_.headers.size()) >= limits().max_header_count) {
        return Refuse("too_many_headers", 431, "request has more than max_header_count headers");
      }
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request_.chunked = parser_->chunked();
    request_.content_length = parser_->content_length().value_or(0);
    keep_alive_ = parser_->keep_alive();
    body_announced_ = request_.chunked || request_.content_length > 0;
    body_unread_ = body_announced_;
    extra_headers_.clear();
    if (state_->options.response_headers)
      extra_headers_ = state_->options.response_headers(request_);
    // The listener's own checks first, so that it answers in its own form.
    if (state_->options.admit) {
      if (std::optional<ServerResponse> refusal = state_->options.admit(request_)) {
        return Write(std::move(*refusal), keep_alive_ && !body_announced_);
      }
    }
    if (request_.content_length > state_->options.max_body_bytes) {
      return Refuse(
          "body_too_large", 413,
          absl::StrCat("request body exceeds ", state_->options.max_body_bytes, " bytes"));
    }
    parser_->body_limit(state_->options.max_body_bytes);
    if (state_->options.over_budget) {
      request_.reservation = std::make_shared<core::MemoryBudget::Reservation>();
      // Body bytes that came with the headers are parsed on the first read.
    }
    if (body_announced_ && EqualsIgnoreCase(request_.Header("Expect"), "100-continue")) {
      return Continue();
    }
    ReadBody();
  }

  void Continue() {
    auto reply = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    Lowest().expires_after(limits().read_body_timeout);
    asio::async_write(stream_, asio::buffer(*reply),
                      [self = this->shared_from_this(), reply](beast::error_code ec, size_t) {
                        if (ec) return self->Fail(ec, "write_timeout");
                        self->ReadBody();
                      });
  }

  // The body must arrive at min_body_rate, after an allowance of
  // read_body_timeout: a sender of a byte a second is cut when that runs out.
  void ReadBody() {
    if (parser_->is_done()) {
      if (!ReserveBody()) return;
      return Dispatch();
    }
    if (body_received_ == 0) body_start_ = std::chrono::steady_clock::now();
    const auto allowance = std::chrono::milliseconds(
        static_cast<int64_t>(1000.0 * static_cast<double>(body_received_) /
                             static_cast<double>(limits().min_body_rate.bytes)));
    Lowest().expires_at(body_start_ + limits().read_body_timeout + allowance);
    bhttp::async_read_some(stream_, buffer_, *parser_,
                           [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                             self->body_received_ += n;
                             if (ec == bhttp::error::body_limit) {
                               return self->Refuse(
                                   "body_too_large", 413,
                                   absl::StrCat("request body exceeds ",
                                                self->state_->options.max_body_bytes, " bytes"));
                             }
                             if (ec) return self->Fail(ec, "read_body_timeout");
                             if (!self->ReserveBody()) return;
                             self->ReadBody();
                           });
  }

  // What the body holds so far, on the memory budget; false (and the
  // request refused) when the budget is spent.
  bool ReserveBody() {
    if (!state_->options.over_budget) return true;
    const uint64_t held = parser_->get().body().size();
    if (held <= request_.reservation->bytes()) return true;
    if (request_.reservation->Grow(held - request_.reservation->bytes())) return true;
    ServerResponse refusal = state_->options.over_budget(request_);
    state_->Refused("memory_budget");
    keep_alive_ = false;
    Write(std::move(refusal), false);
    return false;
  }

  void Dispatch() {
    body_unread_ = false;
    request_.body = std::move(parser_->get().body());
    parser_.reset();
    body_received_ = 0;
    auto exchange = std::make_shared<Exchange>(state_, this->shared_from_this());
    exchange_ = exchange;
    // The handler owns the request now: what it does not keep goes when it
    // returns, not when the connection's next request comes.
    ServerRequest request = std::move(request_);
    request_ = ServerRequest{};
    state_->options.handle(std::move(request), Responder(std::move(exchange)));
  }

  // Status, content type, headers and the connection's extra headers.
  template <class Body>
  void SetHead(const ServerResponse& r, bhttp::response<Body>* res) const {
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    if (!r.content_type.empty()) res->set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->insert(k, v);
    for (auto& [k, v] : extra_headers_) res->insert(k, v);
  }

  // A write of `bytes` has read_body_timeout plus what they take at the
  // minimum body rate.
  void ExpiresForWriting(size_t bytes) {
    const auto allowance = std::chrono::milliseconds(
        static_cast<int64_t>(1000.0 * static_cast<double>(bytes) /
                             static_cast<double>(limits().min_body_rate.bytes)));
    Lowest().expires_after(limits().read_body_timeout + allowance);
  }

  void Write(ServerResponse r, bool keep_alive) {
    exchange_.reset();
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    SetHead(r, res.get());
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    ExpiresForWriting(res->body().size());
    bhttp::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
          if (ec) return self->Fail(ec, "write_timeout");
          if (!keep_alive) return self->body_unread_ ? self->Linger() : self->Shutdown();
          self->WaitForRequest();
        });
  }

  // Answers a request refused before its handler, and closes the
  // connection: what is left of the request is not read.
  void Refuse(std::string_view reason, int status, std::string message) {
    state_->Refused(reason);
    keep_alive_ = false;
    Write(ServerResponse::Text(status, std::move(message) + "\n"), false);
  }

  void Fail(beast::error_code ec, std::string_view timeout_reason) {
    if (IsTimeout(ec)) {
      state_->Refused(timeout_reason);
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      return Refuse("malformed", 400, absl::StrCat("malformed request: ", ec.message()));
    }
    Shutdown();
  }

  // After refusing a request whose body is still coming: stop sending, and
  // read (and drop) what the client still sends for a moment, so that it
  // reads the answer instead of a reset.
  void Linger() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().expires_after(std::chrono::seconds(2));
    Drain();
  }

  void Drain() {
    auto chunk = std::make_shared<std::array<char, 16384>>();
    Lowest().async_read_some(asio::buffer(*chunk), [self = this->shared_from_this(), chunk](
                                                       beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > (1u << 20)) return self->Shutdown();
      self->Drain();
    });
  }

  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    if (auto body = stream_body_.lock()) body->Gone();
    if (auto exchange = exchange_.lock()) exchange->CancelTimer();
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

  std::shared_ptr<Server::State> state_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<GrowingBody>> parser_;
  ServerRequest request_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  std::weak_ptr<Exchange> exchange_;
  std::weak_ptr<StreamBody> stream_body_;  // a streamed answer being written
  SteadyTime header_deadline_;
  SteadyTime body_start_;
  uint64_t body_received_ = 0;
  bool keep_alive_ = true;
  bool body_announced_ = false;
  bool body_unread_ = false;
  size_t drained_ = 0;
  bool closed_ = false;
};

void Accept(const std::shared_ptr<Server::State>& state) {
  state->acceptor.async_accept(
      asio::make_strand(state->io), [state](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || state->stopped.load()) return;
        if (!ec) {
          const auto now = std::chrono::steady_clock::now();
          if (state->open.load() >= state->options.limits.max_connections) {
            state->Refused("max_connections");
            beast::error_code ignored;
            socket.close(ignored);
          } else {
            state->open.fetch_add(1);
            state->connections->Increment();
            socket.set_option(tcp::no_delay(true), ec);
            std::shared_ptr<Connection> connection;
            if (state->ssl) {
              auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                  state, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *state->ssl));
              s->Run(now);
              connection = s;
            } else {
              auto s = std::make_shared<Session<beast::tcp_stream>>(
                  state, beast::tcp_stream(std::move(socket)));
              s->Run(now);
              connection = s;
            }
            std::lock_guard<std::mutex> lock(state->mu);
            state->live.emplace(connection.get(), connection);
          }
        } else if (ec == asio::error::no_descriptors) {
          // Out of file descriptors: pause a moment rather than spin.
          state->Refused("no_descriptors");
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        Accept(state);
      });
}

}  // namespace

Server::Server(ServerOptions options) : state_(std::make_shared<State>(std::move(options))) {
  state_->connections = &kFamilies.connections.Add({{"server", state_->options.name}});
}

Server::~Server() { Stop(); }

absl::Status Server::Start() {
  State& s = *state_;
  std::string host;
  int port = 0;
  if (absl::Status st = SplitHostPort(s.options.endpoint, &host, &port); !st.ok()) return st;
  if (host.empty()) host = "0.0.0.0";
  if (s.options.tls) {
    s.ssl.emplace(asio::ssl::context::tls_server);
    if (!s.options.tls->Configure(*s.ssl->native_handle())) {
      return absl::InternalError(absl::StrCat(s.options.name, ": cannot set up TLS"));
    }
  }
  beast::error_code ec;
  tcp::resolver resolver(s.io);
  auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(s.options.name, ": cannot resolve ", s.options.endpoint, ": ", ec.message()));
  }
  // The first address the name stands for (IPv4 before IPv6 for localhost).
  tcp::endpoint where = endpoints.begin()->endpoint();
  for (const auto& e : endpoints) {
    if (e.endpoint().address().is_v4()) {
      where = e.endpoint();
      break;
    }
  }
  s.acceptor.open(where.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(where, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(s.options.name, ": cannot listen on ",
                                               s.options.endpoint, ": ", ec.message()));
  }
  port_ = s.acceptor.local_endpoint().port();
  Accept(state_);
  for (int i = 0; i < std::max(1, s.options.threads); ++i) {
    threads_.emplace_back([state = state_] { state->io.run(); });
  }
  core::Log(core::LogLevel::kInfo, s.options.name, "listening",
            absl::StrCat("endpoint=", where.address().to_string(), ":", port_));
  return absl::OkStatus();
}

void Server::Stop() {
  if (!state_ || state_->stopped.exchange(true)) return;
  asio::post(state_->io, [state = state_] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
  });
  for (const auto& c : state_->Open()) c->Close();
  // The threads run until every connection has closed and no timer waits.
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // What is left (a connection accepted as the server stopped) is closed on
  // this thread, and the handlers that closing completes run once, so that
  // nothing still holds the server's state.
  for (const auto& c : state_->Open()) c->CloseNow();
  state_->io.restart();
  state_->io.poll();
}

}  // namespace tributary::common::http
