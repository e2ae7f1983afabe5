#ifndef TRIBUTARY_CORE_TELEMETRY_H_
#define TRIBUTARY_CORE_TELEMETRY_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "tributary/core/batch.h"

namespace tributary::core {

// The process's self-metrics, named like the OpenTelemetry Collector's own
// under the tributary_ prefix. prometheus-cpp families are thread-safe; hot
// paths keep the returned metric references instead of looking them up.
class Telemetry {
 public:
  static Telemetry& Get();

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  prometheus::Counter& ReceiverAccepted(const std::string& receiver, Signal s,
                                        const std::string& transport);
  prometheus::Counter& ReceiverRefused(const std::string& receiver, Signal s,
                                       const std::string& transport, const std::string& reason);
  // Requests that could not be attributed to records (malformed, too large).
  prometheus::Counter& ReceiverFailedRequests(const std::string& receiver,
                                              const std::string& transport,
                                              const std::string& reason);
  // Attributes dropped or values truncated by a receiver's limits.
  prometheus::Counter& ReceiverLimited(const std::string& receiver, Signal s,
                                       const std::string& action);
  prometheus::Counter& ExporterSent(const std::string& exporter, Signal s);
  prometheus::Counter& ExporterSendFailed(const std::string& exporter, Signal s);
  prometheus::Counter& ExporterRetries(const std::string& exporter, Signal s);
  prometheus::Counter& Dropped(const std::string& component, Signal s, const std::string& reason);
  prometheus::Gauge& QueueSize(const std::string& exporter);
  prometheus::Gauge& QueueCapacity(const std::string& exporter);
  prometheus::Histogram& ExportDuration(const std::string& exporter);
  prometheus::Histogram& BatchSize(const std::string& processor, Signal s);
  prometheus::Counter& ProcessorFlushes(const std::string& processor, const std::string& trigger);
  // Records a processor had accepted and handed back to their senders,
  // with the next stage's error, because that stage refused them.
  prometheus::Counter& ProcessorReturned(const std::string& processor, Signal s);
  // Data points a cardinality limit moved to the overflow series.
  prometheus::Counter& ProcessorOverflowPoints(const std::string& processor);
  prometheus::Counter& DeadLettered(const std::string& exporter, Signal s);
  // Records a pipeline took in (counted at its head, once accepted).
  prometheus::Counter& PipelineReceived(const std::string& pipeline, Signal s);
  prometheus::Gauge& BufferBytes(const std::string& pipeline);
  prometheus::Gauge& BufferCapacity(const std::string& pipeline);
  // Records an exporter has not yet settled from a pipeline's buffer.
  prometheus::Gauge& BufferRecords(const std::string& pipeline, const std::string& exporter,
                                   Signal s);
  // Records found in a buffer at start that an exporter had not settled.
  prometheus::Counter& BufferRecovered(const std::string& pipeline, const std::string& exporter,
                                       Signal s);
  prometheus::Counter& BufferCorruptBytes(const std::string& pipeline);
  prometheus::Histogram& BufferFsyncDuration(const std::string& pipeline);
  void SetBuildInfo(const std::string& program, const std::string& version);

  // Removes, from every family, the series whose labels `match`: those of
  // components a reload took away. Components hold references to their
  // series, so only the series of components that no longer exist may go.
  using SeriesMatch = std::function<bool(const prometheus::Labels&)>;
  void RemoveSeries(const SeriesMatch& match);
  // Makes a family's series reachable by RemoveSeries.
  template <class Metric>
  void Track(prometheus::Family<Metric>& family) {
    std::lock_guard<std::mutex> lock(tracked_mu_);
    tracked_.push_back([&family](const SeriesMatch& match) {
      for (const prometheus::MetricFamily& collected : family.Collect()) {
        for (const prometheus::ClientMetric& m : collected.metric) {
          prometheus::Labels labels;
          for (const auto& l : m.label) labels[l.name] = l.value;
          if (!match(labels) || !family.Has(labels)) continue;
          if constexpr (std::is_same_v<Metric, prometheus::Histogram>) {
            family.Remove(&family.Add(labels, prometheus::Histogram::BucketBoundaries{}));
          } else {
            family.Remove(&family.Add(labels));
          }
        }
      }
    });
  }

 private:
  Telemetry();
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& accepted_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Counter>& failed_requests_;
  prometheus::Family<prometheus::Counter>& limited_;
  prometheus::Family<prometheus::Counter>& sent_;
  prometheus::Family<prometheus::Counter>& send_failed_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& dropped_;
  prometheus::Family<prometheus::Gauge>& queue_size_;
  prometheus::Family<prometheus::Gauge>& queue_capacity_;
  prometheus::Family<prometheus::Histogram>& export_duration_;
  prometheus::Family<prometheus::Histogram>& batch_size_;
  prometheus::Family<prometheus::Counter>& flushes_;
  prometheus::Family<prometheus::Counter>& returned_;
  prometheus::Family<prometheus::Counter>& overflow_points_;
  prometheus::Family<prometheus::Counter>& dead_lettered_;
  prometheus::Family<prometheus::Counter>& pipeline_received_;
  prometheus::Family<prometheus::Gauge>& buffer_bytes_;
  prometheus::Family<prometheus::Gauge>& buffer_capacity_;
  prometheus::Family<prometheus::Gauge>& buffer_records_;
  prometheus::Family<prometheus::Counter>& buffer_recovered_;
  prometheus::Family<prometheus::Counter>& buffer_corrupt_;
  prometheus::Family<prometheus::Histogram>& fsync_duration_;
  prometheus::Family<prometheus::Gauge>& build_info_;
  std::mutex tracked_mu_;
  std::vector<std::function<void(const SeriesMatch&)>> tracked_;
};

// Serialises the registry plus process_* metrics in the Prometheus text format.
std::string RenderSelfMetrics();

// A self-metric family that a component declares once, beside its code:
//
//   constexpr core::MetricFamily<prometheus::Counter> kRetries{
//       "tributary_kafka_retries_total", "Messages produced again"};
//   prometheus::Counter& retries = kRetries.Add({{"exporter", id}});
//
// It is registered with the process's registry on first use and kept;
// components keep the metrics Add() returns instead of looking them up on
// hot paths.
template <class Metric>
struct MetricFamily {
  const char* name;
  const char* help;
  mutable std::atomic<prometheus::Family<Metric>*> family{nullptr};

  prometheus::Family<Metric>& Get() const {
    prometheus::Family<Metric>* f = family.load(std::memory_order_acquire);
    if (f == nullptr) {
      // The registry hands every caller the same family of a name.
      f = &prometheus::detail::Builder<Metric>().Name(name).Help(help).Register(
          Telemetry::Get().registry());
      if (family.exchange(f, std::memory_order_acq_rel) == nullptr) Telemetry::Get().Track(*f);
    }
    return *f;
  }
  template <class... Args>
  Metric& Add(const prometheus::Labels& labels, Args&&... args) const {
    return Get().Add(labels, std::forward<Args>(args)...);
  }
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_TELEMETRY_H_
