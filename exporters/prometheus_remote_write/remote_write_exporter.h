#ifndef TRIBUTARY_EXPORTERS_PROMETHEUS_REMOTE_WRITE_REMOTE_WRITE_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_PROMETHEUS_REMOTE_WRITE_REMOTE_WRITE_EXPORTER_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "common/http/client_config.h"
#include "common/http/http_client.h"
#include "common/prometheus/translate.h"
#include "prometheus/remote.pb.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"

namespace prometheus {
class Counter;
class Histogram;
}  // namespace prometheus

namespace tributary::exporters::prometheus_remote_write {

using common::http::BasicAuthConfig;

// The Collector's `remote_write_queue` block: its queue_size and
// num_consumers are sending_queue.queue_size and shards here.
struct RemoteWriteQueueConfig {
  bool enabled = true;
  std::optional<int64_t> queue_size;
  std::optional<int64_t> num_consumers;
  template <class V>
  void VisitFields(V&& v) {
    v.Only("enabled", enabled, "batches always go through the exporter's queue");
    v.Optional("queue_size", queue_size, "sets sending_queue.queue_size");
    v.Optional("num_consumers", num_consumers, "sets shards");
  }
};

struct RemoteWriteConfig {
  std::string endpoint;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  std::map<std::string, std::string> headers;
  std::optional<BasicAuthConfig> basic_auth;
  std::string bearer_token;
  common::tls::TlsClientConfig tls;
  std::map<std::string, std::string> external_labels;
  std::string metric_namespace;
  bool scope_labels = true;
  std::chrono::milliseconds metric_expiration = std::chrono::minutes(5);
  int64_t shards = 4;
  int64_t max_samples_per_send = 5000;
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  common::http::ClientTuning http;
  RemoteWriteQueueConfig remote_write_queue;
  bool disable_scope_info = false;
  std::string compression = "snappy";
  bool add_metric_suffixes = true;
  std::string translation_strategy = "UnderscoreEscapingWithSuffixes";
  bool send_metadata = false;
  std::string protobuf_message = "prometheus.WriteRequest";
  bool convert_explicit_histograms_to_nhcb = false;
  bool keep_classic_histograms = false;
  struct Enabled {
    bool enabled;
    const char* why;
    template <class V>
    void VisitFields(V&& v) {
      v.Only("enabled", enabled, why);
    }
  };
  Enabled target_info{true, "target_info is always sent for resources with attributes"};
  Enabled resource_to_telemetry_conversion{
      false, "resource attributes become `job`, `instance` and target_info"};
  template <class V>
  void VisitFields(V&& v) {
    v.Required("endpoint", endpoint, "URL to POST to, e.g. http://prometheus:9090/api/v1/write");
    v.Optional("timeout", timeout, "time limit of one HTTP request");
    v.Optional("headers", headers, "extra HTTP headers (e.g. X-Scope-OrgID)");
    v.Optional("basic_auth", basic_auth, "HTTP basic authentication");
    v.Optional("bearer_token", bearer_token, "sent as `Authorization: Bearer ...`");
    v.Optional("tls", tls, "TLS settings for https endpoints");
    v.Optional("external_labels", external_labels, "labels added to every series");
    v.Optional("namespace", metric_namespace, "prefix of every metric name");
    v.Optional("scope_labels", scope_labels,
               "add otel_scope_name and otel_scope_version labels from the instrumentation scope");
    v.Optional("metric_expiration", metric_expiration,
               "running totals of delta series not updated for this long are forgotten");
    v.Optional("shards", shards,
               "concurrent senders; a series always goes through the same one, in order");
    v.Optional("max_samples_per_send", max_samples_per_send, "samples per HTTP request at most");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure,
               "retry on connection errors, 5xx and 429 (Retry-After honoured)");
    v.Optional("dead_letter", dead_letter,
               "where batches the server refuses for good (other 4xx) are kept");
    http.VisitFields(v);
    v.Optional("remote_write_queue", remote_write_queue, "the Collector's queue keys");
    v.Optional("disable_scope_info", disable_scope_info,
               "leave out the scope labels (the Collector's spelling of scope_labels: false)");
    v.Only("compression", compression, "remote write 1.0 bodies are snappy-compressed");
    v.Only("add_metric_suffixes", add_metric_suffixes, "unit and type suffixes are always added");
    v.Only("translation_strategy", translation_strategy,
           "names are escaped to Prometheus's character set, with suffixes");
    v.Only("send_metadata", send_metadata, "metric metadata is not sent");
    v.Only("protobuf_message", protobuf_message, "remote write 1.0");
    v.Only("convert_explicit_histograms_to_nhcb", convert_explicit_histograms_to_nhcb,
           "histograms are sent as classic buckets");
    v.Only("keep_classic_histograms", keep_classic_histograms,
           "histograms are sent as classic buckets only");
    v.Optional("target_info", target_info, "the target_info series");
    v.Optional("resource_to_telemetry_conversion", resource_to_telemetry_conversion,
               "resource attributes as labels");
    v.Unsupported("resource_constant_labels", "labels come from job, instance and external_labels");
    v.Unsupported("http", "set the client keys at the exporter's top level");
    v.Unsupported("max_batch_size_bytes", "requests are cut by max_samples_per_send");
    v.Unsupported("max_batch_request_parallelism", "requests go out in parallel over `shards`");
    v.Unsupported("wal", "batches outlive a restart in the write-ahead buffer (service.buffer)");
    v.Unsupported("include_metadata_keys", "client metadata does not travel with the data");
    v.Unsupported("compression_params", "snappy has no levels");
  }
  // remote_write_queue's values into sending_queue and shards.
  void Resolve() {
    if (remote_write_queue.queue_size) sending_queue.queue_size = *remote_write_queue.queue_size;
    if (remote_write_queue.num_consumers) shards = *remote_write_queue.num_consumers;
  }
  absl::Status Validate() const;
};

using opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;

struct Sample {
  int64_t timestamp_ms;
  double value;
};
// Series of one batch: the key is the series' labels as they are encoded in
// a TimeSeries (its repeated `labels` field, sorted by name), which is also
// its identity; the samples in the order they came.
using SeriesMap = absl::flat_hash_map<std::string, absl::InlinedVector<Sample, 1>>;

// Appends one TimeSeries (field 1 of WriteRequest) to `out`, samples sorted
// by time.
void AppendTimeSeries(const std::string& labels, absl::InlinedVector<Sample, 1>& samples,
                      std::string* out);

// OTLP metrics as remote-write time series, translated as the prometheus
// exporter does (translate.h): delta sums and histograms added up into
// cumulative series, exponential histograms as explicit buckets, one
// target_info sample per resource. Keeps the running totals of delta series.
class SeriesConverter {
 public:
  struct Options {
    std::string prefix;
    common::prometheus::Labels external_labels;
    bool scope_labels = true;
    // A delta series not seen for this long starts again from zero.
    std::chrono::milliseconds expiration = std::chrono::minutes(5);
  };
  explicit SeriesConverter(Options options);

  // Adds the samples of `request` to `out`. `now_ms` stamps samples without
  // a time.
  void Convert(const ExportMetricsServiceRequest& request, int64_t now_ms, SeriesMap* out);

 private:
  // The samples of one metric, with the labels of its resource and scope.
  void ConvertMetric(const opentelemetry::proto::metrics::v1::Metric& m,
                     const common::prometheus::Labels& scoped, SeriesMap* out);
  // Explicit buckets as name_bucket{le}, name_sum and name_count samples;
  // a stale point's samples are stale markers.
  void EmitHistogram(const std::string& name, const common::prometheus::Labels& labels,
                     const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                     bool has_sum, double sum, uint64_t count, int64_t ts, bool stale, bool delta,
                     SeriesMap* out);
  // One sample of the series `name` with `labels` (sorted) and, when
  // `extra_name` is set, one more label (le, quantile).
  void Emit(std::string_view name, const common::prometheus::Labels& labels, const char* extra_name,
            std::string_view extra_value, double value, int64_t ts, bool delta, SeriesMap* out);

  const Options options_;
  common::prometheus::Labels external_;  // sorted
  struct Total {
    double value = 0;
    int64_t seen_ms = 0;
  };
  absl::flat_hash_map<std::string, Total> totals_;  // of delta series, by labels
  int64_t now_ms_ = 0;
  int64_t pruned_ms_ = 0;
  std::string key_;  // scratch
};

// Sends metrics with the Prometheus remote-write 1.0 protocol: protobuf
// WriteRequest, snappy block compression, series sharded over `shards`
// senders by label hash so that no series goes out of order. 2xx succeeds;
// connection errors, 5xx and 429 are retried (Retry-After honoured) and only
// the shards that failed are sent again; other 4xx fail the batch for good.
class RemoteWriteExporter : public core::Exporter {
 public:
  RemoteWriteExporter(std::string id, RemoteWriteConfig config);
  ~RemoteWriteExporter() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;

 private:
  // The result of sending one shard's requests.
  struct SendResult {
    absl::Status status;
    std::chrono::nanoseconds retry_after{0};
  };
  // Sends the shard's requests from the first not yet accepted; stops at
  // the first failure.
  SendResult SendShard(size_t shard);

  const std::string id_;
  const RemoteWriteConfig config_;
  SeriesConverter converter_;
  ::prometheus::Counter* sent_;
  ::prometheus::Counter* retried_;
  ::prometheus::Histogram* duration_;
  std::unique_ptr<common::http::Client> client_;  // from Start
  size_t shards_ = 0;                             // 0 before Start
  // The batch being sent: compressed requests per shard, and which shards
  // are done, so that a retry sends only the rest (and totals of delta series
  // are counted once).
  struct Body {
    std::string bytes;  // snappy-compressed WriteRequest
    size_t samples = 0;
  };
  std::vector<std::vector<Body>> pending_;  // per shard
  std::vector<size_t> next_body_;           // per shard: the first not yet accepted
};

}  // namespace tributary::exporters::prometheus_remote_write

#endif  // TRIBUTARY_EXPORTERS_PROMETHEUS_REMOTE_WRITE_REMOTE_WRITE_EXPORTER_H_
