#ifndef TRIBUTARY_CORE_RUNTIME_SERVICE_H_
#define TRIBUTARY_CORE_RUNTIME_SERVICE_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
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

// `service.admin`: the self-metrics and health endpoint.
struct AdminConfig {
  std::string endpoint = "localhost:8888";
  common::http::ServerLimits limits;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "host:port of /metrics, /healthz, /readyz and the status page; "
               "loopback by default (`0.0.0.0:8888` serves every interface), an empty value "
               "turns it off");
    limits.VisitFields(v);
  }
  absl::Status Validate() const { return limits.Validate(); }
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
               "on SIGTERM/SIGINT, how long in-flight data may take to drain");
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

class ExporterRunner;
class AdminServer;
class WriteAheadBuffer;

// The running pipelines of one process.
class Service {
 public:
  Service(const Registry& registry, ServiceConfig config, std::string program);
  ~Service();

  absl::Status Start();
  void Shutdown() noexcept;
  bool ready() const { return ready_; }
  std::string StatusText() const;
  int admin_port() const;

 private:
  // The consumers each receiver hands its data to, by receiver and signal.
  using ReceiverHeads = std::map<std::string, std::map<Signal, std::vector<Consumer*>>>;
  // Exporters, one instance each, shared by the pipelines naming them.
  absl::Status CreateExporters();
  // A connector's instance for one input signal, in the exporter place of
  // the pipelines of that signal that list it.
  struct ConnectorInstance {
    std::string id;
    std::unique_ptr<Connector> connector;
    std::unique_ptr<Consumer> entry;  // what upstream pipelines hand data to
    int feeders = 0;                  // pipelines exporting into it, not yet shut down
    bool started = false;
  };
  // One built pipeline.
  struct Stage {
    std::vector<std::unique_ptr<Processor>> processors;  // front to back
    std::unique_ptr<WriteAheadBuffer> buffer;            // when configured
    std::vector<ConnectorInstance*> feeds;               // connectors among its exporters
  };
  // One pipeline from its exporters (through the buffer when configured) back
  // to its head, which the pipeline's receivers (receivers or connectors)
  // will hand their data to.
  absl::Status BuildPipeline(const PipelineSpec& p, ReceiverHeads* heads);
  // The instance of connector `id` for `input`, created on first use with
  // the heads of the pipelines that receive from it, which must be built.
  absl::StatusOr<ConnectorInstance*> ConnectorFor(const ComponentId& id, Signal input,
                                                  const ReceiverHeads& heads);
  absl::Status CreateReceivers(const ReceiverHeads& receiver_heads);
  // Exporters first, receivers last, so data has somewhere to go.
  absl::Status StartComponents();
  void StartTrimmer();

  const Registry& registry_;
  ServiceConfig config_;
  std::string program_;
  std::map<std::string, std::unique_ptr<ExporterRunner>> exporters_;
  std::vector<Stage> stages_;  // in build order: downstream first
  std::map<std::pair<std::string, Signal>, ConnectorInstance> connectors_;
  std::vector<std::unique_ptr<Consumer>> fanouts_;  // and pipeline heads
  std::map<std::string, std::unique_ptr<Receiver>> receivers_;
  std::unique_ptr<AdminServer> admin_;
  std::atomic<bool> ready_{false};
  bool shut_down_ = false;
  std::mutex trim_mu_;
  std::condition_variable trim_cv_;
  bool trim_stop_ = false;
  std::thread trimmer_;
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
