// Loading a configuration: the service section, the components' sections
// through their factories, pipelines and the references between them.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tributary/core/log.h"
#include "tributary/core/runtime/service.h"

namespace tributary::core::runtime {

absl::Status ServiceSettings::Validate() const {
  LogLevel level;
  if (!ParseLogLevel(log_level, &level)) {
    return absl::InvalidArgumentError("log_level must be debug, info, warn or error");
  }
  if (memory_trim_interval.count() < 0) {
    return absl::InvalidArgumentError("memory_trim_interval must be >= 0");
  }
  return absl::OkStatus();
}

namespace {

template <class F>
std::vector<std::string> Keys(const std::map<std::string, F>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

template <class F>
void LoadSection(const YAML::Node& root, const char* section,
                 const std::map<std::string, F>& factories, const std::string& file,
                 ConfigErrors* errors, std::map<std::string, ComponentSpec>* out) {
  YAML::Node node = root[section];
  if (!node || node.IsNull()) return;
  if (!node.IsMap()) {
    errors->Add(file, node.Mark(), section, "expected a mapping of component ids");
    return;
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const std::string path = absl::StrCat(section, ".", key);
    auto id = ComponentId::Parse(key);
    if (!id.ok()) {
      errors->Add(file, kv.first.Mark(), path, std::string(id.status().message()));
      continue;
    }
    auto factory = factories.find(id->type);
    if (factory == factories.end()) {
      std::string message = absl::StrCat("unknown type '", id->type, "'");
      std::vector<std::string> known = Keys(factories);
      if (std::string hint = ClosestName(id->type, known); !hint.empty()) {
        absl::StrAppend(&message, " (did you mean '", hint, "'?)");
      } else {
        absl::StrAppend(&message, " (known: ", absl::StrJoin(known, ", "), ")");
      }
      errors->Add(file, kv.first.Mark(), path, message);
      continue;
    }
    ComponentSpec spec;
    spec.id = *id;
    spec.config = factory->second.parse(kv.second, file, path, errors);
    spec.source = YAML::Dump(kv.second);
    out->emplace(key, std::move(spec));
  }
}

struct PipelineFields {
  std::vector<std::string> receivers;
  std::vector<std::string> processors;
  std::vector<std::string> exporters;
  std::string when_full;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("receivers", receivers, "receiver ids feeding this pipeline");
    v.Optional("processors", processors, "processor ids, in order");
    v.Required("exporters", exporters, "exporter ids this pipeline delivers to");
    v.Optional("when_full", when_full, "overrides service.buffer.when_full for this pipeline");
  }
  absl::Status Validate() const {
    if (!when_full.empty()) return ParseWhenFull(when_full).status();
    return absl::OkStatus();
  }
};

// Where a pipeline names a connector: under `receivers` or `exporters`.
struct ConnectorUse {
  std::string connector;
  size_t pipeline;
  Signal signal;  // the pipeline's
  YAML::Mark mark;
  std::string path;
};

std::string SignalList(const std::set<Signal>& signals) {
  std::vector<std::string> names;
  for (Signal s : signals) names.emplace_back(SignalName(s));
  return absl::StrJoin(names, " or ");
}

// Resolves the ids of one list of a pipeline: components of `kind` (a
// section of the file) or connectors, which may stand under `receivers` and
// `exporters`.
template <class F>
void CheckReferences(const YAML::Node& list, const char* kind,
                     const std::map<std::string, ComponentSpec>& defined,
                     const std::map<std::string, F>& factories, const ServiceConfig& config,
                     const Registry& registry, size_t pipeline, Signal signal,
                     const std::string& file, const std::string& path, ConfigErrors* errors,
                     std::vector<ComponentId>* out, std::vector<ConnectorUse>* connector_uses) {
  if (!list || !list.IsSequence()) return;
  const bool may_be_connector = std::string_view(kind) != "processor";
  for (const auto& item : list) {
    const std::string ref = item.Scalar();
    auto it = defined.find(ref);
    auto connector = may_be_connector ? config.connectors.find(ref) : config.connectors.end();
    if (it != defined.end() && connector != config.connectors.end()) {
      errors->Add(file, item.Mark(), path,
                  absl::StrCat("'", ref, "' is defined both as a ", kind,
                               " and as a connector; rename one"));
      continue;
    }
    if (connector != config.connectors.end()) {
      const ConnectorFactory& factory = registry.connectors().at(connector->second.id.type);
      const bool as_exporter = std::string_view(kind) == "exporter";
      std::set<Signal> fits;
      for (const auto& [input, outputs] : factory.outputs) {
        if (as_exporter ? input == signal : outputs.count(signal) > 0) fits.insert(input);
      }
      if (fits.empty()) {
        errors->Add(file, item.Mark(), path,
                    absl::StrCat("connector '", ref, "' ",
                                 as_exporter ? "does not take " : "does not emit ",
                                 std::string(SignalName(signal))));
        continue;
      }
      connector_uses->push_back({ref, pipeline, signal, item.Mark(), path});
      out->push_back(connector->second.id);
      continue;
    }
    if (it == defined.end()) {
      std::string message = absl::StrCat("references ", kind, " '", ref, "', which is not defined");
      std::vector<std::string> names = Keys(defined);
      if (may_be_connector) {
        for (const auto& [key, spec] : config.connectors) names.push_back(key);
      }
      if (std::string hint = ClosestName(ref, names); !hint.empty()) {
        absl::StrAppend(&message, " (did you mean '", hint, "'?)");
      }
      errors->Add(file, item.Mark(), path, message);
      continue;
    }
    const auto& factory = factories.at(it->second.id.type);
    if (!factory.signals.count(signal)) {
      errors->Add(
          file, item.Mark(), path,
          absl::StrCat(kind, " '", ref, "' does not support ", std::string(SignalName(signal))));
      continue;
    }
    out->push_back(it->second.id);
  }
}

// The connectors' part of the pipeline graph: every connector used both
// ways with signals that match, no cycle through them, and the order in
// which pipelines are built (every pipeline before those that export into
// it through a connector).
void CheckConnectorGraph(const Registry& registry, const YAML::Node& section,
                         const std::vector<ConnectorUse>& as_receiver,
                         const std::vector<ConnectorUse>& as_exporter, const std::string& file,
                         ConfigErrors* errors, ServiceConfig* config) {
  auto outputs_of = [&](const std::string& key, Signal input) -> const std::set<Signal>& {
    static const std::set<Signal> kNone;
    const auto& outputs = registry.connectors().at(config->connectors.at(key).id.type).outputs;
    auto it = outputs.find(input);
    return it == outputs.end() ? kNone : it->second;
  };
  for (const auto& entry : config->connectors) {
    const std::string& key = entry.first;
    auto used = [&](const ConnectorUse& u) { return u.connector == key; };
    if (std::none_of(as_receiver.begin(), as_receiver.end(), used) &&
        std::none_of(as_exporter.begin(), as_exporter.end(), used)) {
      YAML::Mark mark = section.Mark();
      for (const auto& kv : section) {
        if (kv.first.Scalar() == key) mark = kv.first.Mark();
      }
      errors->Add(file, mark, "connectors." + key,
                  "connector is not used by any pipeline: list it under the exporters of one "
                  "pipeline and the receivers of another");
    }
  }
  for (const ConnectorUse& out : as_exporter) {
    const std::set<Signal>& outputs = outputs_of(out.connector, out.signal);
    const bool received = std::any_of(as_receiver.begin(), as_receiver.end(), [&](const auto& in) {
      return in.connector == out.connector && outputs.count(in.signal);
    });
    if (!received) {
      errors->Add(file, out.mark, out.path,
                  absl::StrCat("connector '", out.connector, "' takes ",
                               std::string(SignalName(out.signal)), " here, but no ",
                               SignalList(outputs), " pipeline lists it under receivers"));
    }
  }
  for (const ConnectorUse& in : as_receiver) {
    std::set<Signal> inputs;
    for (const auto& [input, outputs] :
         registry.connectors().at(config->connectors.at(in.connector).id.type).outputs) {
      if (outputs.count(in.signal)) inputs.insert(input);
    }
    const bool fed = std::any_of(as_exporter.begin(), as_exporter.end(), [&](const auto& out) {
      return out.connector == in.connector && inputs.count(out.signal);
    });
    if (!fed) {
      errors->Add(
          file, in.mark, in.path,
          absl::StrCat("connector '", in.connector, "' emits ", std::string(SignalName(in.signal)),
                       " here, but no ", SignalList(inputs), " pipeline lists it under exporters"));
    }
  }
  if (!errors->empty()) return;
  // Pipeline a leads to pipeline b when a exports into a connector that b
  // receives from with a signal it emits from a's.
  const size_t n = config->pipelines.size();
  std::vector<std::vector<std::pair<size_t, const ConnectorUse*>>> next(n);
  for (const ConnectorUse& out : as_exporter) {
    for (const ConnectorUse& in : as_receiver) {
      if (in.connector == out.connector && outputs_of(out.connector, out.signal).count(in.signal))
        next[out.pipeline].push_back({in.pipeline, &out});
    }
  }
  enum class Mark { kNew, kOpen, kDone };
  std::vector<Mark> state(n, Mark::kNew);
  std::vector<size_t> path;
  std::vector<size_t> order;
  bool cycle = false;
  std::function<void(size_t)> visit = [&](size_t p) {
    state[p] = Mark::kOpen;
    path.push_back(p);
    for (const auto& [q, use] : next[p]) {
      if (cycle) return;
      if (state[q] == Mark::kOpen) {
        std::string loop;
        auto from = std::find(path.begin(), path.end(), q);
        for (auto it = from; it != path.end(); ++it) {
          absl::StrAppend(&loop, config->pipelines[*it].id, " -> ");
        }
        absl::StrAppend(&loop, config->pipelines[q].id);
        errors->Add(
            file, use->mark, use->path,
            absl::StrCat("connector '", use->connector, "' closes a cycle of pipelines: ", loop));
        cycle = true;
        return;
      }
      if (state[q] == Mark::kNew) visit(q);
    }
    path.pop_back();
    state[p] = Mark::kDone;
    order.push_back(p);
  };
  for (size_t p = 0; p < n && !cycle; ++p) {
    if (state[p] == Mark::kNew) visit(p);
  }
  if (!cycle) config->build_order = std::move(order);
}

}  // namespace

namespace {

absl::StatusOr<ServiceConfig> LoadParsed(const Registry& registry, const YAML::Node& root,
                                         const std::string& file) {
  ConfigErrors errors;
  if (!root.IsMap()) {
    errors.Add(file, root.Mark(), "", "expected a mapping with receivers, exporters and service");
    return errors.ToStatus();
  }
  static const std::vector<std::string> kTop = {"receivers",  "processors", "exporters",
                                                "connectors", "extensions", "service"};
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (std::find(kTop.begin(), kTop.end(), key) == kTop.end()) {
      std::string hint = ClosestName(key, kTop);
      errors.Add(
          file, kv.first.Mark(), key,
          hint.empty() ? "unknown key" : absl::StrCat("unknown key (did you mean '", hint, "'?)"));
    }
  }
  if (YAML::Node ext = root["extensions"]; ext && !ext.IsNull() && ext.size() > 0) {
    errors.Add(file, ext.Mark(), "extensions", "extensions are not supported");
  }
  ServiceConfig config;
  config.file = file;
  LoadSection(root, "receivers", registry.receivers(), file, &errors, &config.receivers);
  LoadSection(root, "processors", registry.processors(), file, &errors, &config.processors);
  LoadSection(root, "exporters", registry.exporters(), file, &errors, &config.exporters);
  LoadSection(root, "connectors", registry.connectors(), file, &errors, &config.connectors);

