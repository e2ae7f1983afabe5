#ifndef TRIBUTARY_COMMON_AGGREGATION_AGGREGATION_H_
#define TRIBUTARY_COMMON_AGGREGATION_AGGREGATION_H_

// What the components that fold records into metrics share: attribute
// lookup, an explicit-bucket histogram, and the timer that emits.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tributary/core/attributes.h"
#include "tributary/core/batch.h"
#include "tributary/core/telemetry.h"

namespace tributary::common::aggregation {

using core::Attributes;

// The value of `key` among `attributes`, or null.
const opentelemetry::proto::common::v1::AnyValue* FindAttribute(const Attributes& attributes,
                                                                std::string_view key);
// The string value of `key`, or empty when absent or not a string.
std::string_view FindString(const Attributes& attributes, std::string_view key);

// Appends `v` to a key, so that values of different types or contents never
// give the same bytes.
void AppendValueKey(std::string* key, const opentelemetry::proto::common::v1::AnyValue& v);
// The same for a serialized AnyValue (the same value gives the same bytes
// either way); false when `bytes` is not an AnyValue. Scalars and strings
// are read without building objects.
bool AppendValueKey(std::string* key, std::string_view bytes);
// Appends the attributes, less those named in `skip`, in key order (so the
// same set in any order gives the same key); `scratch` is reused.
void AppendAttributesKey(std::string* key, const Attributes& attributes,
                         const std::vector<std::string>& skip,
                         std::vector<const opentelemetry::proto::common::v1::KeyValue*>* scratch);

// tributary_connector_flushes_total{connector, result}: emissions of a
// connector's metrics, by whether the next pipeline took them (ok, refused).
extern const core::MetricFamily<prometheus::Counter> kConnectorFlushes;

// A 64-bit hash of `a` then `b` (FNV-1a, finished by a mixer so that every
// bit depends on every input bit): the same on every machine and build, for
// decisions that several collectors must make alike.
uint64_t Hash64(std::string_view a, std::string_view b = {});

// Wall-clock time in Unix nanoseconds.
uint64_t UnixNanos();

// Counts of values in explicit buckets: bucket i holds the values in
// (bounds[i-1], bounds[i]], the last one those above every bound.
class ExplicitHistogram {
 public:
  explicit ExplicitHistogram(size_t bounds = 0) : buckets_(bounds + 1, 0) {}
  void Observe(const std::vector<double>& bounds, double value);
  void Reset();
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // Writes count, sum, bounds and buckets into `point`.
  void Fill(const std::vector<double>& bounds,
            opentelemetry::proto::metrics::v1::HistogramDataPoint* point) const;

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Calls `fn` every `interval` on its own thread, from Start until Stop
// (which waits for a call in progress).
class PeriodicTask {
 public:
  PeriodicTask() = default;
  ~PeriodicTask() { Stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;
  void Start(std::chrono::nanoseconds interval, std::function<void()> fn);
  // True the first time it is called.
  bool Stop();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tributary::common::aggregation

#endif  // TRIBUTARY_COMMON_AGGREGATION_AGGREGATION_H_
