#include "connectors/spanmetrics/spanmetrics_connector.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tributary/core/instance_id.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::connectors::spanmetrics {

namespace {

using common::aggregation::AppendValueKey;
using common::aggregation::FindAttribute;
using core::AddStringAttribute;
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::common::v1::KeyValueList;
using opentelemetry::proto::metrics::v1::AggregationTemporality;
using opentelemetry::proto::resource::v1::Resource;

constexpr size_t kMaxUnsent = 16;  // flushes
constexpr size_t kFlushSeries = 1000;
constexpr size_t kMaxKnownResources = 4096;
constexpr const char* kUnknownService = "unknown_service";

const core::MetricFamily<prometheus::Gauge> kSeries{"tributary_connector_series",
                                                    "Series a connector aggregates into"};
const core::MetricFamily<prometheus::Counter> kOverflowSpans{
    "tributary_connector_overflow_spans_total",
    "Spans counted in an overflow series because the connector's series were at their limit"};
const core::MetricFamily<prometheus::Counter> kUnsentPoints{
    "tributary_connector_unsent_points_total",
    "Delta points a connector gave up on after the next pipeline refused them repeatedly"};

std::string_view SpanKindName(int kind) {
  static constexpr std::string_view kNames[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                                "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                                "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
  return kind >= 0 && kind < 6 ? kNames[kind] : kNames[0];
}

std::string_view StatusCodeName(int code) {
  static constexpr std::string_view kNames[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK",
                                                "STATUS_CODE_ERROR"};
  return code >= 0 && code < 3 ? kNames[code] : kNames[0];
}

}  // namespace

absl::Status SpanMetricsConfig::Validate() const {
  if (histogram.unit != "ms" && histogram.unit != "s") {
    return absl::InvalidArgumentError("histogram.unit must be ms or s");
  }
  const auto& buckets = histogram.explicit_buckets.buckets;
  if (buckets.empty()) {
    return absl::InvalidArgumentError("histogram.explicit.buckets must not be empty");
  }
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i].count() <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram.explicit.buckets[", i, "] must be positive"));
    }
    if (i > 0 && buckets[i] <= buckets[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram.explicit.buckets must be ascending: [", i, "] is not above [", i - 1, "]"));
    }
  }
  static constexpr const char* kBuiltIn[] = {kServiceName, kSpanName, kSpanKind, kStatusCode,
                                             kInstanceId};
  auto built_in = [](const std::string& name) {
    return std::find_if(std::begin(kBuiltIn), std::end(kBuiltIn),
                        [&](const char* b) { return name == b; }) != std::end(kBuiltIn);
  };
  for (size_t i = 0; i < dimensions.size(); ++i) {
    if (built_in(dimensions[i].name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("dimensions[", i, "]: '", dimensions[i].name, "' is a built-in dimension"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (dimensions[j].name == dimensions[i].name) {
        return absl::InvalidArgumentError(
            absl::StrCat("dimensions[", i, "]: '", dimensions[i].name, "' is listed twice"));
      }
    }
  }
  for (size_t i = 0; i < exclude_dimensions.size(); ++i) {
    if (!built_in(exclude_dimensions[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("exclude_dimensions[", i, "]: '", exclude_dimensions[i],
                       "' is not one of service.name, span.name, span.kind, status.code, "
                       "collector.instance.id"));
    }
  }
  if (aggregation_temporality != "AGGREGATION_TEMPORALITY_CUMULATIVE" &&
      aggregation_temporality != "AGGREGATION_TEMPORALITY_DELTA") {
    return absl::InvalidArgumentError(
        "aggregation_temporality must be AGGREGATION_TEMPORALITY_CUMULATIVE or "
        "AGGREGATION_TEMPORALITY_DELTA");
  }
  if (metrics_flush_interval.count() <= 0) {
    return absl::InvalidArgumentError("metrics_flush_interval must be positive");
  }
  if (metrics_expiration.count() < 0) {
    return absl::InvalidArgumentError("metrics_expiration must not be negative");
  }
  if (aggregation_cardinality_limit < 0) {
    return absl::InvalidArgumentError("aggregation_cardinality_limit must not be negative");
  }
  if (exemplars.max_per_data_point < 1) {
    return absl::InvalidArgumentError("exemplars.max_per_data_point must be at least 1");
  }
  return absl::OkStatus();
}

SpanMetricsConnector::SpanMetricsConnector(std::string id, SpanMetricsConfig config,
                                           core::Consumer* next, std::string instance_id, NowFn now)
    : id_(std::move(id)),
      config_(std::move(config)),
      next_(next),
      instance_id_(std::move(instance_id)),
      now_(now ? std::move(now) : common::aggregation::UnixNanos),
      divider_(config_.histogram.unit == "s" ? 1e9 : 1e6),
      series_gauge_(kSeries.Add({{"connector", id_}})),
      overflow_spans_(kOverflowSpans.Add({{"connector", id_}})),
      flushes_ok_(
          common::aggregation::kConnectorFlushes.Add({{"connector", id_}, {"result", "ok"}})),
      flushes_refused_(
          common::aggregation::kConnectorFlushes.Add({{"connector", id_}, {"result", "refused"}})),
      dropped_points_(kUnsentPoints.Add({{"connector", id_}})) {
  for (auto b : config_.histogram.explicit_buckets.buckets) {
    bounds_.push_back(static_cast<double>(b.count()) / divider_);
  }
  const char* built_in[] = {kServiceName, kSpanName, kSpanKind, kStatusCode, kInstanceId};
  for (int i = 0; i < 5; ++i) {
    keep_[i] = std::find(config_.exclude_dimensions.begin(), config_.exclude_dimensions.end(),
                         built_in[i]) == config_.exclude_dimensions.end();
  }
  key_.reserve(256);
  for (const Dimension& d : config_.dimensions) dimension_names_.push_back(d.name);
  dimension_values_ = std::make_unique<core::wire::MessageField[]>(dimension_names_.size());
}

absl::Status SpanMetricsConnector::Start() {
  timer_.Start(config_.metrics_flush_interval, [this] { (void)Flush(); });
  return absl::OkStatus();
}

void SpanMetricsConnector::Shutdown(core::Deadline) noexcept {
  if (!timer_.Stop()) return;
  if (absl::Status s = Flush(); !s.ok()) {
    core::Log(core::LogLevel::kWarn, id_, "last flush refused",
              absl::StrCat("error=\"", s.message(), "\""));
  }
}

size_t SpanMetricsConnector::series() const {
  std::lock_guard<std::mutex> lock(mu_);
  return series_count_;
}

absl::Status SpanMetricsConnector::Consume(core::Envelope envelope) noexcept {
  if (envelope.batch == nullptr || envelope.batch->empty()) return absl::OkStatus();
  // Read outside the lock, into storage this thread keeps between batches.
  thread_local common::otlp::SpansReader spans;
  std::string serialized;
  if (!spans.Read(core::wire::SerializedRequest(*envelope.batch, &serialized))) {
    return absl::InvalidArgumentError(absl::StrCat(id_, ": the batch is not a valid request"));
  }
  thread_local std::vector<KnownResource*> resources;
  const uint64_t now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  if (known_resources_.size() >= kMaxKnownResources) known_resources_.clear();
  resources.clear();
  for (size_t b = 0; b < spans.blocks(); ++b) {
    KnownResource* known = ResourceOf(spans.resource(b));
    if (known == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(id_, ": a resource is not valid"));
    }
    resources.push_back(known);
  }
  for (size_t b = 0; b < spans.blocks(); ++b)
    Fold(*resources[b], spans.begin(b), spans.end(b), now);
  return absl::OkStatus();
}

SpanMetricsConnector::KnownResource* SpanMetricsConnector::ResourceOf(std::string_view bytes) {
  auto it = known_resources_.find(absl::string_view(bytes.data(), bytes.size()));
  if (it != known_resources_.end()) return it->second.get();
  auto known = std::make_unique<KnownResource>();
  if (!known->resource.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return nullptr;
  }
  const AnyValue* name = FindAttribute(known->resource.attributes(), kServiceName);
  known->service = name != nullptr && name->value_case() == AnyValue::kStringValue &&
                           !name->string_value().empty()
                       ? name->string_value()
                       : kUnknownService;
  known->state = &ResourceFor(known->resource);
  KnownResource* ref = known.get();
  known_resources_.emplace(std::string(bytes), std::move(known));
  return ref;
}

SpanMetricsConnector::ResourceState& SpanMetricsConnector::ResourceFor(const Resource& resource) {
  // The resource's identity: its key attributes, or all of them in key order.
  key_.clear();
  if (!config_.resource_metrics_key_attributes.empty()) {
    for (const std::string& name : config_.resource_metrics_key_attributes) {
      const AnyValue* v = FindAttribute(resource.attributes(), name);
      if (v == nullptr) {
        key_.push_back('\x01');
        continue;
      }
      AppendValueKey(&key_, *v);
    }
  } else {
    static const std::vector<std::string> kNone;
    common::aggregation::AppendAttributesKey(&key_, resource.attributes(), kNone, &sorted_);
  }
  auto it = resources_.find(key_);
  if (it != resources_.end()) return *it->second;
  auto state = std::make_unique<ResourceState>();
  if (config_.resource_metrics_key_attributes.empty()) {
    *state->resource.mutable_attributes() = resource.attributes();
  } else {
    for (const std::string& name : config_.resource_metrics_key_attributes) {
      for (const KeyValue& kv : resource.attributes()) {
        if (kv.key() == name) *state->resource.add_attributes() = kv;
      }
    }
  }
  ResourceState& ref = *state;
  resources_.emplace(key_, std::move(state));
  return ref;
}

std::unique_ptr<SpanMetricsConnector::Series> SpanMetricsConnector::NewSeries(uint64_t now) const {
  auto s = std::make_unique<Series>();
  s->start = now;
  if (!config_.histogram.disable)
    s->duration = common::aggregation::ExplicitHistogram(bounds_.size());
  if (config_.exemplars.enabled) {
    s->exemplars.reserve(static_cast<size_t>(config_.exemplars.max_per_data_point));
  }
  return s;
}

const AnyValue* SpanMetricsConnector::DimensionValue(const std::string& name,
                                                     const common::otlp::SpanView& span,
                                                     const Resource& resource) {
  if (common::otlp::FindAttribute(span.bytes, 9, name, &dimension_bytes_)) {
    const std::string_view v = dimension_bytes_.bytes();
    if (dimension_value_.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      return &dimension_value_;
    }
  }
  return FindAttribute(resource.attributes(), name);
}

SpanMetricsConnector::Series& SpanMetricsConnector::SeriesFor(ResourceState& state,
                                                              const std::string& service,
                                                              const common::otlp::SpanView& span,
                                                              const Resource& resource,
                                                              uint64_t now) {
  key_.clear();
  if (keep_[0]) key_.append(service).push_back('\0');
  if (keep_[1]) key_.append(span.name).push_back('\0');
  if (keep_[2]) key_.push_back(static_cast<char>('A' + (span.kind & 0x3f)));
  if (keep_[3]) key_.push_back(static_cast<char>('A' + (span.status_code & 0x3f)));
  // From the span's bytes without building the values, else the resource's.
  common::otlp::FindAttributes(span.bytes, 9, dimension_names_.data(), dimension_names_.size(),
                               dimension_values_.get());
  for (size_t i = 0; i < config_.dimensions.size(); ++i) {
    const Dimension& d = config_.dimensions[i];
    if (dimension_values_[i].present() && AppendValueKey(&key_, dimension_values_[i].bytes())) {
      continue;
    }
    if (const AnyValue* v = FindAttribute(resource.attributes(), d.name); v != nullptr) {
      AppendValueKey(&key_, *v);
    } else if (d.default_value) {
      key_.push_back('s');
      key_.append(*d.default_value).push_back('\0');
    } else {
      key_.push_back('\x01');
    }
  }
  auto it = state.series.find(key_);
  if (it != state.series.end()) return *it->second;

  const int64_t limit = config_.aggregation_cardinality_limit;
  if (limit > 0 && series_count_ >= static_cast<size_t>(limit)) {
    // One series for everything over the limit, whatever its attributes.
    overflow_spans_.Increment();
    static const std::string kOverflowKey("\x02overflow", 9);
    auto& overflow = state.series[kOverflowKey];
    if (!overflow) {
      overflow = NewSeries(now);
      KeyValueList attributes;
      KeyValue* kv = attributes.add_values();
      kv->set_key("otel_metric_overflow");
      kv->mutable_value()->set_bool_value(true);
      overflow->attributes = attributes.SerializeAsString();
      ++series_count_;
    }
    return *overflow;
  }
  std::unique_ptr<Series> s = NewSeries(now);
  KeyValueList list;
  core::Attributes* attributes = list.mutable_values();
  if (keep_[0]) AddStringAttribute(attributes, kServiceName, service);
  if (keep_[1]) AddStringAttribute(attributes, kSpanName, span.name);
  if (keep_[2]) AddStringAttribute(attributes, kSpanKind, SpanKindName(span.kind));
  if (keep_[3]) AddStringAttribute(attributes, kStatusCode, StatusCodeName(span.status_code));
  if (keep_[4]) AddStringAttribute(attributes, kInstanceId, instance_id_);
  for (const Dimension& d : config_.dimensions) {
    if (const AnyValue* v = DimensionValue(d.name, span, resource); v != nullptr) {
      KeyValue* kv = attributes->Add();
      kv->set_key(d.name);
      *kv->mutable_value() = *v;
    } else if (d.default_value) {
      AddStringAttribute(attributes, d.name.c_str(), *d.default_value);
    }
  }
  s->attributes = list.SerializeAsString();
  ++series_count_;
  Series& ref = *s;
  state.series.emplace(key_, std::move(s));
  return ref;
}

void SpanMetricsConnector::Fold(const KnownResource& known, const common::otlp::SpanView* begin,
                                const common::otlp::SpanView* end, uint64_t now) {
  ResourceState& state = *known.state;
  const Resource& resource = known.resource;
  const std::string& service = known.service;
  const bool histogram = !config_.histogram.disable;
  const bool exemplars = histogram && config_.exemplars.enabled;
  const size_t max_exemplars = static_cast<size_t>(config_.exemplars.max_per_data_point);
  for (const common::otlp::SpanView* span_at = begin; span_at != end; ++span_at) {
    const common::otlp::SpanView& span = *span_at;
    Series& s = SeriesFor(state, service, span, resource, now);
    ++s.calls;
    s.touched = true;
    s.last_span = now;
    if (!histogram) continue;
    // A span that ends before it starts counts with duration 0.
    const double value = static_cast<double>(span.duration()) / divider_;
    s.duration.Observe(bounds_, value);
    if (exemplars && span.trace_id.size() == 16 && span.span_id.size() == 8) {
      Exemplar* e;
      if (s.exemplars.size() < max_exemplars) {
        e = &s.exemplars.emplace_back();
      } else {
        e = &s.exemplars[s.next_exemplar];
        s.next_exemplar = (s.next_exemplar + 1) % max_exemplars;
      }
      memcpy(e->trace_id, span.trace_id.data(), 16);
      memcpy(e->span_id, span.span_id.data(), 8);
      e->value = value;
      e->time = span.end;
    }
  }
}

SpanMetricsConnector::FlushBatches SpanMetricsConnector::BuildLocked(uint64_t now) {
  using opentelemetry::proto::metrics::v1::Metric;
  const bool delta = config_.delta();
  const AggregationTemporality temporality =
      delta ? opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_DELTA
            : opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE;
  const uint64_t expiration = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(config_.metrics_expiration).count());
  FlushBatches out;
  google::protobuf::Arena arena;
  core::MetricsRequest* request = nullptr;
  size_t series_in_request = 0;
  Metric* calls = nullptr;
  Metric* duration = nullptr;
  auto finish = [&] {
    if (request != nullptr && request->resource_metrics_size() > 0) {
      const size_t points = core::CountRecords(*request);
      out.push_back(std::make_shared<const core::Batch>(core::Signal::kMetrics,
                                                        request->SerializeAsString(), points));
    }
    request = nullptr;
    series_in_request = 0;
    calls = duration = nullptr;
    arena.Reset();
  };
  for (auto r = resources_.begin(); r != resources_.end();) {
    ResourceState& state = *r->second;
    calls = duration = nullptr;
    for (auto it = state.series.begin(); it != state.series.end();) {
      Series& s = *it->second;
      if (expiration > 0 && now - s.last_span > expiration) {
        state.series.erase(it++);
        --series_count_;
        continue;
      }
      if (delta && !s.touched) {
        ++it;
        continue;
      }
      if (series_in_request == kFlushSeries) finish();
      if (request == nullptr) {
        request = google::protobuf::Arena::CreateMessage<core::MetricsRequest>(&arena);
      }
      if (calls == nullptr) {
        auto* rm = request->add_resource_metrics();
        *rm->mutable_resource() = state.resource;
        auto* sm = rm->add_scope_metrics();
        sm->mutable_scope()->set_name("spanmetricsconnector");
        calls = sm->add_metrics();
        calls->set_name(config_.metrics_namespace.empty()
                            ? std::string("calls")
                            : absl::StrCat(config_.metrics_namespace, ".calls"));
        calls->mutable_sum()->set_is_monotonic(true);
        calls->mutable_sum()->set_aggregation_temporality(temporality);
        if (!config_.histogram.disable) {
          duration = sm->add_metrics();
          duration->set_name(config_.metrics_namespace.empty()
                                 ? std::string("duration")
                                 : absl::StrCat(config_.metrics_namespace, ".duration"));
          duration->set_unit(config_.histogram.unit);
          duration->mutable_histogram()->set_aggregation_temporality(temporality);
        }
      }
      auto* attributes = google::protobuf::Arena::CreateMessage<KeyValueList>(&arena);
      if (!attributes->ParseFromString(s.attributes)) attributes->Clear();
      auto* point = calls->mutable_sum()->add_data_points();
      point->mutable_attributes()->Swap(attributes->mutable_values());
      point->set_start_time_unix_nano(s.start);
      point->set_time_unix_nano(now);
      point->set_as_int(static_cast<int64_t>(s.calls));
      if (duration != nullptr) {
        auto* h = duration->mutable_histogram()->add_data_points();
        *h->mutable_attributes() = point->attributes();
        h->set_start_time_unix_nano(s.start);
        h->set_time_unix_nano(now);
        s.duration.Fill(bounds_, h);
        for (const Exemplar& e : s.exemplars) {
          auto* x = h->add_exemplars();
          x->set_trace_id(e.trace_id, 16);
          x->set_span_id(e.span_id, 8);
          x->set_as_double(e.value);
          x->set_time_unix_nano(e.time);
        }
      }
      ++series_in_request;
      s.exemplars.clear();
      s.next_exemplar = 0;
      s.touched = false;
      if (delta) {
        s.start = now;
        s.calls = 0;
        s.duration.Reset();
      }
      ++it;
    }
    if (state.series.empty()) {
      resources_.erase(r++);
      known_resources_.clear();
    } else {
      ++r;
    }
  }
  finish();
  series_gauge_.Set(static_cast<double>(series_count_));
  return out;
}

