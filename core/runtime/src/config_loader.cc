// Loading a configuration: the service section, the components' sections
// through their factories, pipelines and the references between them.
#include <cstdio>
#include <fstream>
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

template <class F>
void CheckReferences(const YAML::Node& list, const char* kind,
                     const std::map<std::string, ComponentSpec>& defined,
                     const std::map<std::string, F>& factories, Signal signal,
                     const std::string& file, const std::string& path, ConfigErrors* errors,
                     std::vector<ComponentId>* out) {
  if (!list || !list.IsSequence()) return;
  for (const auto& item : list) {
    const std::string ref = item.Scalar();
    auto it = defined.find(ref);
    if (it == defined.end()) {
      std::string message = absl::StrCat("references ", kind, " '", ref, "', which is not defined");
      if (std::string hint = ClosestName(ref, Keys(defined)); !hint.empty()) {
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

}  // namespace

namespace {

absl::StatusOr<ServiceConfig> LoadParsed(const Registry& registry, const YAML::Node& root,
                                         const std::string& file) {
  ConfigErrors errors;
  if (!root.IsMap()) {
    errors.Add(file, root.Mark(), "", "expected a mapping with receivers, exporters and service");
    return errors.ToStatus();
  }
  static const std::vector<std::string> kTop = {"receivers", "processors", "exporters",
                                                "extensions", "service"};
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
    CheckReferences(kv.second["receivers"], "receiver", config.receivers, registry.receivers(),
                    *signal, file, path + ".receivers", &errors, &spec.receivers);
    CheckReferences(kv.second["processors"], "processor", config.processors, registry.processors(),
                    *signal, file, path + ".processors", &errors, &spec.processors);
    CheckReferences(kv.second["exporters"], "exporter", config.exporters, registry.exporters(),
                    *signal, file, path + ".exporters", &errors, &spec.exporters);
    config.pipelines.push_back(std::move(spec));
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
