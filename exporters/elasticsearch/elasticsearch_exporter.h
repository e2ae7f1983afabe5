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

struct ElasticsearchConfig {
  std::vector<std::string> endpoints{"http://localhost:9200"};
  std::string mapping = "ecs";
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
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("endpoints", endpoints,
               "Elasticsearch or OpenSearch URLs; bulk requests go to them in turn");
    v.Optional("mapping", mapping, "document shape: ecs (Elastic Common Schema) or otel");
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
  }
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
