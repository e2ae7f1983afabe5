#ifndef TRIBUTARY_CORE_ADMIN_SERVER_H_
#define TRIBUTARY_CORE_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace httplib {
class Server;
}

namespace tributary::core {

// Serves /metrics (self-metrics), /healthz, /readyz and a plain-text status
// page on its own thread.
class AdminServer {
 public:
  AdminServer(std::string endpoint, std::function<bool()> ready,
              std::function<std::string()> status);
  ~AdminServer();
  absl::Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  std::string endpoint_;
  std::function<bool()> ready_;
  std::function<std::string()> status_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// Splits `host:port` ("[::1]:4317", ":4318") into its parts.
absl::Status SplitHostPort(const std::string& endpoint, std::string* host, int* port);

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_ADMIN_SERVER_H_
