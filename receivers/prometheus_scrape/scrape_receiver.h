#ifndef TRIBUTARY_RECEIVERS_PROMETHEUS_SCRAPE_SCRAPE_RECEIVER_H_
#define TRIBUTARY_RECEIVERS_PROMETHEUS_SCRAPE_SCRAPE_RECEIVER_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/http/http_client.h"
#include "common/k8s/pod_watcher.h"
#include "re2/re2.h"
#include "receivers/prometheus_scrape/exposition.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::receivers::prometheus_scrape {

struct ScrapeConfig {
  std::string job_name = "scrape";
  std::vector<std::string> targets;
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::chrono::milliseconds scrape_interval = std::chrono::seconds(10);
  std::chrono::milliseconds scrape_timeout = std::chrono::seconds(5);
  bool honor_labels = false;
  core::ByteSize body_size_limit{64ull << 20};
  int64_t sample_limit = 0;
  std::map<std::string, std::string> keep;
  std::map<std::string, std::string> drop;
  std::optional<common::k8s::ApiConfig> kubernetes_pods;
  std::string node_name;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("job_name", job_name, "the job label (service.name) of the scraped series");
    v.Optional("targets", targets, "host:port of each target (the instance label)");
    v.Optional("metrics_path", metrics_path, "HTTP path of the exposition");
    v.Optional("scheme", scheme, "http or https");
    v.Optional("scrape_interval", scrape_interval, "how often each target is scraped");
    v.Optional("scrape_timeout", scrape_timeout, "time limit of one scrape");
    v.Optional("honor_labels", honor_labels,
               "keep job and instance labels of the exposition (else they become exported_job, "
               "exported_instance)");
    v.Optional("body_size_limit", body_size_limit,
               "a larger (decompressed) exposition fails its scrape (0: no limit)");
    v.Optional("sample_limit", sample_limit,
               "an exposition with more samples fails its scrape (0: no limit)");
    v.Optional("keep", keep,
               "label (or __name__) to RE2: only samples matching all of them are kept");
    v.Optional("drop", drop,
               "label (or __name__) to RE2: samples matching any of them are dropped");
    v.Optional("kubernetes_pods", kubernetes_pods,
               "also scrape this node's pods annotated prometheus.io/scrape: \"true\" (at "
               "prometheus.io/port, prometheus.io/path, prometheus.io/scheme), found by a "
               "list/watch of the Kubernetes API");
    v.Optional("node_name", node_name,
               "the node whose pods kubernetes_pods finds; empty takes the K8S_NODE_NAME "
               "environment variable (set it from spec.nodeName with the downward API)");
  }
  absl::Status Validate() const;
};

// Prometheus series, as parsed, turned into OTLP metrics: counters as
// cumulative monotonic sums (named as their samples), gauges and untyped as
// gauges, histograms (from _bucket, _sum, _count) and summaries (quantiles,
// _sum, _count) as such; `_created` samples become start times.
class Converter {
 public:
  struct Options {
    bool honor_labels = false;
    std::vector<std::pair<std::string, std::unique_ptr<re2::RE2>>> keep;
    std::vector<std::pair<std::string, std::unique_ptr<re2::RE2>>> drop;
  };
  explicit Converter(Options options);
  ~Converter();
  // Appends the metrics of `result` to `out`; returns the samples kept.
  size_t Convert(const ParseResult& result, uint64_t now_ns,
                 opentelemetry::proto::metrics::v1::ScopeMetrics* out) const;

 private:
  using CreatedTimes = absl::flat_hash_map<std::string, uint64_t>;
  bool Keep(const Sample& s) const;
  // A histogram or summary family: one point per label set, from its
  // bucket (or quantile), sum and count samples.
  size_t ConvertBuckets(const Family& f, const CreatedTimes& created, uint64_t now_ns,
                        opentelemetry::proto::metrics::v1::ScopeMetrics* out) const;
  // Counters, gauges and the rest: a metric per sample name.
  size_t ConvertSamples(const Family& f, const CreatedTimes& created, uint64_t now_ns,
                        opentelemetry::proto::metrics::v1::ScopeMetrics* out) const;
  const Options options_;
};

// Scrapes a static list of targets, and the annotated pods of this node,
// every scrape_interval, and adds per target the series Prometheus writes
// itself: up, scrape_duration_seconds, scrape_samples_scraped.
class ScrapeReceiver : public core::Receiver {
 public:
  ScrapeReceiver(std::string id, ScrapeConfig config, core::Consumer* metrics);
  ~ScrapeReceiver() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;

 private:
  struct Target {
    std::string address;  // host:port, the instance
    std::string scheme;
    std::string path;
    std::vector<std::pair<std::string, std::string>> resource;  // pod metadata
  };
  void Run();
  std::vector<Target> Targets() const;
  void ScrapeTarget(const Target& target);

  const std::string id_;
  const ScrapeConfig config_;
  core::Consumer* const metrics_;
  std::unique_ptr<Converter> converter_;
  std::unique_ptr<common::http::Client> client_;
  std::unique_ptr<common::k8s::PodWatcher> pods_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  core::LogLimiter log_limiter_;
};

}  // namespace tributary::receivers::prometheus_scrape

#endif  // TRIBUTARY_RECEIVERS_PROMETHEUS_SCRAPE_SCRAPE_RECEIVER_H_
