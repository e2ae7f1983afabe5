#ifndef TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_
#define TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/http/server.h"

namespace tributary::core::runtime {

class TapHub;
struct TapRequest;

// The value of `name` in the query of `target` (percent-decoded); empty
// when absent.
std::string QueryValue(std::string_view target, std::string_view name);
// GET /api/v1/tap?component=ID&signal=S&limit=N&duration=D.
absl::Status ParseTapQuery(std::string_view target, TapRequest* tap);
// Opens the tap and answers with its lines as they pass: 200 (NDJSON,
// chunked; with `trailers_accepted`, from `TE: trailers`, the lines written
// and whether the tap was cut follow in the trailers X-Tap-Lines and
// X-Tap-Cut), 404 for an unknown component or signal, 429 when too many
// taps are open.
void StreamTap(TapHub& taps, const TapRequest& request, bool trailers_accepted,
               const common::http::Responder& responder);

// Serves /metrics (self-metrics), /healthz, /readyz, the status page (HTML,
// or text with ?format=text) and API, the live tap and POST /-/reload on its
// own threads.
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
  // GET /api/v1/status answers with what `json` returns; GET / shows it as
  // a page.
  void SetStatusJson(std::function<std::string()> json) { status_json_ = std::move(json); }
  // GET /api/v1/tap opens taps there (404 when null).
  void SetTaps(TapHub* taps) { taps_ = taps; }
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
  std::function<std::string()> status_json_;
  TapHub* taps_ = nullptr;
  // Answers that wait (reloads, taps) run on threads of their own.
  void RunAside(std::function<void()> work);
  std::mutex threads_mu_;
  struct Aside {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Aside> threads_;
  std::unique_ptr<common::http::Server> server_;
  int port_ = 0;
};

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_ADMIN_SERVER_H_
