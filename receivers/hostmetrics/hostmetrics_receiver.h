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
  }
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
