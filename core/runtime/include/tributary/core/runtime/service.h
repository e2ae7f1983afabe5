#ifndef TRIBUTARY_CORE_RUNTIME_SERVICE_H_
#define TRIBUTARY_CORE_RUNTIME_SERVICE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/http/server.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/registry.h"
#include "tributary/core/runtime/buffer.h"

namespace tributary::core::runtime {

// `service.admin.tap`: GET /api/v1/tap.
struct TapConfig {
  bool enabled = true;
  int max_concurrent = 4;
  double records_per_second = 1000;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("enabled", enabled,
               "tap points on every component (they also count the records each one passes, "
               "for the status page); false leaves them out");
    v.Optional("max_concurrent", max_concurrent, "taps open at once; more are answered 429");
    v.Optional("records_per_second", records_per_second,
               "records a tap copies per second on average; a batch is copied whole (one line "
               "of OTLP/JSON) while the tap's allowance lasts");
  }
  bool operator==(const TapConfig&) const = default;
  absl::Status Validate() const {
    if (max_concurrent < 1) return absl::InvalidArgumentError("max_concurrent must be at least 1");
    if (!(records_per_second > 0)) {
      return absl::InvalidArgumentError("records_per_second must be > 0");
    }
    return absl::OkStatus();
  }
};

// `service.admin`: the self-metrics and health endpoint.
struct AdminConfig {
  std::string endpoint = "localhost:8888";
  common::http::ServerLimits limits;
  TapConfig tap;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "host:port of /metrics, /healthz, /readyz, the status page and API, the tap and "
               "POST /-/reload; loopback by default (`0.0.0.0:8888` serves every interface), an "
               "empty value turns it off");
    v.Optional("tap", tap, "live tap (GET /api/v1/tap)");
    limits.VisitFields(v);
  }
  absl::Status Validate() const {
    if (absl::Status s = tap.Validate(); !s.ok()) return s;
    return limits.Validate();
  }
};

// `service`, less `pipelines` (read separately to check references).
struct ServiceSettings {
  AdminConfig admin;
  BufferConfig buffer;
  std::string log_level = "info";
  std::chrono::milliseconds shutdown_timeout{10000};
  std::chrono::milliseconds memory_trim_interval{5000};
  ByteSize memory_budget{256ull << 20};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("admin", admin, "admin HTTP server");
    v.Optional("buffer", buffer,
               "write-ahead buffer between each pipeline's processors and its exporters");
    v.Optional("log_level", log_level, "debug, info, warn or error");
    v.Optional("memory_budget", memory_budget,
               "request data held at once across receivers (bodies read, decompressed and "
               "decoded, not yet answered); a request beyond it gets 429 / RESOURCE_EXHAUSTED "
               "with Retry-After before its body is read or decompressed; 0: no limit");
    v.Optional("shutdown_timeout", shutdown_timeout,
               "on SIGTERM/SIGINT, and for the old pipelines on a reload, how long in-flight "
               "data may take to drain");
    v.Optional("memory_trim_interval", memory_trim_interval,
               "how often the heap is checked, and its free memory handed back to the system "
               "when it exceeds three times what is in use (and 32 MiB); 0 leaves it to the "
               "allocator");
  }
  absl::Status Validate() const;
};

struct PipelineSpec {
  std::string id;  // traces, traces/2, ...
  Signal signal;
  std::vector<ComponentId> receivers;
  std::vector<ComponentId> processors;
  std::vector<ComponentId> exporters;
  std::string when_full;  // empty: service.buffer.when_full
};

struct ComponentSpec {
  ComponentId id;
  std::shared_ptr<const void> config;
  std::string source;  // its YAML as read (environment expanded): equal sources, equal configs
};

// A loaded and validated configuration file.
struct ServiceConfig {
  std::string file;
  ServiceSettings settings;
  std::map<std::string, ComponentSpec> receivers;
  std::map<std::string, ComponentSpec> processors;
  std::map<std::string, ComponentSpec> exporters;
  std::map<std::string, ComponentSpec> connectors;
  std::vector<PipelineSpec> pipelines;
  // Indexes into `pipelines`, each after every pipeline it hands data to
  // through a connector: the order in which they are built.
  std::vector<size_t> build_order;
  bool IsConnector(const ComponentId& id) const { return connectors.count(id.ToString()) > 0; }
};

