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
  bool enable_open_metrics = true;
  bool without_scope_info = false;
  bool send_timestamps = false;
  bool add_metric_suffixes = true;
  std::string translation_strategy = "UnderscoreEscapingWithSuffixes";
  struct ResourceToTelemetry {
    bool enabled = false;
    template <class V>
    void VisitFields(V&& v) {
      v.Only("enabled", enabled,
             "resource attributes become `job`, `instance` and target_info, not labels of "
             "every series");
    }
  } resource_to_telemetry_conversion;
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
    v.Optional("enable_open_metrics", enable_open_metrics,
               "answer in OpenMetrics (with exemplars) when the scraper asks for it; false always "
               "answers in the text format. The Collector's default is false");
    v.Optional("without_scope_info", without_scope_info,
               "leave out the scope labels (the Collector's spelling of scope_labels: false)");
    v.Only("send_timestamps", send_timestamps,
           "samples carry no timestamp; Prometheus stamps them at the scrape");
    v.Only("add_metric_suffixes", add_metric_suffixes, "unit and type suffixes are always added");
    v.Only("translation_strategy", translation_strategy,
           "names are escaped to Prometheus's character set, with suffixes");
    v.Optional("resource_to_telemetry_conversion", resource_to_telemetry_conversion,
               "resource attributes as labels");
    v.Unsupported("tls", "the scrape endpoint serves plain HTTP; put TLS in front of it");
    v.Unsupported("cors", "the scrape endpoint is not for browsers");
    v.Unsupported("auth", "authenticator extensions do not exist here");
    v.Unsupported("include_metadata", "scrapes carry no metadata to keep");
    v.Unsupported("response_headers", "the scrape answer has fixed headers");
    v.Unsupported("compression_algorithms", "scrapes send no request bodies");
    v.Unsupported("max_request_body_size", "scrapes send no request bodies");
    v.Unsupported("read_timeout", "bounded by read_header_timeout");
    v.Unsupported("write_timeout", "an answer is bounded by read_body_timeout");
    v.Unsupported("keepalive", "set idle_timeout");
    v.Unsupported("keep_alives_enabled", "connections are kept open between scrapes");
    v.Unsupported("middlewares", "middleware extensions do not exist here");
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