absl::Status SpanMetricsConnector::Flush() {
  std::deque<FlushBatches> to_send;
  {
    std::lock_guard<std::mutex> lock(mu_);
    to_send.swap(unsent_);
    if (FlushBatches built = BuildLocked(now_()); !built.empty()) {
      to_send.push_back(std::move(built));
    }
  }
  if (to_send.empty()) return absl::OkStatus();
  absl::Status result;
  while (!to_send.empty() && result.ok()) {
    FlushBatches& flush = to_send.front();
    while (!flush.empty()) {
      result = next_->Consume(core::Envelope{flush.front(), {}});
      if (!result.ok()) break;
      flush.pop_front();
    }
    if (flush.empty()) to_send.pop_front();
  }
  if (result.ok()) {
    flushes_ok_.Increment();
    return result;
  }
  flushes_refused_.Increment();
  // Cumulative totals go again with the next flush; deltas are kept for it,
  // those of at most kMaxUnsent flushes.
  if (config_.delta()) {
    std::lock_guard<std::mutex> lock(mu_);
    while (to_send.size() > kMaxUnsent) {
      for (const auto& b : to_send.front()) {
        dropped_points_.Increment(static_cast<double>(b->record_count()));
      }
      to_send.pop_front();
    }
    unsent_ = std::move(to_send);
  }
  return result;
}

}  // namespace tributary::connectors::spanmetrics

namespace tributary {

void RegisterConnectorSpanmetrics(core::Registry& registry) {
  using connectors::spanmetrics::SpanMetricsConfig;
  using core::Signal;
  auto factory = core::MakeFactory<core::Connector, SpanMetricsConfig, Signal,
                                   const core::ReceiverConsumers&>(
      "spanmetrics", {Signal::kTraces},
      "Request, error and duration (RED) metrics from spans, per service, span name, kind, "
      "status and dimensions, as the OpenTelemetry Collector's spanmetrics connector makes them.",
      [](const core::CreateContext& ctx, const SpanMetricsConfig& config, Signal,
         const core::ReceiverConsumers& outputs)
          -> absl::StatusOr<std::unique_ptr<core::Connector>> {
        return std::make_unique<connectors::spanmetrics::SpanMetricsConnector>(
            ctx.id.ToString(), config, outputs.metrics, core::ProcessInstanceId());
      });
  factory.outputs = {{Signal::kTraces, {Signal::kMetrics}}};
  registry.Add(std::move(factory));
}

}  // namespace tributary
