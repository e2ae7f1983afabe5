#ifndef TRIBUTARY_PROCESSORS_CARDINALITY_CARDINALITY_PROCESSOR_H_
#define TRIBUTARY_PROCESSORS_CARDINALITY_CARDINALITY_PROCESSOR_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tributary/core/component.h"
#include "tributary/core/config.h"
#include "tributary/core/telemetry.h"

namespace tributary::processors::cardinality {

struct CardinalityConfig {
  int64_t max_series_per_metric = 10000;
  int64_t max_metrics = 10000;
  std::chrono::milliseconds series_ttl{3600000};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("max_series_per_metric", max_series_per_metric,
               "distinct attribute sets (with the resource's) kept per metric name; the points of "
               "further series lose their attributes for otel_metric_overflow=\"true\"");
    v.Optional("max_metrics", max_metrics,
               "metric names tracked; points of further names go to their overflow series too");
    v.Optional("series_ttl", series_ttl,
               "a series not seen for this long stops counting against the limit");
  }
  absl::Status Validate() const {
    if (max_series_per_metric < 1 || max_metrics < 1) {
      return absl::InvalidArgumentError("max_series_per_metric and max_metrics must be >= 1");
    }
    if (series_ttl.count() <= 0) return absl::InvalidArgumentError("series_ttl must be > 0");
    return absl::OkStatus();
  }
};

// Bounds the number of series each metric may have, as the OpenTelemetry
// SDKs' cardinality limit does: once a metric has max_series_per_metric
// series, data points of new attribute sets keep their resource but have
// their attributes replaced by otel_metric_overflow="true", so a label
// explosion costs one series instead of memory without bound downstream.
// Counted in tributary_processor_overflow_points_total.
class CardinalityProcessor : public core::Processor {
 public:
  using Clock = std::chrono::steady_clock;
  CardinalityProcessor(std::string id, CardinalityConfig config, core::Consumer* next);

  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown(core::Deadline) noexcept override {}
  absl::Status Consume(core::Envelope envelope) noexcept override;

  // Series currently tracked for `metric`.
  size_t series(const std::string& metric);
  // For tests: the clock used for the TTL.
  void SetNowForTest(Clock::time_point now) { now_for_test_ = now; }

 private:
  struct Metric {
    std::unordered_map<uint64_t, Clock::time_point> series;  // attribute-set hash -> last seen
  };
  // Records the series; false when it is new and over the limit.
  bool Admit(const std::string& name, uint64_t series, Clock::time_point now);
  void ExpireLocked(Clock::time_point now);
  Clock::time_point Now() const;

  const std::string id_;
  const CardinalityConfig config_;
  core::Consumer* const next_;
  prometheus::Counter& overflow_;
  std::mutex mu_;
  std::unordered_map<std::string, Metric> metrics_;
  Clock::time_point next_expiry_{};
  Clock::time_point now_for_test_{};
};

}  // namespace tributary::processors::cardinality

#endif  // TRIBUTARY_PROCESSORS_CARDINALITY_CARDINALITY_PROCESSOR_H_
