#ifndef TRIBUTARY_EXPORTERS_ELASTICSEARCH_ELASTICSEARCH_EXPORTER_H_
#define TRIBUTARY_EXPORTERS_ELASTICSEARCH_ELASTICSEARCH_EXPORTER_H_

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/http/client_config.h"
#include "common/http/http_client.h"
#include "exporters/elasticsearch/bulk_response.h"
#include "exporters/elasticsearch/document.h"
#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/exporter_config.h"
#include "tributary/core/log.h"

namespace prometheus {
class Counter;
class Histogram;
}  // namespace prometheus

namespace tributary::exporters::elasticsearch {

// `mapping: otel`, or the Collector's block `mapping: {mode: otel}`.
struct MappingConfig {
  std::string mode = "ecs";
  std::vector<std::string> allowed_modes;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("mode", mode, "document shape: ecs (Elastic Common Schema) or otel");
    v.Optional("allowed_modes", allowed_modes,
               "must stay empty: the mode is not chosen per request");
  }
  void FromScalar(const std::string& text) { mode = text; }
  absl::Status Validate() const;
};

// The Collector's `retry` block, onto retry_on_failure.
struct BulkRetryConfig {
  std::optional<bool> enabled;
  std::optional<std::chrono::milliseconds> initial_interval;
  std::optional<std::chrono::milliseconds> max_interval;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("enabled", enabled, "sets retry_on_failure.enabled");
    v.Optional("initial_interval", initial_interval, "sets retry_on_failure.initial_interval");
    v.Optional("max_interval", max_interval, "sets retry_on_failure.max_interval");
    v.Unsupported("max_requests", "retries are bounded by retry_on_failure.max_elapsed_time");
    v.Unsupported("max_retries", "retries are bounded by retry_on_failure.max_elapsed_time");
    v.Unsupported("retry_on_status", "429 and 5xx are retried, other statuses are not");
    v.Unsupported("retry_on_document_status", "429 and 5xx items are retried");
  }
};

struct EnabledFalse {
  bool enabled = false;
  const char* why = "";
  template <class V>
  void VisitFields(V&& v) {
    v.Only("enabled", enabled, why);
  }
};

