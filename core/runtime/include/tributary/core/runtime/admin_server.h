#ifndef TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_
#define TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/http/server.h"

namespace tributary::core::runtime {

// Serves /metrics (self-metrics), /healthz, /readyz and a plain-text status
// page on its own thread.
class AdminServer {
 public:
  AdminServer(std::string endpoint, common::http::ServerLimits limits, std::function<bool()> ready,
              std::function<std::string()> status);
  ~AdminServer();
  absl::Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  common::http::ServerResponse Handle(const common::http::ServerRequest& req);

  std::string endpoint_;
  common::http::ServerLimits limits_;
  std::function<bool()> ready_;
  std::function<std::string()> status_;
  std::unique_ptr<common::http::Server> server_;
  int port_ = 0;
};

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_
