#ifndef TRIBUTARY_RECEIVERS_HOSTMETRICS_HOSTMETRICS_RECEIVER_H_
#define TRIBUTARY_RECEIVERS_HOSTMETRICS_HOSTMETRICS_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "receivers/hostmetrics/host_reader.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::receivers::hostmetrics {

// One RE2 that matches a whole name when one of `names` does: taken as they
// are (`strict`) or as regular expressions (`regexp`), as the Collector's
// host scrapers match.
std::string NameMatchRegex(const std::vector<std::string>& names, const std::string& match_type);

// A list of names of the Collector's host scrapers (`devices`, `interfaces`,
// `fs_types`, `mount_points`) with its `match_type`.
template <class Key>
struct NameMatch {
  std::vector<std::string> names;
  std::string match_type = "strict";
  template <class V>
  void VisitFields(V&& v) {
    v.Optional(Key::kName, names, "names");
    v.Optional("match_type", match_type, "strict or regexp");
  }
  absl::Status Validate() const {
    if (match_type != "strict" && match_type != "regexp") {
      return absl::InvalidArgumentError("match_type must be strict or regexp");
    }
    return absl::OkStatus();
  }
  std::string ToRegex() const { return NameMatchRegex(names, match_type); }
};
struct DevicesKey {
  static constexpr const char* kName = "devices";
};
struct InterfacesKey {
  static constexpr const char* kName = "interfaces";
};
struct FsTypesKey {
  static constexpr const char* kName = "fs_types";
};
struct MountPointsKey {
  static constexpr const char* kName = "mount_points";
};

// What every scraper block has and this receiver does not.
template <class V>
void ScraperCommonKeys(V&& v) {
  v.Unsupported("metrics", "the metrics are the node exporter's, chosen by collector");
  v.Unsupported("resource_attributes", "set the receiver's resource_attributes");
}

// The Collector's `scrapers` map, onto the collectors here (whose metric
// names stay the node exporter's): cpu, memory, load, disk, filesystem and
// network onto theirs; paging, processes and system onto `stat` (swap,
// process counts, boot time); process and nfs have none. Only exclusions have
// an equivalent (the collectors' RE2 of what they leave out).
struct PlainScraper {
  template <class V>
  void VisitFields(V&& v) {
    ScraperCommonKeys(v);
  }
};
template <class Key>
struct ExcludingScraper {
  std::optional<NameMatch<Key>> exclude;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("exclude", exclude, "what is left out");
    v.Unsupported("include", "only exclusions are supported");
    ScraperCommonKeys(v);
  }
};
struct FilesystemScraper {
  std::optional<NameMatch<DevicesKey>> exclude_devices;
  std::optional<NameMatch<FsTypesKey>> exclude_fs_types;
  std::optional<NameMatch<MountPointsKey>> exclude_mount_points;
  bool include_virtual_filesystems = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("exclude_devices", exclude_devices, "devices left out");
    v.Optional("exclude_fs_types", exclude_fs_types, "filesystem types left out");
    v.Optional("exclude_mount_points", exclude_mount_points, "mount points left out");
    v.Only("include_virtual_filesystems", include_virtual_filesystems,
           "pseudo filesystems are left out by filesystem_fstype_exclude");
    v.Unsupported("include_devices", "only exclusions are supported");
    v.Unsupported("include_fs_types", "only exclusions are supported");
    v.Unsupported("include_mount_points", "only exclusions are supported");
    ScraperCommonKeys(v);
  }
};
struct LoadScraper {
  bool cpu_average = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Only("cpu_average", cpu_average, "load averages are the kernel's, not per CPU");
    ScraperCommonKeys(v);
  }
};
struct ScrapersConfig {
  std::optional<PlainScraper> cpu, memory, paging, processes, system;
  std::optional<LoadScraper> load;
  std::optional<ExcludingScraper<DevicesKey>> disk;
  std::optional<ExcludingScraper<InterfacesKey>> network;
  std::optional<FilesystemScraper> filesystem;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("cpu", cpu, "the cpu collector");
    v.Optional("memory", memory, "the memory collector");
    v.Optional("load", load, "the load collector");
    v.Optional("disk", disk, "the disk collector");
    v.Optional("filesystem", filesystem, "the filesystem collector");
    v.Optional("network", network, "the network collector");
    v.Optional("paging", paging, "the stat collector (swap, paging)");
    v.Optional("processes", processes, "the stat collector (running and blocked processes)");
    v.Optional("system", system, "the stat collector (boot time)");
    v.Unsupported("process", "per-process metrics are not collected");
    v.Unsupported("nfs", "NFS metrics are not collected");
  }
};