struct ElasticsearchConfig {
  std::vector<std::string> endpoints{"http://localhost:9200"};
  MappingConfig mapping;
  std::string dataset = "generic";
  std::string ns = "default";
  std::string logs_index;
  std::string traces_index;
  bool install_templates = false;
  std::string compression = "none";
  int64_t max_documents = 5000;
  core::ByteSize max_bytes{5ull << 20};
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  std::optional<common::http::BasicAuthConfig> basic_auth;
  std::string api_key;
  std::string bearer_token;
  common::tls::TlsClientConfig tls;
  std::map<std::string, std::string> headers;
  core::QueueConfig sending_queue;
  core::RetryConfig retry_on_failure;
  std::optional<core::DeadLetterConfig> dead_letter;
  // The Collector's spellings, settled by Resolve().
  std::string endpoint;
  std::string user;
  std::string password;
  std::optional<BulkRetryConfig> retry;
  struct Flush {
    std::optional<core::ByteSize> bytes;
    template <class V>
    void VisitFields(V&& v) {
      v.Optional("bytes", bytes, "sets max_bytes");
      v.Unsupported("interval", "batches are made by the `batch` processor");
    }
  };
  std::optional<Flush> flush;
  common::http::ClientTuning http;
  bool suppress_conflict_errors = true;
  EnabledFalse logs_dynamic_index{false, "the index is logs_index or the data stream"};
  EnabledFalse traces_dynamic_index{false, "the index is traces_index or the data stream"};
  EnabledFalse metrics_dynamic_index{false, "metrics are not indexed"};
  EnabledFalse logs_dynamic_id{false, "document ids are derived from the record"};
  EnabledFalse traces_dynamic_id{false, "document ids are derived from the record"};
  EnabledFalse logs_dynamic_pipeline{false, "no ingest pipeline is named"};
  EnabledFalse logstash_format{false, "indices are data streams or logs_index/traces_index"};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoints", endpoints,
               "Elasticsearch or OpenSearch URLs; bulk requests go to them in turn");
    v.Optional("endpoint", endpoint, "one URL, instead of endpoints");
    v.Optional("mapping", mapping,
               "document shape: ecs (Elastic Common Schema) or otel, as a value or as the "
               "Collector's block with `mode`");
    v.Optional("dataset", dataset,
               "data stream dataset unless the resource sets data_stream.dataset");
    v.Optional("namespace", ns,
               "data stream namespace unless the resource sets data_stream.namespace");
    v.Optional("logs_index", logs_index,
               "dated index for logs instead of data streams, e.g. logs-tributary-%Y.%m.%d");
    v.Optional("traces_index", traces_index,
               "dated index for spans instead of data streams, e.g. traces-tributary-%Y.%m.%d");
    v.Optional("install_templates", install_templates,
               "install index templates (tributary-logs, tributary-traces) at start");
    v.Optional("compression", compression, "request bodies: none or gzip");
    v.Optional("max_documents", max_documents, "documents per bulk request at most");
    v.Optional("max_bytes", max_bytes, "bytes of a bulk request body at most (before gzip)");
    v.Optional("timeout", timeout, "time limit of one bulk request");
    v.Optional("basic_auth", basic_auth, "HTTP basic authentication");
    v.Optional("api_key", api_key, "sent as `Authorization: ApiKey ...` (the encoded key)");
    v.Optional("bearer_token", bearer_token, "sent as `Authorization: Bearer ...`");
    v.Optional("tls", tls, "TLS settings for https endpoints");
    v.Optional("headers", headers, "extra HTTP headers");
    v.Optional("sending_queue", sending_queue, "in-memory queue in front of the exporter");
    v.Optional("retry_on_failure", retry_on_failure,
               "retry of documents refused with 429 or 5xx, and of failed requests");
    v.Optional("dead_letter", dead_letter,
               "where documents Elasticsearch refuses for good (mapping errors) are kept");
    v.Optional("user", user, "basic authentication user (the Collector's spelling)");
    v.Optional("password", password, "basic authentication password, with `user`");
    v.Optional("retry", retry, "the Collector's retry keys, onto retry_on_failure");
    v.Optional("flush", flush, "the Collector's flush keys");
    http.VisitFields(v);
    v.Only("suppress_conflict_errors", suppress_conflict_errors,
           "a document that exists (409) is counted as a duplicate, never as an error");
    v.Optional("logs_dynamic_index", logs_dynamic_index, "index from attributes");
    v.Optional("traces_dynamic_index", traces_dynamic_index, "index from attributes");
    v.Optional("metrics_dynamic_index", metrics_dynamic_index, "index from attributes");
    v.Optional("logs_dynamic_id", logs_dynamic_id, "document id from an attribute");
    v.Optional("traces_dynamic_id", traces_dynamic_id, "document id from an attribute");
    v.Optional("logs_dynamic_pipeline", logs_dynamic_pipeline, "pipeline from an attribute");
    v.Optional("logstash_format", logstash_format, "Logstash-style dated indices");
    v.Unsupported("cloudid", "give the endpoint's URL");
    v.Unsupported("num_workers", "concurrent requests are sending_queue.num_consumers");
    v.Unsupported("metrics_index", "metrics are not indexed");
    v.Unsupported("pipeline", "no ingest pipeline is named");
    v.Unsupported("discover", "requests go to the configured endpoints in turn");
    v.Unsupported("telemetry", "the exporter's metrics are always on (tributary_elasticsearch_*)");
    v.Unsupported("include_source_on_error", "refused documents go to the dead-letter file");
    v.Unsupported("metadata_keys", "client metadata does not travel with the data");
    v.Unsupported("compression_params", "gzip runs at its fastest level");
  }
  // The Collector's spellings into the keys here.
  void Resolve();
  absl::Status Validate() const;
};

