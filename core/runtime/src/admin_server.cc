#include "tributary/core/runtime/admin_server.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http/endpoint.h"
#include "httplib.h"
#include "tributary/core/log.h"
#include "tributary/core/telemetry.h"

namespace tributary::core::runtime {

AdminServer::AdminServer(std::string endpoint, std::function<bool()> ready,
                         std::function<std::string()> status)
    : endpoint_(std::move(endpoint)), ready_(std::move(ready)), status_(std::move(status)) {}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start() {
  std::string host;
  int port;
  if (absl::Status s = common::http::SplitHostPort(endpoint_, &host, &port); !s.ok()) return s;
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderSelfMetrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ready = ready_();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : "not ready\n", "text/plain");
  });
  server_->Get("/", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(status_(), "text/plain; charset=utf-8");
  });
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ < 0) return absl::UnavailableError(absl::StrCat("admin: cannot bind ", endpoint_));
  } else {
    if (!server_->bind_to_port(host, port)) {
      return absl::UnavailableError(absl::StrCat("admin: cannot bind ", endpoint_));
    }
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  Log(LogLevel::kInfo, "admin", "listening", absl::StrCat("endpoint=", host, ":", port_));
  return absl::OkStatus();
}

void AdminServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tributary::core::runtime
