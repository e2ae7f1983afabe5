#include "connectors/servicegraph/servicegraph_connector.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tributary/core/instance_id.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::connectors::servicegraph {

namespace {

using core::AddStringAttribute;
using opentelemetry::proto::trace::v1::Span;

const core::MetricFamily<prometheus::Counter> kEdges{
    "tributary_connector_edges_total",
    "Calls a servicegraph connector paired (or gave a virtual node) and counted"};
const core::MetricFamily<prometheus::Counter> kUnpaired{
    "tributary_connector_unpaired_spans_total",
    "Client or server spans whose partner did not come within store.ttl and that name no "
    "virtual node"};
const core::MetricFamily<prometheus::Counter> kDropped{
    "tributary_connector_dropped_spans_total",
    "Spans a servicegraph connector could not wait with because its store was full"};

constexpr const char* kMessaging = "messaging_system";
constexpr const char* kDatabase = "database";
constexpr const char* kVirtualNode = "virtual_node";

bool IsError(const common::otlp::SpanView& span) {
  return span.status_code == opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR;
}

double Seconds(const common::otlp::SpanView& span) {
  return static_cast<double>(span.duration()) / 1e9;
}

}  // namespace

absl::Status ServiceGraphConfig::Validate() const {
  if (latency_histogram_buckets.empty()) {
    return absl::InvalidArgumentError("latency_histogram_buckets must not be empty");
  }
  for (size_t i = 0; i < latency_histogram_buckets.size(); ++i) {
    if (latency_histogram_buckets[i].count() <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("latency_histogram_buckets[", i, "] must be positive"));
    }
    if (i > 0 && latency_histogram_buckets[i] <= latency_histogram_buckets[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "latency_histogram_buckets must be ascending: [", i, "] is not above [", i - 1, "]"));
    }
  }
  for (size_t i = 0; i < dimensions.size(); ++i) {
    if (dimensions[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("dimensions[", i, "] is empty"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (dimensions[j] == dimensions[i]) {
        return absl::InvalidArgumentError(
            absl::StrCat("dimensions[", i, "]: '", dimensions[i], "' is listed twice"));
      }
    }
  }
  if (store.ttl.count() <= 0) return absl::InvalidArgumentError("store.ttl must be positive");
  if (store.max_items < 1) return absl::InvalidArgumentError("store.max_items must be at least 1");
  if (store_expiration_loop.count() <= 0) {
    return absl::InvalidArgumentError("store_expiration_loop must be positive");
  }
  if (metrics_flush_interval.count() <= 0) {
    return absl::InvalidArgumentError("metrics_flush_interval must be positive");
  }
  return absl::OkStatus();
}

ServiceGraphConnector::ServiceGraphConnector(std::string id, ServiceGraphConfig config,
                                             core::Consumer* next, std::string instance_id,
                                             NowFn now)
    : id_(std::move(id)),
      config_(std::move(config)),
      next_(next),
      instance_id_(std::move(instance_id)),
      now_(now ? std::move(now) : common::aggregation::UnixNanos),
      start_(now_()),
      edges_(kEdges.Add({{"connector", id_}})),
      unpaired_client_(kUnpaired.Add({{"connector", id_}, {"side", "client"}})),
      unpaired_server_(kUnpaired.Add({{"connector", id_}, {"side", "server"}})),
      dropped_(kDropped.Add({{"connector", id_}})),
      flushes_ok_(
          common::aggregation::kConnectorFlushes.Add({{"connector", id_}, {"result", "ok"}})),
      flushes_refused_(
          common::aggregation::kConnectorFlushes.Add({{"connector", id_}, {"result", "refused"}})) {
  for (auto b : config_.latency_histogram_buckets) {
    bounds_.push_back(static_cast<double>(b.count()) / 1e9);
  }
}

absl::Status ServiceGraphConnector::Start() {
  expiry_timer_.Start(config_.store_expiration_loop, [this] { Expire(); });
  flush_timer_.Start(config_.metrics_flush_interval, [this] { (void)Flush(); });
  return absl::OkStatus();
}

void ServiceGraphConnector::Shutdown(core::Deadline) noexcept {
  expiry_timer_.Stop();
  if (!flush_timer_.Stop()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ExpireLocked(now_(), /*all=*/true);
  }
  if (absl::Status s = Flush(); !s.ok()) {
    core::Log(core::LogLevel::kWarn, id_, "last flush refused",
              absl::StrCat("error=\"", s.message(), "\""));
  }
}

size_t ServiceGraphConnector::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_.size();
}