struct HostmetricsConfig {
  std::string root_path = "/";
  std::chrono::milliseconds collection_interval = std::chrono::seconds(10);
  std::vector<std::string> collectors;
  std::string disk_device_exclude = R"(^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$)";
  std::string filesystem_fstype_exclude =
      "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
      "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
      "sysfs|tracefs)$";
  std::string filesystem_mount_exclude =
      "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
  std::string network_device_exclude = "^lo$";
  std::map<std::string, std::string> resource_attributes;
  std::optional<ScrapersConfig> scrapers;
  std::chrono::milliseconds initial_delay{0};
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds metadata_collection_interval{300000};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("root_path", root_path,
               "where the host's /proc and /sys are (/host in a container that mounts them there)");
    v.Optional("collection_interval", collection_interval, "how often the host is read");
    v.Optional("collectors", collectors,
               "cpu, memory, load, disk, filesystem, network, stat, pressure (empty: all)");
    v.Optional("disk_device_exclude", disk_device_exclude,
               "RE2 of block devices left out (partitions, loop and ram devices)");
    v.Optional("filesystem_fstype_exclude", filesystem_fstype_exclude,
               "RE2 of filesystem types left out (pseudo filesystems)");
    v.Optional("filesystem_mount_exclude", filesystem_mount_exclude,
               "RE2 of mount points left out");
    v.Optional("network_device_exclude", network_device_exclude,
               "RE2 of network devices left out (empty: none)");
    v.Optional(
        "resource_attributes", resource_attributes,
        "attributes of the metrics' resource; they replace the defaults host.name and "
        "service.instance.id (the node's name: K8S_NODE_NAME, else <root_path>/etc/hostname, "
        "else the hostname) and service.name (`node`)");
    v.Optional("scrapers", scrapers,
               "the OpenTelemetry Collector's spelling of `collectors` and the exclusions, "
               "mapped onto the collectors here; the metric names stay the node exporter's");
    v.Optional("initial_delay", initial_delay, "wait before the first collection");
    v.Optional("timeout", timeout,
               "must stay within collection_interval: one collection is a few file reads");
    v.Optional("metadata_collection_interval", metadata_collection_interval,
               "accepted for the Collector's process scraper, which has no equivalent here");
  }
  // `scrapers` into collectors and the exclusion RE2s.
  void Resolve();
  absl::Status Validate() const;
};

// Reads the host every collection_interval and hands the metrics on.
class HostmetricsReceiver : public core::Receiver {
 public:
  HostmetricsReceiver(std::string id, HostmetricsConfig config, core::Consumer* metrics);
  ~HostmetricsReceiver() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;

 private:
  void Run();
  void CollectOnce();

  const std::string id_;
  const HostmetricsConfig config_;
  core::Consumer* const metrics_;
  HostReader reader_;
  std::vector<std::pair<std::string, std::string>> resource_;  // of every collection
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  core::LogLimiter log_limiter_;
};

}  // namespace tributary::receivers::hostmetrics

#endif  // TRIBUTARY_RECEIVERS_HOSTMETRICS_HOSTMETRICS_RECEIVER_H_