// Writes logs and spans with the _bulk API. Each document gets a
// deterministic _id and the `create` op, so a document sent twice is
// answered 409 and counted once. The items of every response are read one
// by one: 429 and 5xx items are kept and only they are sent again on the
// retry of the batch; other refusals come back as rejected records.
class ElasticsearchExporter : public core::Exporter {
 public:
  ElasticsearchExporter(std::string id, ElasticsearchConfig config);
  ~ElasticsearchExporter() override;
  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Export(const core::Batch& batch, core::ExportReport& report) noexcept override;
  int MaxConcurrency() const override { return 8; }
  // Documents are written from the serialized request.
  bool ReadsWireForm() const override { return true; }

 private:
  using Ref = core::RecordRef;
  // Documents as one bulk body: document k is body[ends[k-1], ends[k]).
  struct Chunk {
    std::string body;
    std::vector<size_t> ends;
    std::vector<Ref> refs;
    size_t size() const { return refs.size(); }
    std::string_view Lines(size_t k) const {
      const size_t begin = k == 0 ? 0 : ends[k - 1];
      return std::string_view(body).substr(begin, ends[k] - begin);
    }
    void Add(std::string_view lines, Ref ref) {
      body.append(lines);
      ends.push_back(body.size());
      refs.push_back(ref);
    }
    void Clear() {
      body.clear();
      ends.clear();
      refs.clear();
    }
  };
  // Where the records of one Export go besides the index.
  struct Sorted {
    std::vector<Ref> retry;     // to send again
    std::vector<Ref> rejected;  // refused for good
    std::string rejected_reason;
  };
  // The outcome of sending some documents.
  struct Outcome {
    bool stop = false;  // the server is unavailable: send no more now
    std::chrono::nanoseconds retry_after{0};
    bool throttled = false;
  };

  // A request to the next endpoint in turn, compressed as configured.
  common::http::Response Send(const std::string& method, const std::string& path,
                              const std::string& body, const char* content_type);
  absl::Status InstallTemplates();
  // Sends the chunk and sorts its documents into indexed, to send again and
  // refused for good.
  Outcome SendChunk(const Chunk& chunk, Sorted& sorted);
  // A chunk too large for the server, sent as two; when the first half
  // stops, the second is kept for the retry unsent.
  Outcome SendHalves(const Chunk& chunk, Sorted& sorted);
  // The documents of a chunk by their bulk response items.
  Outcome SortItems(const Chunk& chunk, const std::vector<BulkItem>& items, Sorted& sorted);
  void RejectDocument(const Chunk& chunk, size_t k, long status, const std::string& type,
                      const std::string& reason, Sorted& sorted);
  // What writing the documents of one request keeps from record to record.
  struct Documents {
    LogView log;
    SpanView span;
    std::string index;  // of the resource `index_of` when not dated
    uint32_t index_of = UINT32_MAX;
  };
  // Appends the bulk lines (action and source) of one log record or span;
  // false when its bytes are malformed.
  bool AppendDocument(core::Signal signal, const Ref& ref, const Origin& origin,
                      std::string_view record, Documents& state, std::string* lines) const;

  const std::string id_;
  const ElasticsearchConfig config_;
  const MappingMode mode_;
  IndexOptions index_options_;
  std::atomic<size_t> next_endpoint_{0};
  common::http::Client client_;
  std::mutex templates_mu_;
  bool templates_installed_ = false;
  core::LogLimiter log_limiter_;

  ::prometheus::Counter* indexed_;
  ::prometheus::Counter* duplicates_;
  ::prometheus::Counter* retried_;
  ::prometheus::Counter* sent_bytes_;
  ::prometheus::Histogram* duration_;
};

}  // namespace tributary::exporters::elasticsearch

#endif  // TRIBUTARY_EXPORTERS_ELASTICSEARCH_ELASTICSEARCH_EXPORTER_H_
