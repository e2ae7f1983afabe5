// The programs' main: flags, configuration, signals, drain.
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "admin_client.h"
#include "tributary/core/log.h"
#include "tributary/core/runtime/service.h"
#include "tributary/core/telemetry.h"

#ifndef TRIBUTARY_VERSION
#define TRIBUTARY_VERSION "0.0.0"
#endif

namespace tributary::core::runtime {

namespace {

void PrintReference(const Registry& registry) {
  auto table = [](const std::vector<FieldDoc>& docs) -> std::string {
    if (docs.empty()) return "No settings.\n";
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
      "`receivers`, `processors` and `exporters`, lists of component ids. A connector "
      "(top-level `connectors:`) is listed under the `exporters` of the pipelines it takes "
      "data from and under the `receivers` of those it emits into.\n\n";
  absl::StrAppend(&out, table(DescribeConfig<ServiceSettings>()));
  auto section = [&](const char* title, const auto& factories) {
    for (const auto& [type, f] : factories) {
      if (!f.alias_of.empty()) continue;
      std::vector<std::string> aliases;
      for (const auto& [other, g] : factories) {
        if (g.alias_of == type) aliases.push_back("`" + other + "`");
      }
      std::vector<std::string> signals;
      for (Signal s : f.signals) {
        std::string name(SignalName(s));
        if (auto to = f.outputs.find(s); to != f.outputs.end()) {
          std::vector<std::string> outputs;
          for (Signal o : to->second) outputs.emplace_back(SignalName(o));
          absl::StrAppend(&name, " → ", absl::StrJoin(outputs, ", "));
        }
        signals.push_back(std::move(name));
      }
      absl::StrAppend(&out, "\n## ", title, ": `", type, "`\n\n", f.description,
                      aliases.empty() ? "" : " Also named " + absl::StrJoin(aliases, ", ") + ".",
                      "\n\nSignals: ", absl::StrJoin(signals, f.outputs.empty() ? ", " : "; "),
                      ".\n\n", table(f.describe()));
    }
  };
  section("receiver", registry.receivers());
  section("processor", registry.processors());
  section("exporter", registry.exporters());
  section("connector", registry.connectors());
  fwrite(out.data(), 1, out.size(), stdout);
}

void Usage(const ProgramInfo& info) {
  printf(
      "usage: %s [--config FILE] [--check-config] [--version] [--print-config-reference]\n"
      "       %s tap [--admin HOST:PORT] [--component ID] [--signal S] [--limit N]\n"
      "       %s top [--admin HOST:PORT] [--interval 2s] [--once]\n"
      "  --config FILE             YAML configuration (default: the built-in configuration)\n"
      "  --check-config            validate the configuration and exit\n"
      "  --version                 print the version and exit\n"
      "  --print-config-reference  print the configuration reference (Markdown)\n"
      "  tap                       print what passes a component of a running program\n"
      "  top                       show a running program's status page in the terminal\n",
      info.name.c_str(), info.name.c_str(), info.name.c_str());
}

// glibc's defaults suit short-lived programs: up to eight heap arenas per core,
// and an mmap threshold that rises after every large free so that later large
// buffers (whole batches, serialised requests) come from the heap and leave
// it fragmented. A pipeline that churns such buffers for weeks then shows
// resident memory far above what it uses, and growing. Two arenas and a fixed
// threshold keep it flat. Higher mmap and trim thresholds trade memory for
// CPU (README, Memory settings); MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ and
// MALLOC_TRIM_THRESHOLD_ in the environment win.
void TuneAllocator() {
  if (getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  if (getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 256 << 10);
}

// Listeners hold thousands of connections (max_connections), tail and
// Kafka clients more files: the soft descriptor limit (often 1024) is raised
// to the hard one, as Go programs do.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int RunProgram(int argc, char** argv, const ProgramInfo& info) {
  if (argc > 1 && std::string(argv[1]) == "tap") return RunTap(info.name, argc, argv, 2);
  if (argc > 1 && std::string(argv[1]) == "top") return RunTop(info.name, argc, argv, 2);
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
  // Signals are taken by sigwait on this thread (SIGHUP reloads, SIGTERM
  // and SIGINT drain); every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();

  Service service(registry, std::move(*config), info.name);
  if (absl::Status s = service.Start(); !s.ok()) {
    Log(LogLevel::kError, info.name, "cannot start", absl::StrCat("error=\"", s.message(), "\""));
    service.Shutdown();
    return 1;
  }
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig != SIGTERM && sig != SIGINT) {
    if (sig != SIGHUP) {
      Log(LogLevel::kWarn, info.name, "signal ignored", absl::StrCat("signal=", strsignal(sig)));
      continue;
    }
    Log(LogLevel::kInfo, info.name, "SIGHUP received, reloading the configuration");
    (void)service.Reload();  // logs its outcome
  }
  Log(LogLevel::kInfo, info.name, "signal received, draining",
      absl::StrCat("signal=", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  service.Shutdown();
  return 0;
}

}  // namespace tributary::core::runtime
