#include "tributary/core/runtime/service.h"

#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tributary/core/log.h"
#include "tributary/core/runtime/admin_server.h"
#include "tributary/core/runtime/exporter_runner.h"
#include "tributary/core/telemetry.h"

#ifndef TRIBUTARY_VERSION
#define TRIBUTARY_VERSION "0.0.0"
#endif

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

namespace {

// Hands each envelope to several consumers; refused if any refuses.
class FanoutConsumer : public Consumer {
 public:
  explicit FanoutConsumer(std::vector<Consumer*> next) : next_(std::move(next)) {}
  absl::Status Consume(Envelope envelope) noexcept override {
    absl::Status result;
    for (Consumer* c : next_) {
      absl::Status s = c->Consume(envelope);
      if (!s.ok() && result.ok()) result = s;
    }
    return result;
  }

 private:
  std::vector<Consumer*> next_;
};

// Counts what a pipeline accepts, for the accounting of self-metrics.
class PipelineHead : public Consumer {
 public:
  PipelineHead(const std::string& pipeline, Signal signal, Consumer* next)
      : received_(Telemetry::Get().PipelineReceived(pipeline, signal)), next_(next) {}
  absl::Status Consume(Envelope envelope) noexcept override {
    const double records = envelope.batch ? static_cast<double>(envelope.batch->record_count()) : 0;
    absl::Status s = next_->Consume(std::move(envelope));
    if (s.ok()) received_.Increment(records);
    return s;
  }

 private:
  prometheus::Counter& received_;
  Consumer* next_;
};

}  // namespace

Service::Service(const Registry& registry, ServiceConfig config, std::string program)
    : registry_(registry), config_(std::move(config)), program_(std::move(program)) {}

Service::~Service() { Shutdown(); }

int Service::admin_port() const { return admin_ ? admin_->port() : 0; }

absl::Status Service::Start() {
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config_.settings.log_level, &level);
  SetLogLevel(level);
  Telemetry::Get().SetBuildInfo(program_, TRIBUTARY_VERSION);
  if (!config_.settings.admin.endpoint.empty()) {
    admin_ = std::make_unique<AdminServer>(
        config_.settings.admin.endpoint, [this] { return ready_.load(); },
        [this] { return StatusText(); });
    if (absl::Status s = admin_->Start(); !s.ok()) return s;
  }
  if (absl::Status s = CreateExporters(); !s.ok()) return s;
  ReceiverHeads receiver_heads;
  for (const PipelineSpec& p : config_.pipelines) {
    if (absl::Status s = BuildPipeline(p, &receiver_heads); !s.ok()) return s;
  }
  if (absl::Status s = CreateReceivers(receiver_heads); !s.ok()) return s;
  if (absl::Status s = StartComponents(); !s.ok()) return s;
  if (config_.settings.memory_trim_interval.count() > 0) StartTrimmer();
  ready_ = true;
  Log(LogLevel::kInfo, program_, "started",
      absl::StrCat("pipelines=", config_.pipelines.size(), " version=", TRIBUTARY_VERSION));
  return absl::OkStatus();
}

absl::Status Service::CreateExporters() {
  // Exporters, one instance each, shared by the pipelines naming them.
  for (const PipelineSpec& p : config_.pipelines) {
    for (const ComponentId& id : p.exporters) {
      const std::string key = id.ToString();
      if (exporters_.count(key)) continue;
      const ComponentSpec& spec = config_.exporters.at(key);
      const ExporterFactory& f = registry_.exporters().at(id.type);
      auto exporter = f.create(CreateContext{id, program_}, spec.config.get());
      if (!exporter.ok()) {
        return absl::Status(exporter.status().code(),
                            absl::StrCat("exporter ", key, ": ", exporter.status().message()));
      }
      exporters_[key] = std::make_unique<ExporterRunner>(
          key, std::move(*exporter), f.queue(spec.config.get()), f.retry(spec.config.get()),
          f.dead_letter(spec.config.get()));
    }
  }
  return absl::OkStatus();
}

absl::Status Service::BuildPipeline(const PipelineSpec& p, ReceiverHeads* receiver_heads) {
  // Built back to front; processors get one instance per pipeline.
  Consumer* next = nullptr;
  if (!config_.settings.buffer.directory.empty()) {
    // The buffer sits between the processors and the exporters, one cursor each.
    BufferOptions options = BufferOptions::From(config_.settings.buffer, p.id, p.signal);
    if (!p.when_full.empty()) options.when_full = ParseWhenFull(p.when_full).value();
    auto buffer = std::make_unique<WriteAheadBuffer>(options);
    for (const ComponentId& id : p.exporters) {
      buffer->AddCursor(id.ToString(), exporters_.at(id.ToString()).get());
    }
    next = buffer.get();
    buffers_.push_back(std::move(buffer));
  } else {
    std::vector<Consumer*> outs;
    for (const ComponentId& id : p.exporters) outs.push_back(exporters_.at(id.ToString()).get());
    next = outs.front();
    if (outs.size() > 1) {
      fanouts_.push_back(std::make_unique<FanoutConsumer>(outs));
      next = fanouts_.back().get();
    }
  }
  for (auto it = p.processors.rbegin(); it != p.processors.rend(); ++it) {
    const std::string key = it->ToString();
    const ComponentSpec& spec = config_.processors.at(key);
    ComponentId instance_id = *it;
    auto processor = registry_.processors().at(it->type).create(
        CreateContext{instance_id, program_}, spec.config.get(), p.signal, next);
    if (!processor.ok()) {
      return absl::Status(processor.status().code(),
                          absl::StrCat("processor ", key, " in pipeline ", p.id, ": ",
                                       processor.status().message()));
    }
    next = processor->get();
    processors_.push_back(std::move(*processor));
  }
  fanouts_.push_back(std::make_unique<PipelineHead>(p.id, p.signal, next));
  next = fanouts_.back().get();
  for (const ComponentId& id : p.receivers)
    (*receiver_heads)[id.ToString()][p.signal].push_back(next);
  return absl::OkStatus();
}

