// Metric instruments. Create them once from a Meter and keep them; they stay
// valid for the life of the Sdk that made them.
//
// The hot path is lock-free: a bound handle (Bind) adds to a per-thread cell
// with no atomic read-modify-write and no allocation; an unbound call first
// finds its series in a lock-free table (no allocation once the series
// exists). Cells are summed when the metrics are collected.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "tributary/sdk/common.h"

namespace tributary::sdk {
namespace detail {
struct Access;
class Instrument;
struct Series;
class MeterState;
}  // namespace detail

// A monotonic sum of integers. Negative increments are ignored.
class TRIBUTARY_SDK_API BoundCounter {
 public:
  BoundCounter() = default;
  void Add(int64_t value) const noexcept;

 private:
  friend class Counter;
  explicit BoundCounter(detail::Series* s) : series_(s) {}
  detail::Series* series_ = nullptr;
};

class TRIBUTARY_SDK_API Counter {
 public:
  Counter() = default;
  void Add(int64_t value, AttributeList attributes = {}) const noexcept;
  BoundCounter Bind(AttributeList attributes) const noexcept;

 private:
  friend class Meter;
  explicit Counter(detail::Instrument* i) : instrument_(i) {}
  detail::Instrument* instrument_ = nullptr;
};

// A sum of integers that may go down.
class TRIBUTARY_SDK_API BoundUpDownCounter {
 public:
  BoundUpDownCounter() = default;
  void Add(int64_t value) const noexcept;

 private:
  friend class UpDownCounter;
  explicit BoundUpDownCounter(detail::Series* s) : series_(s) {}
  detail::Series* series_ = nullptr;
};

class TRIBUTARY_SDK_API UpDownCounter {
 public:
  UpDownCounter() = default;
  void Add(int64_t value, AttributeList attributes = {}) const noexcept;
  BoundUpDownCounter Bind(AttributeList attributes) const noexcept;

 private:
  friend class Meter;
  explicit UpDownCounter(detail::Instrument* i) : instrument_(i) {}
  detail::Instrument* instrument_ = nullptr;
};

// A distribution over explicit bucket boundaries, with sum, min and max.
class TRIBUTARY_SDK_API BoundHistogram {
 public:
  BoundHistogram() = default;
  void Record(double value) const noexcept;

 private:
  friend class Histogram;
  explicit BoundHistogram(detail::Series* s) : series_(s) {}
  detail::Series* series_ = nullptr;
};

class TRIBUTARY_SDK_API Histogram {
 public:
  Histogram() = default;
  void Record(double value, AttributeList attributes = {}) const noexcept;
  BoundHistogram Bind(AttributeList attributes) const noexcept;

 private:
  friend class Meter;
  explicit Histogram(detail::Instrument* i) : instrument_(i) {}
  detail::Instrument* instrument_ = nullptr;
};

// The last value recorded wins.
class TRIBUTARY_SDK_API Gauge {
 public:
  Gauge() = default;
  void Record(double value, AttributeList attributes = {}) const noexcept;

 private:
  friend class Meter;
  explicit Gauge(detail::Instrument* i) : instrument_(i) {}
  detail::Instrument* instrument_ = nullptr;
};

// Passed to the callback of an observable instrument at each collection.
class TRIBUTARY_SDK_API ObserverResult {
 public:
  virtual void Observe(double value, AttributeList attributes = {}) noexcept = 0;

 protected:
  ~ObserverResult() = default;
};
using ObservableCallback = std::function<void(ObserverResult&)>;

// Instruments of one instrumentation scope. Creating an instrument with the
// name of an existing one of the same kind returns the existing one.
class TRIBUTARY_SDK_API Meter {
 public:
  Meter() = default;  // a no-op meter
  // unit: UCUM, e.g. "ms", "By", "{request}".
  Counter CreateCounter(std::string_view name, std::string_view unit = {},
                        std::string_view description = {}) noexcept;
  UpDownCounter CreateUpDownCounter(std::string_view name, std::string_view unit = {},
                                    std::string_view description = {}) noexcept;
  // boundaries: bucket upper bounds, increasing; empty: the OpenTelemetry
  // default (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000).
  Histogram CreateHistogram(std::string_view name, std::string_view unit = {},
                            std::string_view description = {},
                            std::vector<double> boundaries = {}) noexcept;
  Gauge CreateGauge(std::string_view name, std::string_view unit = {},
                    std::string_view description = {}) noexcept;
  // Callbacks run on the SDK's metrics thread at each collection.
  void CreateObservableCounter(std::string_view name, ObservableCallback callback,
                               std::string_view unit = {},
                               std::string_view description = {}) noexcept;
  void CreateObservableUpDownCounter(std::string_view name, ObservableCallback callback,
                                     std::string_view unit = {},
                                     std::string_view description = {}) noexcept;
  void CreateObservableGauge(std::string_view name, ObservableCallback callback,
                             std::string_view unit = {},
                             std::string_view description = {}) noexcept;

 private:
  friend class Sdk;
  friend struct detail::Access;
  explicit Meter(detail::MeterState* s) : state_(s) {}
  detail::MeterState* state_ = nullptr;
};

}  // namespace tributary::sdk
