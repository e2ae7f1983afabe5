#include "tributary/core/runtime/admin_server.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/http/endpoint.h"
#include "common/http/server.h"
#include "status_page.h"
#include "tributary/core/log.h"
#include "tributary/core/runtime/tap.h"
#include "tributary/core/telemetry.h"

namespace tributary::core::runtime {

namespace {

std::string PercentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && absl::ascii_isxdigit(in[i + 1]) &&
        absl::ascii_isxdigit(in[i + 2])) {
      auto hex = [](char c) { return absl::ascii_isdigit(c) ? c - '0' : (c | 0x20) - 'a' + 10; };
      out.push_back(static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i] == '+' ? ' ' : in[i]);
    }
  }
  return out;
}

}  // namespace

std::string QueryValue(std::string_view target, std::string_view name) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq)) != name) continue;
    return eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
  }
  return "";
}

absl::Status ParseTapQuery(std::string_view target, TapRequest* tap) {
  tap->component = QueryValue(target, "component");
  if (std::string signal = QueryValue(target, "signal"); !signal.empty()) {
    tap->signal = ParseSignal(signal);
    if (!tap->signal) {
      return absl::NotFoundError(
          absl::StrCat("unknown signal '", signal, "'; known: traces, metrics, logs"));
    }
  }
  if (std::string limit = QueryValue(target, "limit"); !limit.empty()) {
    if (!absl::SimpleAtoi(limit, &tap->limit) || tap->limit == 0) {
      return absl::InvalidArgumentError("limit must be a positive number of lines");
    }
  }
  if (std::string duration = QueryValue(target, "duration"); !duration.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(duration, &d) || d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("duration must be like 10s or 500ms");
    }
    tap->duration = absl::ToChronoMilliseconds(d);
  }
  return absl::OkStatus();
}

void StreamTap(TapHub& taps, const TapRequest& request, bool trailers_accepted,
               const common::http::Responder& responder) {
  using common::http::ServerResponse;
  std::shared_ptr<common::http::ServerStream> stream;
  TapSink sink;
  sink.write = [&](std::string_view lines) {
    if (stream == nullptr) {
      ServerResponse head;
      head.content_type = "application/x-ndjson";
      if (trailers_accepted) head.headers.emplace_back("Trailer", "X-Tap-Lines, X-Tap-Cut");
      stream = responder.Stream(std::move(head));
      if (stream == nullptr) return false;
    }
    return stream->Write(std::string(lines));
  };
  sink.backlog = [&] { return stream ? stream->pending() : 0; };
  absl::StatusOr<TapResult> result = taps.Tap(request, sink);
  if (!result.ok()) {
    const int code = absl::IsNotFound(result.status())            ? 404
                     : absl::IsResourceExhausted(result.status()) ? 429
                                                                  : 503;
    responder.Send(ServerResponse::Text(code, std::string(result.status().message()) + "\n"));
    return;
  }
  if (result->cut) {
    Log(LogLevel::kWarn, "admin", "tap cut: the reader fell behind",
        absl::StrCat("component=", request.component.empty() ? "*" : request.component,
                     " lines=", result->count));
  }
  std::vector<std::pair<std::string, std::string>> trailers;
  if (trailers_accepted) {
    trailers.emplace_back("X-Tap-Lines", absl::StrCat(result->count));
    if (result->cut) trailers.emplace_back("X-Tap-Cut", "the reader fell behind");
  }
  if (stream != nullptr) stream->Finish(std::move(trailers));
}

AdminServer::AdminServer(std::string endpoint, common::http::ServerLimits limits,
                         std::function<bool()> ready, std::function<std::string()> status)
    : endpoint_(std::move(endpoint)),
      limits_(limits),
      ready_(std::move(ready)),
      status_(std::move(status)) {}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start() {
  common::http::ServerOptions options;
  options.name = "admin";
  options.endpoint = endpoint_;
  options.limits = limits_;
  options.max_body_bytes = 64 << 10;
  options.handle = [this](common::http::ServerRequest&& req, common::http::Responder responder) {
    if (req.path() == "/-/reload" && req.method == "POST" && reload_) {
      // A reload drains pipelines: it runs off the server's threads.
      RunAside([this, responder] { responder.Send(reload_()); });
      return;
    }
    if (req.path() == "/api/v1/tap" && req.method == "GET" && taps_ != nullptr) {
      TapRequest tap;
      if (absl::Status s = ParseTapQuery(req.target, &tap); !s.ok()) {
        responder.Send(common::http::ServerResponse::Text(absl::IsNotFound(s) ? 404 : 400,
                                                          std::string(s.message()) + "\n"));
        return;
      }
      // Trailers go only to clients that say they read them.
      const bool trailers =
          absl::StrContains(absl::AsciiStrToLower(std::string(req.Header("te"))), "trailers");
      RunAside([this, responder, tap, trailers] { StreamTap(*taps_, tap, trailers, responder); });
      return;
    }
    responder.Send(Handle(req));
  };
  server_ = std::make_unique<common::http::Server>(std::move(options));
  if (absl::Status s = server_->Start(); !s.ok()) return s;
  port_ = server_->port();
  return absl::OkStatus();
}

common::http::ServerResponse AdminServer::Handle(const common::http::ServerRequest& req) {
  using common::http::ServerResponse;
  if (req.path() == "/-/reload") {
    ServerResponse r = ServerResponse::Text(405, reload_ ? "only POST\n" : "reload is off\n");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    ServerResponse r = ServerResponse::Text(405, "only GET\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  const std::string_view path = req.path();
  if (path == "/metrics") {
    ServerResponse r = ServerResponse::Text(200, RenderSelfMetrics());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (path == "/healthz") return ServerResponse::Text(200, "ok\n");
  if (path == "/readyz") {
    const bool ready = ready_();
    return ServerResponse::Text(ready ? 200 : 503, ready ? "ready\n" : "not ready\n");
  }
  if (path == "/api/v1/status" && status_json_) {
    ServerResponse r = ServerResponse::Text(200, status_json_());
    r.content_type = "application/json";
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  if (path == "/api/v1/tap") return ServerResponse::Text(404, "the tap is off\n");
  if (path == "/") {
    if (QueryValue(req.target, "format") == "text" || !status_json_) {
      return ServerResponse::Text(200, status_());
    }
    ServerResponse r = ServerResponse::Text(200, std::string(kStatusPage));
    r.content_type = "text/html; charset=utf-8";
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }
  return ServerResponse::Text(404, "not found\n");
}

void AdminServer::RunAside(std::function<void()> work) {
  std::lock_guard<std::mutex> lock(threads_mu_);
  // Threads that are done are joined as new ones start.
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  threads_.push_back({std::thread([work = std::move(work), done] {
                        work();
                        done->store(true);
                      }),
                      done});
}

void AdminServer::Stop() {
  if (server_) server_->Stop();
  std::vector<Aside> threads;
  {
    std::lock_guard<std::mutex> lock(threads_mu_);
    threads.swap(threads_);
  }
  for (Aside& t : threads) t.thread.join();
}

}  // namespace tributary::core::runtime
