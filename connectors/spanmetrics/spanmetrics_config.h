#ifndef TRIBUTARY_CONNECTORS_SPANMETRICS_SPANMETRICS_CONFIG_H_
#define TRIBUTARY_CONNECTORS_SPANMETRICS_SPANMETRICS_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tributary::connectors::spanmetrics {

// The point attributes every series has, unless excluded.
inline constexpr const char* kServiceName = "service.name";
inline constexpr const char* kSpanName = "span.name";
inline constexpr const char* kSpanKind = "span.kind";
inline constexpr const char* kStatusCode = "status.code";
inline constexpr const char* kInstanceId = "collector.instance.id";

struct Dimension {
  std::string name;
  std::optional<std::string> default_value;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("name", name, "span attribute (or, failing that, resource attribute) to add");
    v.Optional("default", default_value,
               "value when neither the span nor its resource has the attribute; without it "
               "the attribute is left out of that series");
  }
  absl::Status Validate() const {
    return name.empty() ? absl::InvalidArgumentError("name must not be empty") : absl::OkStatus();
  }
};

struct ExplicitBuckets {
  std::vector<std::chrono::nanoseconds> buckets;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("buckets", buckets, "upper bounds of the duration histogram's buckets, ascending");
  }
};

struct HistogramConfig {
  bool disable = false;
  std::string unit = "ms";
  ExplicitBuckets explicit_buckets{
      {std::chrono::milliseconds(2), std::chrono::milliseconds(4), std::chrono::milliseconds(6),
       std::chrono::milliseconds(8), std::chrono::milliseconds(10), std::chrono::milliseconds(50),
       std::chrono::milliseconds(100), std::chrono::milliseconds(200),
       std::chrono::milliseconds(400), std::chrono::milliseconds(800), std::chrono::seconds(1),
       std::chrono::milliseconds(1400), std::chrono::seconds(2), std::chrono::seconds(5),
       std::chrono::seconds(10), std::chrono::seconds(15)}};
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("disable", disable, "emit the calls counter only");
    v.Optional("unit", unit, "unit of the duration histogram: ms or s");
    v.Optional("explicit", explicit_buckets, "an explicit-bucket histogram");
  }
};

struct ExemplarsConfig {
  bool enabled = false;
  int64_t max_per_data_point = 5;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("enabled", enabled,
               "attach spans (trace and span id, duration) to the duration histogram's points as "
               "exemplars");
    v.Optional("max_per_data_point", max_per_data_point,
               "exemplars kept per point and flush interval: the latest ones");
  }
};

// `connectors.spanmetrics`, keyed as the OpenTelemetry Collector's spanmetrics
// connector.
struct SpanMetricsConfig {
  std::string metrics_namespace = "traces.span.metrics";
  HistogramConfig histogram;
  std::vector<Dimension> dimensions;
  std::vector<std::string> exclude_dimensions;
  std::vector<std::string> resource_metrics_key_attributes;
  std::string aggregation_temporality = "AGGREGATION_TEMPORALITY_CUMULATIVE";
  std::chrono::milliseconds metrics_flush_interval{15000};
  std::chrono::milliseconds metrics_expiration{0};
  int64_t aggregation_cardinality_limit = 0;
  ExemplarsConfig exemplars;

  template <class V>
  void VisitFields(V&& v) {
    v.Optional("namespace", metrics_namespace,
               "prefix of the metric names (`<namespace>.calls`, `<namespace>.duration`)");
    v.Optional("histogram", histogram, "the duration histogram");
    v.Optional("dimensions", dimensions,
               "attributes added to service.name, span.name, span.kind, status.code and "
               "collector.instance.id");
    v.Optional("exclude_dimensions", exclude_dimensions, "of those five, the ones to leave out");
    v.Optional("resource_metrics_key_attributes", resource_metrics_key_attributes,
               "resource attributes that tell the spans' resources apart (and are kept on the "
               "metrics' resources); empty: all of them");
    v.Optional("aggregation_temporality", aggregation_temporality,
               "AGGREGATION_TEMPORALITY_CUMULATIVE (totals since a series began) or "
               "AGGREGATION_TEMPORALITY_DELTA (what each interval added)");
    v.Optional("metrics_flush_interval", metrics_flush_interval,
               "how often the metrics are emitted");
    v.Optional("metrics_expiration", metrics_expiration,
               "a series without spans for this long is no longer emitted; 0: never");
    v.Optional("aggregation_cardinality_limit", aggregation_cardinality_limit,
               "series kept at once; the spans of further series are counted in one overflow "
               "series per resource, labelled otel_metric_overflow=\"true\"; 0: no limit");
    v.Optional("exemplars", exemplars, "exemplars on the duration histogram");
  }
  absl::Status Validate() const;
  bool delta() const { return aggregation_temporality == "AGGREGATION_TEMPORALITY_DELTA"; }
};

}  // namespace tributary::connectors::spanmetrics

#endif  // TRIBUTARY_CONNECTORS_SPANMETRICS_SPANMETRICS_CONFIG_H_
