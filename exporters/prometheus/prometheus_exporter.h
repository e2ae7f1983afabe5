#ifndef TRIBUTARY_EXPORTERS_PROMETHEUS_PROMETHEUS_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_PROMETHEUS_PROMETHEUS_EXPORTER_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/http/server.h"
#include "exporters/prometheus/metric_store.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace prometheus {
class Gauge;
class Counter;
}  // namespace prometheus

namespace tributary::exporters::prometheus {

struct PrometheusExporterConfig {
  std::string endpoint = "localhost:8889";
  std::string path = "/metrics";
  std::chrono::milliseconds metric_expiration = std::chrono::minutes(5);
  std::string metric_namespace;
  std::map<std::string, std::string> const_labels;
  bool scope_labels = true;
  core::QueueConfig sending_queue;
  common::http::ServerLimits limits;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoint", endpoint,
               "host:port the scrape endpoint listens on; loopback by default, "
               "`0.0.0.0:8889` for every interface");
    v.Optional("path", path, "HTTP path of the exposition");
    v.Optional("metric_expiration", metric_expiration,
               "series not updated for this long are no longer exposed");
    v.Optional("namespace", metric_namespace, "prefix of every metric name");
    v.Optional("const_labels", const_labels, "labels added to every series");
    v.Optional("scope_labels", scope_labels,
               "add otel_scope_name and otel_scope_version labels from the instrumentation scope");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    limits.VisitFields(v);
  }
  absl::Status Validate() const;
};

// Exposes the metrics it is given for Prometheus to scrape: text format
// 0.0.4, or OpenMetrics 1.0 when the scraper asks for it, gzip-compressed when
// accepted. Translation as in translate.h, state in a MetricStore.
class PrometheusExporter : public core::Exporter {
 public:
  PrometheusExporter(std::string id, PrometheusExporterConfig config);
  ~PrometheusExporter() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;

  // The port listened on (the configured one, or the one chosen for port 0).
  int port() const { return port_; }
  MetricStore& store() { return store_; }

 private:
  void Scrape(bool open_metrics, std::string* body);
  common::http::ServerResponse Handle(const common::http::ServerRequest& req);

  const std::string id_;
  const PrometheusExporterConfig config_;
  MetricStore store_;
  std::unique_ptr<common::http::Server> server_;
  int port_ = 0;
  std::chrono::steady_clock::time_point last_expire_;  // Export's thread only
  ::prometheus::Gauge* series_gauge_;
  ::prometheus::Counter* scrapes_;
  ::prometheus::Counter* expired_;
};

}  // namespace tributary::exporters::prometheus

#endif  // TRIBUTARY_EXPORTERS_PROMETHEUS_PROMETHEUS_EXPORTER_H_