  YAML::Node service = root["service"];
  if (!service || !service.IsMap()) {
    errors.Add(file, service ? service.Mark() : root.Mark(), "service",
               "required mapping with pipelines is missing");
    return errors.ToStatus();
  }
  {
    FieldReader reader(service, file, "service", &errors);
    reader.Skip("pipelines");
    reader.Skip("telemetry");
    config.settings.VisitFields(reader);
    reader.Finish();
    if (absl::Status s = config.settings.Validate(); !s.ok()) {
      errors.Add(file, service.Mark(), "service", std::string(s.message()));
    }
  }
  YAML::Node pipelines = service["pipelines"];
  if (!pipelines || !pipelines.IsMap() || pipelines.size() == 0) {
    errors.Add(file, pipelines ? pipelines.Mark() : service.Mark(), "service.pipelines",
               "at least one pipeline is required");
    return errors.ToStatus();
  }
  std::vector<ConnectorUse> from_connectors;
  std::vector<ConnectorUse> into_connectors;
  for (const auto& kv : pipelines) {
    const std::string key = kv.first.Scalar();
    const std::string path = "service.pipelines." + key;
    auto id = ComponentId::Parse(key);
    std::optional<Signal> signal = id.ok() ? ParseSignal(id->type) : std::nullopt;
    if (!signal) {
      errors.Add(file, kv.first.Mark(), path,
                 "pipeline id must be traces, metrics or logs, optionally followed by /name");
      continue;
    }
    PipelineFields fields;
    FieldReader::ReadStruct(kv.second, file, path, &errors, fields);
    if (!kv.second.IsMap()) continue;  // reported by ReadStruct
    PipelineSpec spec{key, *signal, {}, {}, {}, fields.when_full};
    const size_t index = config.pipelines.size();
    CheckReferences(kv.second["receivers"], "receiver", config.receivers, registry.receivers(),
                    config, registry, index, *signal, file, path + ".receivers", &errors,
                    &spec.receivers, &from_connectors);
    CheckReferences(kv.second["processors"], "processor", config.processors, registry.processors(),
                    config, registry, index, *signal, file, path + ".processors", &errors,
                    &spec.processors, &into_connectors);
    CheckReferences(kv.second["exporters"], "exporter", config.exporters, registry.exporters(),
                    config, registry, index, *signal, file, path + ".exporters", &errors,
                    &spec.exporters, &into_connectors);
    config.pipelines.push_back(std::move(spec));
  }
  if (errors.empty()) {
    CheckConnectorGraph(registry, root["connectors"], from_connectors, into_connectors, file,
                        &errors, &config);
  }
  if (!errors.empty()) return errors.ToStatus();
  return config;
}

}  // namespace

absl::StatusOr<ServiceConfig> LoadConfigText(const Registry& registry, std::string_view text,
                                             const std::string& file) {
  auto expanded = ExpandEnv(text);
  if (!expanded.ok())
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", expanded.status().message()));
  // yaml-cpp reports misuse of a node of the wrong shape by throwing; any
  // such case LoadParsed does not check first is still a configuration error.
  try {
    return LoadParsed(registry, YAML::Load(*expanded), file);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", e.mark.line + 1, ":", e.mark.column + 1, ": YAML: ", e.msg));
  }
}

absl::StatusOr<ServiceConfig> LoadConfigFile(const Registry& registry, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the file"));
  std::stringstream text;
  text << in.rdbuf();
  return LoadConfigText(registry, text.str(), path);
}

}  // namespace tributary::core::runtime