absl::Status ServiceGraphConnector::Consume(core::Envelope envelope) noexcept {
  if (envelope.batch == nullptr || envelope.batch->empty()) return absl::OkStatus();
  // Read outside the lock, into storage this thread keeps between batches.
  thread_local common::otlp::SpansReader spans;
  thread_local std::vector<std::string> services;
  std::string serialized;
  if (!spans.Read(core::wire::SerializedRequest(*envelope.batch, &serialized))) {
    return absl::InvalidArgumentError(absl::StrCat(id_, ": the batch is not a valid request"));
  }
  services.resize(spans.blocks());
  common::otlp::AttributeScratch scratch;
  for (size_t b = 0; b < spans.blocks(); ++b) {
    services[b] = common::otlp::FindString(spans.resource(b), 1, "service.name", &scratch);
    if (services[b].empty()) services[b] = "unknown_service";
  }
  const uint64_t now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t b = 0; b < spans.blocks(); ++b) {
    for (const common::otlp::SpanView* span = spans.begin(b); span != spans.end(b); ++span) {
      FoldSpan(*span, services[b], spans.resource(b), now);
    }
  }
  return absl::OkStatus();
}

ServiceGraphConnector::Edge* ServiceGraphConnector::EdgeFor(const std::string& key, uint64_t now) {
  auto it = store_.find(key);
  if (it != store_.end()) return &it->second;
  if (store_.size() >= static_cast<size_t>(config_.store.max_items)) return nullptr;
  Edge& edge = store_[key];
  edge.expires = now + static_cast<uint64_t>(std::chrono::nanoseconds(config_.store.ttl).count());
  return &edge;
}

std::string_view ServiceGraphConnector::FirstOf(const std::vector<std::string>& names,
                                                const common::otlp::SpanView& span,
                                                const std::string_view* resource,
                                                common::otlp::AttributeScratch* scratch) {
  for (const std::string& name : names) {
    std::string_view v = common::otlp::FindString(span.bytes, 9, name, scratch);
    if (v.empty() && resource != nullptr) v = common::otlp::FindString(*resource, 1, name, scratch);
    if (!v.empty()) return v;
  }
  return {};
}

void ServiceGraphConnector::AddDimensions(const char* side, const common::otlp::SpanView& span,
                                          std::string_view resource, Edge* edge) {
  for (const std::string& d : config_.dimensions) {
    std::string_view v = common::otlp::FindString(span.bytes, 9, d, &scratch_);
    if (v.empty()) v = common::otlp::FindString(resource, 1, d, &scratch_);
    if (!v.empty()) edge->dimensions.emplace_back(absl::StrCat(side, "_", d), std::string(v));
  }
}

void ServiceGraphConnector::FoldSpan(const common::otlp::SpanView& span, const std::string& service,
                                     std::string_view resource, uint64_t now) {
  const int kind = span.kind;
  const bool client = kind == Span::SPAN_KIND_CLIENT || kind == Span::SPAN_KIND_PRODUCER;
  const bool server = kind == Span::SPAN_KIND_SERVER || kind == Span::SPAN_KIND_CONSUMER;
  if (!client && !server) return;
  const bool messaging = kind == Span::SPAN_KIND_PRODUCER || kind == Span::SPAN_KIND_CONSUMER;
  const bool root = server && span.parent_span_id.empty();
  const std::string_view db =
      client ? FirstOf(config_.database_name_attributes, span, &resource, &db_scratch_)
             : std::string_view();
  // The call's key: the client span's id, which is the server span's parent.
  key_.assign(span.trace_id);
  key_.append(client ? span.span_id : span.parent_span_id);
  // A request from outside tracing (no client span can be its parent) and a
  // database call (no server span answers it) are complete at once.
  const bool at_once = root || (!db.empty() && !store_.contains(key_));
  Edge local;
  Edge* edge = at_once ? &local : EdgeFor(key_, now);
  if (edge == nullptr) {
    dropped_.Increment();
    return;
  }
  if (messaging) edge->connection_type = kMessaging;
  edge->failed = edge->failed || IsError(span);
  if (client) {
    edge->has_client = true;
    edge->client = service;
    edge->client_seconds = Seconds(span);
    edge->peer =
        std::string(FirstOf(config_.virtual_node_peer_attributes, span, nullptr, &scratch_));
    AddDimensions("client", span, resource, edge);
    if (!db.empty()) {
      edge->connection_type = kDatabase;
      edge->has_server = true;
      edge->server = std::string(db);
      edge->server_seconds = edge->client_seconds;
    }
  } else {
    edge->has_server = true;
    edge->server = service;
    edge->server_seconds = Seconds(span);
    AddDimensions("server", span, resource, edge);
    if (root) {
      edge->has_client = true;
      edge->client = "user";
      edge->client_seconds = edge->server_seconds;
      edge->connection_type = kVirtualNode;
    }
  }
  if (edge->has_client && edge->has_server) {
    CompleteLocked(*edge);
    if (!at_once) store_.erase(key_);
  }
}

