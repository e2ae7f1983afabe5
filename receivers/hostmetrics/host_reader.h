#ifndef TRIBUTARY_RECEIVERS_HOSTMETRICS_HOST_READER_H_
#define TRIBUTARY_RECEIVERS_HOSTMETRICS_HOST_READER_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb.h"

namespace re2 {
class RE2;
}

namespace tributary::receivers::hostmetrics {

// Host metrics read from /proc and /sys under a root, named, labelled and
// measured as the Prometheus node exporter has them (node_cpu_seconds_total
// {cpu,mode}, node_memory_MemAvailable_bytes, ...), so that its dashboards
// work unchanged. Counters are cumulative sums from boot. Devices and mount
// points are left out as Debian's node exporter does by default.
class HostReader {
 public:
  struct Options {
    std::string root = "/";
    std::vector<std::string> collectors;  // empty: all
    std::string disk_device_exclude;
    std::string filesystem_fstype_exclude;
    std::string filesystem_mount_exclude;
    std::string network_device_exclude;
  };
  explicit HostReader(Options options);
  ~HostReader();

  // Appends the metrics of every collector to `out`; `errors` gets one line
  // per collector that could not read its files.
  void Collect(uint64_t now_ns, opentelemetry::proto::metrics::v1::ScopeMetrics* out,
               std::vector<std::string>* errors);

  // The node's name: `k8s_node_name` (the downward API's spec.nodeName) when
  // not empty, else the first line of <root>/etc/hostname, else this
  // machine's hostname (in a container, the pod's).
  static std::string NodeName(const std::string& root, const char* k8s_node_name);

  // The parsers, on file contents (for tests).
  class Builder;
  static void ParseStat(std::string_view text, double clock_ticks, Builder& b);
  static void ParseMeminfo(std::string_view text, Builder& b);
  static void ParseLoadavg(std::string_view text, Builder& b);
  void ParseDiskstats(std::string_view text, Builder& b) const;
  void ParseNetDev(std::string_view text, Builder& b) const;
  static void ParsePressure(std::string_view resource, std::string_view text, Builder& b);

 private:
  bool Enabled(std::string_view collector) const;
  void CollectFilesystems(Builder& b, std::vector<std::string>* errors) const;
  std::string Path(std::string_view rel) const;

  const Options options_;
  std::unique_ptr<re2::RE2> disk_exclude_;
  std::unique_ptr<re2::RE2> fstype_exclude_;
  std::unique_ptr<re2::RE2> mount_exclude_;
  std::unique_ptr<re2::RE2> net_exclude_;
  double clock_ticks_;
  uint64_t boot_ns_ = 0;
};

// Collects data points into metrics of one scope, one metric per name.
class HostReader::Builder {
 public:
  Builder(opentelemetry::proto::metrics::v1::ScopeMetrics* scope, uint64_t now_ns,
          uint64_t start_ns)
      : scope_(scope), now_ns_(now_ns), start_ns_(start_ns) {}
  using Labels = std::vector<std::pair<std::string, std::string>>;
  void Counter(const std::string& name, const char* help, double value, const Labels& labels = {});
  void Gauge(const std::string& name, const char* help, double value, const Labels& labels = {});
  uint64_t boot_ns = 0;  // set by ParseStat

 private:
  opentelemetry::proto::metrics::v1::NumberDataPoint* Point(const std::string& name,
                                                            const char* help, bool counter,
                                                            const Labels& labels);
  opentelemetry::proto::metrics::v1::ScopeMetrics* scope_;
  uint64_t now_ns_;
  uint64_t start_ns_;
  absl::flat_hash_map<std::string, opentelemetry::proto::metrics::v1::Metric*> metrics_;
};

}  // namespace tributary::receivers::hostmetrics

#endif  // TRIBUTARY_RECEIVERS_HOSTMETRICS_HOST_READER_H_
