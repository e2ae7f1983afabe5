#ifndef TRIBUTARY_CORE_REGISTRY_H_
#define TRIBUTARY_CORE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace tributary::core {

// The consumers a receiver hands its data to, one per signal; null where no
// pipeline of that signal uses the receiver.
struct ReceiverConsumers {
  Consumer* traces = nullptr;
  Consumer* metrics = nullptr;
  Consumer* logs = nullptr;
  Consumer* For(Signal s) const {
    return s == Signal::kTraces ? traces : s == Signal::kMetrics ? metrics : logs;
  }
};

struct CreateContext {
  ComponentId id;
  std::string program;  // tributary-agent or tributary-collector
};

// A component's factory: its type name, the signals it handles, how to read
// and document its config, and how to build an instance. Config reading is
// type-erased behind std::shared_ptr<const void> so that the registry stays
// independent of every component's config struct.
template <class Instance, class... CreateArgs>
struct Factory {
  std::string type;
  std::set<Signal> signals;
  std::string description;
  std::function<std::shared_ptr<const void>(const YAML::Node&, const std::string& file,
                                            const std::string& path, ConfigErrors*)>
      parse;
  std::function<std::vector<FieldDoc>()> describe;
  std::function<absl::StatusOr<std::unique_ptr<Instance>>(const CreateContext&, const void* config,
                                                          CreateArgs...)>
      create;
  // Exporters only: the `sending_queue`, `retry_on_failure` and `dead_letter` blocks.
  std::function<QueueConfig(const void*)> queue;
  std::function<RetryConfig(const void*)> retry;
  std::function<std::optional<DeadLetterConfig>(const void*)> dead_letter;
  // Connectors only: for each input signal (one of `signals`), the signals
  // the connector emits from it.
  std::map<Signal, std::set<Signal>> outputs;
  // Set on an alias's entry: the type it is another name of.
  std::string alias_of;
};

using ReceiverFactory = Factory<Receiver, const ReceiverConsumers&>;
using ProcessorFactory = Factory<Processor, Signal, Consumer* /*next*/>;
using ExporterFactory = Factory<Exporter>;
// A connector instance per input signal, with the consumers of the pipelines
// that receive from it, one per output signal.
using ConnectorFactory = Factory<Connector, Signal /*input*/, const ReceiverConsumers& /*outputs*/>;

// Builds a Factory from a typed config struct and a typed create function.
template <class Instance, class Config, class... CreateArgs, class Fn>
Factory<Instance, CreateArgs...> MakeFactory(std::string type, std::set<Signal> signals,
                                             std::string description, Fn create) {
  Factory<Instance, CreateArgs...> f;
  f.type = std::move(type);
  f.signals = std::move(signals);
  f.description = std::move(description);
  f.parse = [](const YAML::Node& node, const std::string& file, const std::string& path,
               ConfigErrors* errors) -> std::shared_ptr<const void> {
    auto config = std::make_shared<Config>();
    FieldReader::ReadStruct(node, file, path, errors, *config);
    return config;
  };
  f.describe = [] { return DescribeConfig<Config>(); };
  f.create = [create](const CreateContext& ctx, const void* config,
                      CreateArgs... args) -> absl::StatusOr<std::unique_ptr<Instance>> {
    return create(ctx, *static_cast<const Config*>(config), args...);
  };
  f.queue = [](const void* config) {
    if constexpr (requires(const Config& c) { c.sending_queue; }) {
      return static_cast<const Config*>(config)->sending_queue;
    } else {
      return QueueConfig{};
    }
  };
  f.retry = [](const void* config) {
    if constexpr (requires(const Config& c) { c.retry_on_failure; }) {
      return static_cast<const Config*>(config)->retry_on_failure;
    } else {
      return RetryConfig{};
    }
  };
  f.dead_letter = [](const void* config) -> std::optional<DeadLetterConfig> {
    if constexpr (requires(const Config& c) { c.dead_letter; }) {
      return static_cast<const Config*>(config)->dead_letter;
    } else {
      return std::nullopt;
    }
  };
  return f;
}

class Registry {
 public:
  void Add(ReceiverFactory f) { receivers_.emplace(f.type, std::move(f)); }
  void Add(ProcessorFactory f) { processors_.emplace(f.type, std::move(f)); }
  void Add(ExporterFactory f) { exporters_.emplace(f.type, std::move(f)); }
  void Add(ConnectorFactory f) { connectors_.emplace(f.type, std::move(f)); }
  // Another name of an exporter type added before (the OpenTelemetry
  // Collector's spelling, such as `otlp_http` for `otlphttp`): configs may
  // use either; the reference documents the type once, naming its aliases.
  void AddExporterAlias(const std::string& alias, const std::string& type) {
    ExporterFactory f = exporters_.at(type);
    f.alias_of = type;
    exporters_.emplace(alias, std::move(f));
  }

  const std::map<std::string, ReceiverFactory>& receivers() const { return receivers_; }
  const std::map<std::string, ProcessorFactory>& processors() const { return processors_; }
  const std::map<std::string, ExporterFactory>& exporters() const { return exporters_; }
  const std::map<std::string, ConnectorFactory>& connectors() const { return connectors_; }

 private:
  std::map<std::string, ReceiverFactory> receivers_;
  std::map<std::string, ProcessorFactory> processors_;
  std::map<std::string, ExporterFactory> exporters_;
  std::map<std::string, ConnectorFactory> connectors_;
};

}  // namespace tributary::core

namespace tributary {
// Generated by CMake from the component folders each program links.
void RegisterAllComponents(core::Registry& registry);
}  // namespace tributary

#endif  // TRIBUTARY_CORE_REGISTRY_H_
