#ifndef TRIBUTARY_EXPORTERS_PROMETHEUS_METRIC_STORE_H_
#define TRIBUTARY_EXPORTERS_PROMETHEUS_METRIC_STORE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/prometheus/translate.h"
#include "exporters/prometheus/shared_text.h"
#include "tributary/core/batch.h"

namespace tributary::exporters::prometheus {

using core::MetricsRequest;

struct StoreOptions {
  std::string prefix;  // prepended to every metric name
  common::prometheus::Labels const_labels;
  std::chrono::nanoseconds expiration = std::chrono::minutes(5);
  bool scope_labels = true;  // otel_scope_name, otel_scope_version
};

// The latest state of every series the exporter has seen, as Prometheus
// exposes it: cumulative values (delta sums and histograms are added up from
// their first point, which becomes the start time), exponential histograms as
// explicit buckets, one `target_info` series per resource. Series not updated
// for `expiration` are removed. Thread-safe: a scrape copies references to
// the series under the lock and renders outside it, so `Add` waits for the
// copy (tens of milliseconds at a million series), not for the rendering.
class MetricStore {
 public:
  explicit MetricStore(StoreOptions options) : options_(std::move(options)) {}

  struct AddResult {
    size_t points = 0;
    size_t dropped = 0;  // points of a metric whose name another type holds
    std::string error;   // why, for the first one
  };
  AddResult Add(const MetricsRequest& request, std::chrono::steady_clock::time_point now);

  // Removes the series not updated since `now - expiration`; returns how many.
  size_t Expire(std::chrono::steady_clock::time_point now);

  enum class Format { kText, kOpenMetrics };
  // Appends the exposition of every series, as of one instant.
  void Render(Format format, std::string* out) const;

  size_t series() const;

 private:
  // The latest exemplar of a bucket: OpenMetrics shows one per bucket line.
  struct Exemplar {
    std::string labels;  // rendered: trace_id="...",span_id="..."
    double value = 0;
    uint64_t time_unix_nano = 0;
  };
  struct Buckets {
    std::vector<double> bounds;       // upper bounds, ascending, +Inf implied
    std::vector<uint64_t> counts;     // per bucket (not cumulative), bounds + 1
    std::vector<Exemplar> exemplars;  // per bucket, or empty; an empty `labels` is none
    double sum = 0;
    bool has_sum = false;
    uint64_t count = 0;
    int32_t scale = 0;  // of an exponential histogram; bounds of one scale merge
    bool exponential = false;
  };
  struct Quantiles {
    std::vector<std::pair<double, double>> values;  // quantile, value
    double sum = 0;
    uint64_t count = 0;
  };
  // Buckets and quantiles are shared with the snapshots of scrapes in
  // progress: a series changes them in place only when it holds the sole
  // reference, and replaces them otherwise.
  struct Series {
    double value = 0;
    std::shared_ptr<Buckets> buckets;
    std::shared_ptr<const Quantiles> quantiles;
    uint64_t start_unix_nano = 0;
    std::chrono::steady_clock::time_point updated;
  };
  struct Family {
    common::prometheus::MetricType type = common::prometheus::MetricType::kGauge;
    std::string help;
    std::string unit;  // as words, for the OpenMetrics UNIT line
    // By rendered labels.
    absl::flat_hash_map<SharedText, Series, SharedTextHash, SharedTextEq> series;
  };
  // What a scrape renders, copied under the lock: the family's text and
  // references to its series' labels and values.
  struct FamilySnapshot {
    std::string name;
    common::prometheus::MetricType type = common::prometheus::MetricType::kGauge;
    std::string help;
    std::string unit;
    std::vector<std::pair<SharedText, double>> values;  // counters, gauges, info
    std::vector<std::pair<SharedText, std::shared_ptr<const Buckets>>> buckets;
    std::vector<std::pair<SharedText, std::shared_ptr<const Quantiles>>> quantiles;
  };

  Family* FamilyFor(const std::string& name, common::prometheus::MetricType type,
                    AddResult* result);
  // The `target_info` series of a resource with its non-identifying labels.
  void AddTargetInfo(const std::map<std::string, std::string>& base,
                     const common::prometheus::Labels& info,
                     std::chrono::steady_clock::time_point now, AddResult* result);
  // The points of one metric, with the labels of its resource and scope.
  void AddMetric(const opentelemetry::proto::metrics::v1::Metric& m,
                 const std::map<std::string, std::string>& scoped,
                 std::chrono::steady_clock::time_point now, AddResult* result);
  // A series takes a point: a cumulative one replaces it, a delta one adds
  // to it when its buckets match.
  static void SetHistogram(Series& s,
                           const opentelemetry::proto::metrics::v1::HistogramDataPoint& p,
                           bool delta);
  static void SetExponentialHistogram(
      Series& s, const opentelemetry::proto::metrics::v1::ExponentialHistogramDataPoint& p,
      bool delta);
  // Keeps the point's exemplars (those with a trace id) in the buckets of
  // their values; the older exemplars of the other buckets stay.
  static void SetExemplars(const opentelemetry::proto::metrics::v1::HistogramDataPoint& p,
                           const std::shared_ptr<Buckets>& old, Buckets& b);
  // The samples of a histogram or summary series; `extra` is scratch. With
  // `exemplars` (OpenMetrics), each bucket's exemplar follows its sample.
  static void RenderBuckets(const std::string& name, std::string_view labels, const Buckets& b,
                            bool exemplars, std::string* extra, std::string* out);
  static void RenderQuantiles(const std::string& name, std::string_view labels, const Quantiles& q,
                              std::string* extra, std::string* out);
  // The series in `families_`, by reference (called with mu_ held).
  std::vector<FamilySnapshot> Snapshot() const;
  // The series of a family by its rendered labels, and whether it is new.
  static std::pair<Series&, bool> SeriesFor(Family* family, std::string_view labels);
  // Replaces the buckets of `s` (no snapshot sees the new ones) with those
  // of a cumulative or first point `p`, and returns them.
  template <class Point>
  static Buckets& NewBuckets(Series& s, std::vector<double> bounds, std::vector<uint64_t> counts,
                             const Point& p);
  // The buckets of `s` to change in place, copied first when a snapshot
  // shares them.
  static Buckets& OwnBuckets(Series& s);
  static void SetSummary(Series& s, const opentelemetry::proto::metrics::v1::SummaryDataPoint& p);

  const StoreOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  mutable std::atomic<size_t> last_size_{0};  // of the last exposition
};

}  // namespace tributary::exporters::prometheus

#endif  // TRIBUTARY_EXPORTERS_PROMETHEUS_METRIC_STORE_H_
