#ifndef TRIBUTARY_CONNECTORS_SPANMETRICS_SPANMETRICS_CONNECTOR_H_
#define TRIBUTARY_CONNECTORS_SPANMETRICS_SPANMETRICS_CONNECTOR_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/aggregation/aggregation.h"
#include "common/otlp/span_view.h"
#include "connectors/spanmetrics/spanmetrics_config.h"
#include "tributary/core/component.h"
#include "tributary/core/telemetry.h"

namespace tributary::connectors::spanmetrics {

// Turns spans into request, error and duration (RED) metrics, as the
// OpenTelemetry Collector's spanmetrics connector does: per resource, and
// per service, span name, kind, status and configured dimensions, a count of
// calls (`<namespace>.calls`, a monotonic sum) and a histogram of durations
// (`<namespace>.duration`), emitted every metrics_flush_interval.
//
// A span is folded into its series when Consume returns, and the upstream
// acknowledgements go then: what a crash loses is what was folded since the
// last flush (cumulative series start again from 0, which Prometheus reads
// as a reset). Spans are read from the request's wire form, outside the
// lock; the fold allocates nothing for a series it has seen: the key is
// built in a buffer kept between spans and looked up without a copy.
class SpanMetricsConnector : public core::Connector {
 public:
  // Wall-clock time in Unix nanoseconds; injectable for tests.
  using NowFn = std::function<uint64_t()>;

  SpanMetricsConnector(std::string id, SpanMetricsConfig config, core::Consumer* next,
                       std::string instance_id, NowFn now = nullptr);

  absl::Status Start() override;
  // Stops the timer and emits what was folded since the last flush.
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Consume(core::Envelope envelope) noexcept override;

  // Emits the metrics now, as the timer does; returns what the next
  // pipeline answered.
  absl::Status Flush();
  size_t series() const;

 private:
  struct Exemplar {
    char trace_id[16];
    char span_id[8];
    double value;
    uint64_t time;
  };
  struct Series {
    // Its attributes serialized as a KeyValueList: a tenth of the memory
    // of the objects, which only a flush needs.
    std::string attributes;
    uint64_t start = 0;  // start of the totals: creation (cumulative) or last flush (delta)
    uint64_t last_span = 0;
    uint64_t calls = 0;
    common::aggregation::ExplicitHistogram duration;
    std::vector<Exemplar> exemplars;  // a ring of at most max_per_data_point
    size_t next_exemplar = 0;
    bool touched = false;  // spans since the last flush
  };
  struct ResourceState {
    opentelemetry::proto::resource::v1::Resource resource;
    absl::flat_hash_map<std::string, std::unique_ptr<Series>> series;
  };

  // A resource as it comes on the wire: its state, its attributes (for
  // the dimensions its spans lack) and its service name, kept by its
  // serialized bytes so that a resource seen before is not parsed again.
  struct KnownResource {
    ResourceState* state = nullptr;
    opentelemetry::proto::resource::v1::Resource resource;
    std::string service;
  };

  // The resource of these bytes; null when they are not a Resource.
  KnownResource* ResourceOf(std::string_view bytes);
  void Fold(const KnownResource& known, const common::otlp::SpanView* begin,
            const common::otlp::SpanView* end, uint64_t now);
  ResourceState& ResourceFor(const opentelemetry::proto::resource::v1::Resource& resource);
  Series& SeriesFor(ResourceState& state, const std::string& service,
                    const common::otlp::SpanView& span,
                    const opentelemetry::proto::resource::v1::Resource& resource, uint64_t now);
  // The value of dimension `name` from the span, then its resource; null
  // when neither has it. Points into dimension_value_.
  const opentelemetry::proto::common::v1::AnyValue* DimensionValue(
      const std::string& name, const common::otlp::SpanView& span,
      const opentelemetry::proto::resource::v1::Resource& resource);
  std::unique_ptr<Series> NewSeries(uint64_t now) const;
  // Builds the request of one flush and resets what a flush resets.
  // One flush: serialized requests of at most kFlushSeries series each,
  // only one of them built as objects at a time.
  using FlushBatches = std::deque<std::shared_ptr<const core::Batch>>;
  FlushBatches BuildLocked(uint64_t now);

  const std::string id_;
  const SpanMetricsConfig config_;
  core::Consumer* const next_;
  const std::string instance_id_;
  const NowFn now_;
  std::vector<double> bounds_;  // bucket bounds in the histogram's unit
  double divider_;              // nanoseconds per unit
  bool keep_[5];                // of service.name, span.name, span.kind, status.code, instance

  prometheus::Gauge& series_gauge_;
  prometheus::Counter& overflow_spans_;
  prometheus::Counter& flushes_ok_;
  prometheus::Counter& flushes_refused_;
  prometheus::Counter& dropped_points_;

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<ResourceState>> resources_;
  // Emptied whenever a resource's state expires, and when it grows past a
  // bound.
  absl::flat_hash_map<std::string, std::unique_ptr<KnownResource>> known_resources_;
  size_t series_count_ = 0;
  std::string key_;                           // reused for every span
  core::wire::MessageField dimension_bytes_;  // and dimension
  std::vector<std::string> dimension_names_;
  std::unique_ptr<core::wire::MessageField[]> dimension_values_;  // of the span being folded
  opentelemetry::proto::common::v1::AnyValue dimension_value_;
  std::vector<const opentelemetry::proto::common::v1::KeyValue*> sorted_;  // and resource
  // Delta requests the next pipeline refused, sent again first next time.
  std::deque<FlushBatches> unsent_;

  common::aggregation::PeriodicTask timer_;
};

}  // namespace tributary::connectors::spanmetrics

#endif  // TRIBUTARY_CONNECTORS_SPANMETRICS_SPANMETRICS_CONNECTOR_H_
