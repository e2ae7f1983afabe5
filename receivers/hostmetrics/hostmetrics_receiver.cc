#include "receivers/hostmetrics/hostmetrics_receiver.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"
#include "tributary/core/attributes.h"
#include "tributary/core/hand_on.h"

namespace tributary::receivers::hostmetrics {

std::string NameMatchRegex(const std::vector<std::string>& names, const std::string& match_type) {
  std::vector<std::string> parts;
  for (const std::string& n : names) {
    parts.push_back(match_type == "regexp" ? "(?:" + n + ")" : re2::RE2::QuoteMeta(n));
  }
  // The Collector's regexp entries match anywhere in the name.
  if (match_type == "regexp") return absl::StrJoin(parts, "|");
  return absl::StrCat("^(?:", absl::StrJoin(parts, "|"), ")$");
}

void HostmetricsConfig::Resolve() {
  if (!scrapers) return;
  const ScrapersConfig& s = *scrapers;
  collectors.clear();
  if (s.cpu) collectors.push_back("cpu");
  if (s.memory) collectors.push_back("memory");
  if (s.load) collectors.push_back("load");
  if (s.disk) collectors.push_back("disk");
  if (s.filesystem) collectors.push_back("filesystem");
  if (s.network) collectors.push_back("network");
  if (s.paging || s.processes || s.system) collectors.push_back("stat");
  // An exclusion given replaces the collector's default one.
  if (s.disk && s.disk->exclude) disk_device_exclude = s.disk->exclude->ToRegex();
  if (s.network && s.network->exclude) network_device_exclude = s.network->exclude->ToRegex();
  if (s.filesystem && s.filesystem->exclude_fs_types) {
    filesystem_fstype_exclude = s.filesystem->exclude_fs_types->ToRegex();
  }
  if (s.filesystem && s.filesystem->exclude_mount_points) {
    filesystem_mount_exclude = s.filesystem->exclude_mount_points->ToRegex();
  }
}

absl::Status HostmetricsConfig::Validate() const {
  if (scrapers && scrapers->filesystem && scrapers->filesystem->exclude_devices) {
    return absl::InvalidArgumentError(
        "scrapers.filesystem.exclude_devices is not supported: exclude by fs_types or "
        "mount_points");
  }
  if (scrapers && !scrapers->cpu && !scrapers->memory && !scrapers->load && !scrapers->disk &&
      !scrapers->filesystem && !scrapers->network && !scrapers->paging && !scrapers->processes &&
      !scrapers->system) {
    return absl::InvalidArgumentError("scrapers names none that is collected here");
  }
  if (timeout.count() < 0 || timeout > collection_interval) {
    return absl::InvalidArgumentError("timeout must be within collection_interval");
  }
  if (collection_interval.count() < 100) {
    return absl::InvalidArgumentError("collection_interval must be at least 100ms");
  }
  for (const std::string& c : collectors) {
    if (c != "cpu" && c != "memory" && c != "load" && c != "disk" && c != "filesystem" &&
        c != "network" && c != "stat" && c != "pressure") {
      return absl::InvalidArgumentError(absl::StrCat("unknown collector \"", c, "\""));
    }
  }
  for (const std::string* re : {&disk_device_exclude, &filesystem_fstype_exclude,
                                &filesystem_mount_exclude, &network_device_exclude}) {
    re2::RE2 compiled(*re, re2::RE2::Quiet);
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid RE2 \"", *re, "\": ", compiled.error()));
    }
  }
  return absl::OkStatus();
}

HostmetricsReceiver::HostmetricsReceiver(std::string id, HostmetricsConfig config,
                                         core::Consumer* metrics)
    : id_(std::move(id)),
      config_(std::move(config)),
      metrics_(metrics),
      reader_(HostReader::Options{config_.root_path, config_.collectors,
                                  config_.disk_device_exclude, config_.filesystem_fstype_exclude,
                                  config_.filesystem_mount_exclude,
                                  config_.network_device_exclude}) {
  const std::string node = HostReader::NodeName(config_.root_path, std::getenv("K8S_NODE_NAME"));
  // The node exporter's identity in Prometheus: job="node", instance=<node>.
  std::map<std::string, std::string> resource = {
      {"host.name", node}, {"service.name", "node"}, {"service.instance.id", node}};
  for (const auto& [k, v] : config_.resource_attributes) resource[k] = v;
  for (auto& [k, v] : resource) {
    if (!v.empty()) resource_.emplace_back(k, std::move(v));
  }
}

HostmetricsReceiver::~HostmetricsReceiver() { Shutdown(core::Clock::now()); }

absl::Status HostmetricsReceiver::Start() {
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void HostmetricsReceiver::Shutdown(core::Deadline) noexcept {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HostmetricsReceiver::Run() {
  std::unique_lock lock(mu_);
  if (config_.initial_delay.count() > 0) {
    cv_.wait_for(lock, config_.initial_delay, [this] { return stop_; });
  }
  while (!stop_) {
    lock.unlock();
    CollectOnce();
    lock.lock();
    cv_.wait_for(lock, config_.collection_interval, [this] { return stop_; });
  }
}

void HostmetricsReceiver::CollectOnce() {
  const uint64_t now =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  core::MetricsRequest req;
  auto* rm = req.add_resource_metrics();
  auto* attrs = rm->mutable_resource()->mutable_attributes();
  core::AddStringAttributes(attrs, resource_);
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("tributary.hostmetrics");
  std::vector<std::string> errors;
  reader_.Collect(now, sm, &errors);
  uint64_t held = 0;
  if (!errors.empty() && log_limiter_.Allow(&held)) {
    core::Log(core::LogLevel::kWarn, id_, "some host metrics could not be read",
              absl::StrCat("errors=\"", absl::StrJoin(errors, "; "), "\" suppressed=", held));
  }
  // A refused collection is not kept: the next one carries the counters on.
  static_cast<void>(core::HandOn(*metrics_, id_, "host", core::Batch(std::move(req))));
}

}  // namespace tributary::receivers::hostmetrics

namespace tributary {
void RegisterReceiverHostmetrics(core::Registry& registry) {
  using receivers::hostmetrics::HostmetricsConfig;
  registry.Add(core::MakeFactory<core::Receiver, HostmetricsConfig, const core::ReceiverConsumers&>(
      "hostmetrics", {core::Signal::kMetrics},
      "The host's CPU, memory, load, disks, filesystems, network, processes and pressure, named "
      "and labelled as the Prometheus node exporter has them.",
      [](const core::CreateContext& ctx, const HostmetricsConfig& config,
         const core::ReceiverConsumers& consumers)
          -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
        if (consumers.metrics == nullptr) {
          return absl::InvalidArgumentError(
              "the hostmetrics receiver serves metrics pipelines only");
        }
        return std::make_unique<receivers::hostmetrics::HostmetricsReceiver>(
            ctx.id.ToString(), config, consumers.metrics);
      }));
}
}  // namespace tributary
