#ifndef TRIBUTARY_COMMON_PROMETHEUS_TRANSLATE_H_
#define TRIBUTARY_COMMON_PROMETHEUS_TRANSLATE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb.h"

// OTLP metrics to Prometheus names and labels, as the OpenTelemetry
// specification's Prometheus compatibility section gives it.
namespace tributary::common::prometheus {

enum class MetricType { kCounter, kGauge, kHistogram, kSummary, kInfo };

// The Prometheus type an OTLP metric becomes: monotonic sums are counters,
// other sums and gauges are gauges; exponential histograms become histograms.
// Returns false for a metric without data.
bool PrometheusType(const opentelemetry::proto::metrics::v1::Metric& metric, MetricType* type);

// The Prometheus name of a metric: characters outside [a-zA-Z0-9_:] become
// `_`, runs of `_` collapse, a leading digit gets a `_` in front; the unit
// (UCUM, e.g. `s`, `By`, `KiBy`, `m/s`) is appended as words (`_seconds`,
// `_bytes`, `_meters_per_second`) unless the name already ends with them,
// `{annotations}` are dropped, `_ratio` is appended to gauges of unit `1`,
// `_total` to counters. `prefix` (a namespace) goes first, joined by `_`.
std::string MetricName(std::string_view name, std::string_view unit, MetricType type,
                       std::string_view prefix = {});

// The unit as Prometheus words (`seconds`, `bytes`, `meters_per_second`);
// empty when it has none (`1`, `{requests}`).
std::string UnitWords(std::string_view unit);

// A label name: invalid characters become `_`; a leading digit, or a single
// leading `_`, gets `key` in front (`key_0`, `key_foo`); `__` stays reserved.
std::string LabelName(std::string_view key);

// An attribute value as label value text: strings as they are, numbers and
// booleans as text, arrays and maps as JSON.
std::string LabelValue(const opentelemetry::proto::common::v1::AnyValue& value);

// Label value escaping of the text format: `\`, `"` and newline.
void AppendEscapedLabelValue(std::string_view value, std::string* out);

using Labels = std::vector<std::pair<std::string, std::string>>;

// Attributes as labels, sorted by name. Attributes whose names collide after
// sanitising share one label, their values joined by `;` in the order of the
// original keys.
Labels AttributeLabels(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& attrs);

// `job` (service.namespace/service.name), `instance` (service.instance.id),
// and the other resource attributes as the labels of `target_info`.
struct ResourceLabels {
  std::string job;
  std::string instance;
  Labels info;  // for target_info, without job and instance
};
ResourceLabels TranslateResource(const opentelemetry::proto::resource::v1::Resource& resource);

// DataPointFlags.FLAG_NO_RECORDED_VALUE: the point says its series ended.
inline constexpr uint32_t kNoRecordedValue = 1;

// A number point's value, integer or double.
double PointValue(const opentelemetry::proto::metrics::v1::NumberDataPoint& point);

// A sample value or bucket bound as Prometheus writes it: shortest round-trip
// form, `NaN`, `+Inf`, `-Inf`.
void AppendNumber(double value, std::string* out);

// Sorted labels rendered as the text inside `{}`: `a="x",b="y"`.
std::string RenderLabels(const Labels& labels);

// An exponential histogram point as explicit buckets: the negative buckets,
// the zero bucket (upper bound the zero threshold), then the positive ones.
void ExponentialToExplicit(
    const opentelemetry::proto::metrics::v1::ExponentialHistogramDataPoint& p,
    std::vector<double>* bounds, std::vector<uint64_t>* counts);

}  // namespace tributary::common::prometheus

#endif  // TRIBUTARY_COMMON_PROMETHEUS_TRANSLATE_H_
