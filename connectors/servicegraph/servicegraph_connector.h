#ifndef TRIBUTARY_CONNECTORS_SERVICEGRAPH_SERVICEGRAPH_CONNECTOR_H_
#define TRIBUTARY_CONNECTORS_SERVICEGRAPH_SERVICEGRAPH_CONNECTOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/aggregation/aggregation.h"
#include "common/otlp/span_view.h"
#include "tributary/core/component.h"
#include "tributary/core/telemetry.h"

namespace tributary::connectors::servicegraph {

struct StoreConfig {
  std::chrono::milliseconds ttl{2000};
  int64_t max_items = 1000;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("ttl", ttl, "how long a span waits for its partner before it is unpaired");
    v.Optional("max_items", max_items,
               "spans waiting for their partner at once; a span beyond it is dropped and counted");
  }
};

// `connectors.servicegraph`, keyed as the OpenTelemetry Collector's
// servicegraph connector.
struct ServiceGraphConfig {
  std::vector<std::chrono::nanoseconds> latency_histogram_buckets{
      std::chrono::milliseconds(2),   std::chrono::milliseconds(4),
      std::chrono::milliseconds(6),   std::chrono::milliseconds(8),
      std::chrono::milliseconds(10),  std::chrono::milliseconds(50),
      std::chrono::milliseconds(100), std::chrono::milliseconds(200),
      std::chrono::milliseconds(400), std::chrono::milliseconds(800),
      std::chrono::seconds(1),        std::chrono::milliseconds(1400),
      std::chrono::seconds(2),        std::chrono::seconds(5),
      std::chrono::seconds(10),       std::chrono::seconds(15)};
  std::vector<std::string> dimensions;
  StoreConfig store;
  std::chrono::milliseconds store_expiration_loop{2000};
  std::chrono::milliseconds metrics_flush_interval{15000};
  std::vector<std::string> virtual_node_peer_attributes{"peer.service", "db.name", "db.system"};
  bool virtual_node_extra_label = false;
  std::vector<std::string> database_name_attributes{"db.name"};

  template <class V>
  void VisitFields(V&& v) {
    v.Optional("latency_histogram_buckets", latency_histogram_buckets,
               "upper bounds of the request duration histograms' buckets, ascending");
    v.Optional("dimensions", dimensions,
               "span (or resource) attributes added to each edge as client_<name> and "
               "server_<name>, from the client and the server span");
    v.Optional("store", store, "spans waiting for their partner");
    v.Optional("store_expiration_loop", store_expiration_loop,
               "how often spans that waited longer than store.ttl are settled");
    v.Optional("metrics_flush_interval", metrics_flush_interval,
               "how often the metrics are emitted");
    v.Optional("virtual_node_peer_attributes", virtual_node_peer_attributes,
               "client span attributes that name the server of a call no server span answered "
               "(a database, an external service), the first one present winning");
    v.Optional("virtual_node_extra_label", virtual_node_extra_label,
               "label edges to or from a virtual node with virtual_node=client|server");
    v.Optional("database_name_attributes", database_name_attributes,
               "client span attributes that make it a database call, complete at once, with the "
               "database as the server");
  }
  absl::Status Validate() const;
};

// Builds the graph of which service calls which, as the OpenTelemetry
// Collector's servicegraph connector does: a CLIENT span is paired with the
// SERVER span whose parent it is (PRODUCER with CONSUMER, a
// `messaging_system` edge), within store.ttl. A client span with a database
// name attribute is a `database` edge at once. A client span left unpaired
// becomes an edge to a virtual node named by its first
// virtual_node_peer_attributes (an external service, or the database of
// db.system); a server span without parent one from the virtual client
// `user`. Every edge counts in traces_service_graph_request_total,
// _failed_total (either side failed) and the _server_seconds and
// _client_seconds histograms, labelled client, server, connection_type and
// collector.instance.id. What cannot be paired is counted.
//
// Spans are folded when the connector takes them; what a crash loses is the
// edges counted since the last flush and the spans waiting for partners.
class ServiceGraphConnector : public core::Connector {
 public:
  using NowFn = std::function<uint64_t()>;  // Unix nanoseconds

  ServiceGraphConnector(std::string id, ServiceGraphConfig config, core::Consumer* next,
                        std::string instance_id, NowFn now = nullptr);

  absl::Status Start() override;
  // Settles every waiting span (as if its wait had run out) and emits.
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Consume(core::Envelope envelope) noexcept override;

  // Settles the spans whose wait ran out.
  void Expire();
  // Emits the metrics now.
  absl::Status Flush();
  size_t waiting() const;

 private:
  struct Edge {
    std::string client, server;
    std::string connection_type;
    std::string peer;  // the client span's virtual node name, if any
    double client_seconds = 0, server_seconds = 0;
    bool has_client = false, has_server = false;
    bool failed = false;
    std::vector<std::pair<std::string, std::string>> dimensions;
    uint64_t expires = 0;
  };
  struct Series {
    core::Attributes attributes;
    uint64_t requests = 0, failed = 0;
    common::aggregation::ExplicitHistogram server, client;
  };

  // `resource` is the span's serialized Resource.
  void FoldSpan(const common::otlp::SpanView& span, const std::string& service,
                std::string_view resource, uint64_t now);
  // Where the edge of `key` is kept; null when the store is full.
  Edge* EdgeFor(const std::string& key, uint64_t now);
  void AddDimensions(const char* side, const common::otlp::SpanView& span,
                     std::string_view resource, Edge* edge);
  // The value of the first of `names` the span (then `resource`, unless
  // null) has, pointing into the span, the resource or `scratch`.
  static std::string_view FirstOf(const std::vector<std::string>& names,
                                  const common::otlp::SpanView& span,
                                  const std::string_view* resource,
                                  common::otlp::AttributeScratch* scratch);
  void CompleteLocked(const Edge& edge);
  void ExpireLocked(uint64_t now, bool all);

  const std::string id_;
  const ServiceGraphConfig config_;
  core::Consumer* const next_;
  const std::string instance_id_;
  const NowFn now_;
  std::vector<double> bounds_;  // seconds
  const uint64_t start_;

  prometheus::Counter& edges_;
  prometheus::Counter& unpaired_client_;
  prometheus::Counter& unpaired_server_;
  prometheus::Counter& dropped_;
  prometheus::Counter& flushes_ok_;
  prometheus::Counter& flushes_refused_;

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Edge> store_;
  absl::flat_hash_map<std::string, Series> series_;
  std::string key_;
  common::otlp::AttributeScratch db_scratch_, scratch_;  // for the span being folded

  common::aggregation::PeriodicTask flush_timer_;
  common::aggregation::PeriodicTask expiry_timer_;
};

}  // namespace tributary::connectors::servicegraph

#endif  // TRIBUTARY_CONNECTORS_SERVICEGRAPH_SERVICEGRAPH_CONNECTOR_H_