void ServiceGraphConnector::CompleteLocked(const Edge& edge) {
  std::string key = absl::StrCat(edge.client, "\x1f", edge.server, "\x1f", edge.connection_type);
  for (const auto& [k, v] : edge.dimensions) absl::StrAppend(&key, "\x1f", k, "=", v);
  auto [it, inserted] = series_.try_emplace(key);
  Series& s = it->second;
  if (inserted) {
    s.server = common::aggregation::ExplicitHistogram(bounds_.size());
    s.client = common::aggregation::ExplicitHistogram(bounds_.size());
    AddStringAttribute(&s.attributes, "client", edge.client);
    AddStringAttribute(&s.attributes, "server", edge.server);
    AddStringAttribute(&s.attributes, "connection_type", edge.connection_type);
    AddStringAttribute(&s.attributes, "collector.instance.id", instance_id_);
    if (config_.virtual_node_extra_label && edge.connection_type == kVirtualNode) {
      AddStringAttribute(&s.attributes, "virtual_node",
                         edge.has_client && edge.client != "user" ? "server" : "client");
    }
    for (const auto& [k, v] : edge.dimensions) AddStringAttribute(&s.attributes, k, v);
  }
  ++s.requests;
  if (edge.failed) ++s.failed;
  s.server.Observe(bounds_, edge.server_seconds);
  s.client.Observe(bounds_, edge.client_seconds);
  edges_.Increment();
}

void ServiceGraphConnector::Expire() {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now_(), /*all=*/false);
}

void ServiceGraphConnector::ExpireLocked(uint64_t now, bool all) {
  // The store holds at most store.max_items: a walk through it every
  // store_expiration_loop costs less than keeping the spans in expiry order.
  for (auto it = store_.begin(); it != store_.end();) {
    Edge& e = it->second;
    if (!all && e.expires > now) {
      ++it;
      continue;
    }
    if (e.has_client && !e.peer.empty()) {
      // A call nothing answered, to a service or database outside tracing.
      e.server = e.peer;
      e.server_seconds = e.client_seconds;
      e.connection_type = kVirtualNode;
      CompleteLocked(e);
    } else if (e.has_client) {
      unpaired_client_.Increment();
    } else {
      unpaired_server_.Increment();
    }
    store_.erase(it++);
  }
}

absl::Status ServiceGraphConnector::Flush() {
  core::MetricsRequest request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (series_.empty()) return absl::OkStatus();
    const uint64_t now = now_();
    auto* scope = request.add_resource_metrics()->add_scope_metrics();
    scope->mutable_scope()->set_name("traces_service_graph");
    auto sum = [&](const char* name) {
      auto* m = scope->add_metrics();
      m->set_name(name);
      m->mutable_sum()->set_is_monotonic(true);
      m->mutable_sum()->set_aggregation_temporality(
          opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
      return m->mutable_sum();
    };
    auto histogram = [&](const char* name) {
      auto* m = scope->add_metrics();
      m->set_name(name);
      m->set_unit("s");
      m->mutable_histogram()->set_aggregation_temporality(
          opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
      return m->mutable_histogram();
    };
    auto* requests = sum("traces_service_graph_request_total");
    auto* failed = sum("traces_service_graph_request_failed_total");
    auto* server = histogram("traces_service_graph_request_server_seconds");
    auto* client = histogram("traces_service_graph_request_client_seconds");
    for (const auto& entry : series_) {
      const Series& s = entry.second;
      auto count = [&](auto* into, uint64_t value) {
        auto* p = into->add_data_points();
        *p->mutable_attributes() = s.attributes;
        p->set_start_time_unix_nano(start_);
        p->set_time_unix_nano(now);
        p->set_as_int(static_cast<int64_t>(value));
      };
      count(requests, s.requests);
      count(failed, s.failed);
      for (auto [into, h] : {std::pair{server, &s.server}, std::pair{client, &s.client}}) {
        auto* p = into->add_data_points();
        *p->mutable_attributes() = s.attributes;
        p->set_start_time_unix_nano(start_);
        p->set_time_unix_nano(now);
        h->Fill(bounds_, p);
      }
    }
  }
  // Cumulative: a refused flush is superseded by the next one.
  absl::Status s =
      next_->Consume(core::Envelope{std::make_shared<const core::Batch>(std::move(request)), {}});
  (s.ok() ? flushes_ok_ : flushes_refused_).Increment();
  return s;
}

}  // namespace tributary::connectors::servicegraph

namespace tributary {

void RegisterConnectorServicegraph(core::Registry& registry) {
  using connectors::servicegraph::ServiceGraphConfig;
  using core::Signal;
  auto factory = core::MakeFactory<core::Connector, ServiceGraphConfig, Signal,
                                   const core::ReceiverConsumers&>(
      "servicegraph", {Signal::kTraces},
      "The graph of which service calls which, from client and server spans paired by trace, as "
      "the OpenTelemetry Collector's servicegraph connector makes it.",
      [](const core::CreateContext& ctx, const ServiceGraphConfig& config, Signal,
         const core::ReceiverConsumers& outputs)
          -> absl::StatusOr<std::unique_ptr<core::Connector>> {
        return std::make_unique<connectors::servicegraph::ServiceGraphConnector>(
            ctx.id.ToString(), config, outputs.metrics, core::ProcessInstanceId());
      });
  factory.outputs = {{Signal::kTraces, {Signal::kMetrics}}};
  registry.Add(std::move(factory));
}

}  // namespace tributary