absl::Status Service::CreateReceivers(const ReceiverHeads& receiver_heads) {
  for (const auto& [key, heads] : receiver_heads) {
    ReceiverConsumers consumers;
    for (const auto& [signal, list] : heads) {
      Consumer* c = list.front();
      if (list.size() > 1) {
        fanouts_.push_back(std::make_unique<FanoutConsumer>(list));
        c = fanouts_.back().get();
      }
      if (signal == Signal::kTraces) consumers.traces = c;
      if (signal == Signal::kMetrics) consumers.metrics = c;
      if (signal == Signal::kLogs) consumers.logs = c;
    }
    const ComponentSpec& spec = config_.receivers.at(key);
    auto receiver = registry_.receivers()
                        .at(spec.id.type)
                        .create(CreateContext{spec.id, program_}, spec.config.get(), consumers);
    if (!receiver.ok()) {
      return absl::Status(receiver.status().code(),
                          absl::StrCat("receiver ", key, ": ", receiver.status().message()));
    }
    receivers_[key] = std::move(*receiver);
  }
  return absl::OkStatus();
}

absl::Status Service::StartComponents() {
  for (auto& [key, runner] : exporters_) {
    if (absl::Status s = runner->Start(); !s.ok()) return s;
  }
  for (auto& b : buffers_) {
    if (absl::Status s = b->Start(); !s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("buffer of pipeline ", b->options().name, ": ", s.message()));
    }
  }
  for (auto& p : processors_) {
    if (absl::Status s = p->Start(); !s.ok()) return s;
  }
  for (auto& [key, r] : receivers_) {
    if (absl::Status s = r->Start(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("receiver ", key, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

void Service::StartTrimmer() {
  // glibc keeps freed memory in its arenas; after a burst (a backlog sent,
  // a spike of large batches) that shows as resident memory far above what
  // is in use. It goes back once the free part outgrows three times what is
  // in use: the ordinary churn of batches (a batch of 8192 spans read back
  // from the buffer, exported and freed swings the heap by tens of MiB) is
  // reused where it lies, so resident memory is flat in steady state instead
  // of being handed back and faulted in again every interval.
  trimmer_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(trim_mu_);
    while (!trim_cv_.wait_for(lock, config_.settings.memory_trim_interval,
                              [&] { return trim_stop_; })) {
      lock.unlock();
      const struct mallinfo2 info = mallinfo2();
      if (info.fordblks > std::max<size_t>(32u << 20, 3 * info.uordblks)) malloc_trim(0);
      lock.lock();
    }
  });
}

void Service::Shutdown() noexcept {
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  const Deadline deadline = Clock::now() + config_.settings.shutdown_timeout;
  for (auto& [key, r] : receivers_) r->Shutdown(deadline);
  // Processors were created back to front; flush them front to back.
  for (auto it = processors_.rbegin(); it != processors_.rend(); ++it) (*it)->Shutdown(deadline);
  // Buffers write what they hold and stop reading; the exporters then finish
  // what they were given; what they could not is left in the buffer.
  for (auto& b : buffers_) b->Shutdown(deadline);
  for (auto& [key, runner] : exporters_) runner->Shutdown(deadline);
  for (auto& b : buffers_) b->Close();
  {
    std::lock_guard<std::mutex> lock(trim_mu_);
    trim_stop_ = true;
  }
  trim_cv_.notify_all();
  if (trimmer_.joinable()) trimmer_.join();
  if (admin_) admin_->Stop();
  Log(LogLevel::kInfo, program_, "stopped");
}

std::string Service::StatusText() const {
  std::string out = absl::StrCat(program_, " ", TRIBUTARY_VERSION, "\nconfig: ", config_.file,
                                 "\nready: ", ready_ ? "yes" : "no", "\n\npipelines:\n");
  auto join = [](const std::vector<ComponentId>& ids) {
    std::vector<std::string> names;
    for (const auto& id : ids) names.push_back(id.ToString());
    return absl::StrJoin(names, ", ");
  };
  for (const PipelineSpec& p : config_.pipelines) {
    absl::StrAppend(&out, "  ", p.id, ": receivers [", join(p.receivers), "] processors [",
                    join(p.processors), "] exporters [", join(p.exporters), "]\n");
  }
  absl::StrAppend(&out, "\nexporter queues:\n");
  for (const auto& [key, runner] : exporters_) {
    absl::StrAppend(&out, "  ", key, ": ", runner->queue_depth(), " batches\n");
  }
  if (!buffers_.empty()) {
    absl::StrAppend(&out, "\nbuffers (", config_.settings.buffer.directory, "):\n");
    for (const auto& b : buffers_) {
      absl::StrAppend(&out, "  ", b->options().name, ": ", b->size_bytes(), " of ",
                      b->options().max_bytes, " bytes\n");
    }
  }
  absl::StrAppend(&out, "\nendpoints: /metrics /healthz /readyz\n");
  return out;
}

namespace {

void PrintReference(const Registry& registry) {
  auto table = [](const std::vector<FieldDoc>& docs) {
    std::string out = "| key | type | default | description |\n| --- | --- | --- | --- |\n";
    for (const FieldDoc& d : docs) {
      absl::StrAppend(&out, "| `", d.key, "` | ", d.type, " | ",
                      d.required ? "required" : d.default_value, " | ", d.help, " |\n");
    }
    return out;
  };
  std::string out =
      "# Configuration reference\n\n"
      "Generated from the components' config structs by "
      "`tributary-collector --print-config-reference`; do not edit by hand.\n\n"
      "Durations are written `250ms`, `5s`, `1m30s`; sizes `512KiB`, `4MiB`, `1GB`. "
      "`${env:NAME}` (or `${NAME}`, `${NAME:-default}`) is replaced by the environment "
      "variable's value.\n\n## service\n\n`service.pipelines.<signal>[/<name>]` takes "
      "`receivers`, `processors` and `exporters`, lists of component ids.\n\n";
  absl::StrAppend(&out, table(DescribeConfig<ServiceSettings>()));
  auto section = [&](const char* title, const auto& factories) {
    for (const auto& [type, f] : factories) {
      std::vector<std::string> signals;
      for (Signal s : f.signals) signals.emplace_back(SignalName(s));
      absl::StrAppend(&out, "\n## ", title, ": `", type, "`\n\n", f.description,
                      "\n\nSignals: ", absl::StrJoin(signals, ", "), ".\n\n", table(f.describe()));
    }
  };
  section("receiver", registry.receivers());
  section("processor", registry.processors());
  section("exporter", registry.exporters());
  fwrite(out.data(), 1, out.size(), stdout);
}

void Usage(const ProgramInfo& info) {
  printf(
      "usage: %s [--config FILE] [--check-config] [--version] [--print-config-reference]\n"
      "  --config FILE             YAML configuration (default: the built-in configuration)\n"
      "  --check-config            validate the configuration and exit\n"
      "  --version                 print the version and exit\n"
      "  --print-config-reference  print the configuration reference (Markdown)\n",
      info.name.c_str());
}

// glibc's defaults suit short-lived programs: up to eight heap arenas per core,
// and an mmap threshold that rises after every large free so that later large
// buffers (whole batches, serialised requests) come from the heap and leave
// it fragmented. A pipeline that churns such buffers for weeks then shows
// resident memory far above what it uses, and growing. Two arenas and a fixed
// threshold keep it flat; MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ in the
// environment still win.
void TuneAllocator() {
  if (getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  if (getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 256 << 10);
}

}  // namespace

int RunProgram(int argc, char** argv, const ProgramInfo& info) {
  TuneAllocator();
  std::string config_path;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else if (arg == "--check-config") {
      check = true;
    } else if (arg == "--version") {
      printf("%s %s\n", info.name.c_str(), TRIBUTARY_VERSION);
      return 0;
    } else if (arg == "--print-config-reference") {
      Registry registry;
      info.register_components(registry);
      PrintReference(registry);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      Usage(info);
      return 0;
    } else {
      fprintf(stderr, "%s: unknown argument '%s'\n", info.name.c_str(), arg.c_str());
      Usage(info);
      return 2;
    }
  }
  Registry registry;
  info.register_components(registry);
  absl::StatusOr<ServiceConfig> config =
      config_path.empty() ? LoadConfigText(registry, info.default_config, "<built-in>")
                          : LoadConfigFile(registry, config_path);
  if (!config.ok()) {
    fprintf(stderr, "%s: invalid configuration:\n%s\n", info.name.c_str(),
            std::string(config.status().message()).c_str());
    return 1;
  }
  if (check) {
    printf("%s: configuration %s is valid (%zu pipelines)\n", info.name.c_str(),
           config->file.c_str(), config->pipelines.size());
    return 0;
  }
  // Signals are taken by sigwait on this thread; every thread started from
  // here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Service service(registry, std::move(*config), info.name);
  if (absl::Status s = service.Start(); !s.ok()) {
    Log(LogLevel::kError, info.name, "cannot start", absl::StrCat("error=\"", s.message(), "\""));
    service.Shutdown();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  Log(LogLevel::kInfo, info.name, "signal received, draining",
      absl::StrCat("signal=", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  service.Shutdown();
  return 0;
}

}  // namespace tributary::core::runtime
