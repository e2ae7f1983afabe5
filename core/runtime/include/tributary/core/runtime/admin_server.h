#ifndef TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_
#define TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/http/server.h"

namespace tributary::core::runtime {

// Serves /metrics (self-metrics), /healthz, /readyz, a plain-text status
// page and POST /-/reload on its own threads.
class AdminServer {
 public:
  AdminServer(std::string endpoint, common::http::ServerLimits limits, std::function<bool()> ready,
              std::function<std::string()> status);
  ~AdminServer();
  // POST /-/reload calls `reload` on a thread of its own and answers with
  // what it returns.
  void SetReload(std::function<common::http::ServerResponse()> reload) {
    reload_ = std::move(reload);
  }
  absl::Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  common::http::ServerResponse Handle(const common::http::ServerRequest& req);

  std::string endpoint_;
  common::http::ServerLimits limits_;
  std::function<bool()> ready_;
  std::function<std::string()> status_;
  std::function<common::http::ServerResponse()> reload_;
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;  // reloads under way or done, joined at Stop
  std::unique_ptr<common::http::Server> server_;
  int port_ = 0;
};

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_