absl::StatusOr<ServiceConfig> LoadConfigText(const Registry& registry, std::string_view text,
                                             const std::string& file_name);
absl::StatusOr<ServiceConfig> LoadConfigFile(const Registry& registry, const std::string& path);

class AdminServer;
class PipelineGraph;
class ReceiverSwitch;
class StatusBoard;
class TapHub;

// What a reload did: ok, or why nothing changed (kAborted: another reload is
// under way; kInvalidArgument: the file is invalid; kFailedPrecondition:
// there is no file to reload; anything else: the new pipelines could not
// start, and the previous ones were started again).
struct ReloadOutcome {
  absl::Status status;
  std::vector<std::string> notes;  // settings that need a restart, components swapped
};

// The running pipelines of one process.
class Service {
 public:
  Service(const Registry& registry, ServiceConfig config, std::string program);
  ~Service();

  absl::Status Start();
  // Reads the configuration again (through the loader set here; the file
  // given at start by default) and swaps in what changed, keeping what did
  // not (README, Reload). Safe from any thread; one at a time.
  ReloadOutcome Reload();
  void SetLoader(std::function<absl::StatusOr<ServiceConfig>()> loader) {
    loader_ = std::move(loader);
  }
  void Shutdown() noexcept;
  bool ready() const { return ready_; }
  std::string StatusText() const;
  // GET /api/v1/status: per pipeline and component, rates over the last
  // seconds, drops, queues, buffers, exporter state, build and reload.
  std::string StatusJson() const;
  int admin_port() const;

 private:
  // A receiver's instance with what it was built from. Its consumers are
  // switches, pointed at the heads of the pipelines in force.
  struct ReceiverSlot {
    std::string source;
    std::unique_ptr<Receiver> receiver;
    std::map<Signal, std::unique_ptr<ReceiverSwitch>> switches;  // one per signal it feeds
    std::set<Signal> signals() const {
      std::set<Signal> out;
      for (const auto& [signal, sw] : switches) out.insert(signal);
      return out;
    }
  };
  // Receivers of `graph` missing from receivers_ are created (not started:
  // listed in `created`); every receiver's switches are pointed at `graph`'s
  // heads.
  absl::Status ConnectReceivers(PipelineGraph& graph, std::vector<std::string>* created);
  absl::Status ReloadLocked(ServiceConfig next, std::vector<std::string>* notes);
  // Once a second: the status page's sample; and the heap's trim.
  void StartHousekeeping();

  const Registry& registry_;
  ServiceConfig config_;
  std::string program_;
  std::function<absl::StatusOr<ServiceConfig>()> loader_;
  // Outlive the pipelines, whose tap points register with them.
  std::unique_ptr<TapHub> taps_;  // null when service.admin.tap.enabled is false
  std::unique_ptr<StatusBoard> board_;
  std::unique_ptr<PipelineGraph> graph_;
  mutable std::mutex state_mu_;  // guards graph_ and config_ against the status page
  std::map<std::string, ReceiverSlot> receivers_;
  // Receivers hand data through it; a reload closes it while it swaps the
  // pipelines behind them.
  std::unique_ptr<class ReceiverGate> gate_;
  double started_at_ = 0;
  // The last reload, for the status page (guarded by state_mu_).
  std::string last_reload_result_ = "none";
  double last_reload_at_ = 0;
  std::string last_reload_error_;
  std::unique_ptr<AdminServer> admin_;
  std::atomic<bool> ready_{false};
  std::mutex reload_mu_;  // held by a reload and by Shutdown
  bool shut_down_ = false;
  std::mutex trim_mu_;
  std::condition_variable trim_cv_;
  bool trim_stop_ = false;
  std::thread housekeeping_;
};

// The whole program: flags, config, signals, drain. Returns the exit code.
struct ProgramInfo {
  std::string name;                                  // tributary-agent
  std::string default_config;                        // used when --config is absent
  void (*register_components)(Registry&) = nullptr;  // the components this program links
};
int RunProgram(int argc, char** argv, const ProgramInfo& info);

}  // namespace tributary::core::runtime

#endif  // TRIBUTARY_CORE_RUNTIME_SERVICE_H_
