#include "tributary/core/runtime/admin_server.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http/endpoint.h"
#include "common/http/server.h"
#include "tributary/core/log.h"
#include "tributary/core/telemetry.h"

namespace tributary::core::runtime {

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
      std::lock_guard<std::mutex> lock(threads_mu_);
      threads_.emplace_back([this, responder] { responder.Send(reload_()); });
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
  if (path == "/") return ServerResponse::Text(200, status_());
  return ServerResponse::Text(404, "not found\n");
}

void AdminServer::Stop() {
  if (server_) server_->Stop();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(threads_mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace tributary::core::runtime
