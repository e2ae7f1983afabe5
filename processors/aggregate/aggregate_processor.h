#ifndef TRIBUTARY_PROCESSORS_AGGREGATE_AGGREGATE_PROCESSOR_H_
#define TRIBUTARY_PROCESSORS_AGGREGATE_AGGREGATE_PROCESSOR_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/aggregation/aggregation.h"
#include "tributary/core/component.h"
#include "tributary/core/telemetry.h"

namespace tributary::processors::aggregate {

struct AggregateConfig {
  std::vector<std::string> drop_attributes;
  std::chrono::milliseconds interval{10000};
  int64_t max_streams = 100000;
  std::chrono::milliseconds stale_after{300000};
  std::string gauge_aggregation = "last";
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("drop_attributes", drop_attributes,
               "resource and point attributes removed before merging: what tells the senders "
               "apart (k8s.pod.name, service.instance.id)");
    v.Optional("interval", interval, "how often the merged series are emitted");
    v.Optional("max_streams", max_streams,
               "input series followed at once; points of further ones are dropped and counted");
    v.Optional("stale_after", stale_after,
               "an input series without points for this long no longer counts in gauges and "
               "up-down sums, and a merged series without inputs for this long is no longer "
               "emitted");
    v.Optional("gauge_aggregation", gauge_aggregation,
               "how gauges merge: last (the latest point of any input), sum or max (of each "
               "live input's latest)");
  }
  absl::Status Validate() const;
};

// Merges the metric series of many senders into one per attribute set left
// once drop_attributes are removed, and emits them every interval as
// cumulative series:
//   - a cumulative monotonic sum or histogram adds each input's increments,
//     an input's reset (its start time changes or its value goes down) counting
//     from zero, so the merged series never decreases when a sender restarts;
//   - delta sums and histograms are added;
//   - a non-monotonic sum is the sum of its live inputs' latest values;
//   - a gauge is the latest value, or the sum or max of the live inputs'.
// A point older than its input's last, a metric whose type or histogram
// buckets change, and points beyond max_streams are dropped and counted;
// summaries and exponential histograms pass through unmerged.
//
// A point is merged when Consume returns, and its acknowledgement goes then;
// a crash loses the increments merged since the last emission, which the
// merged series shows as a reset.
class AggregateProcessor : public core::Processor {
 public:
  using NowFn = std::function<uint64_t()>;  // Unix nanoseconds

  AggregateProcessor(std::string id, AggregateConfig config, core::Consumer* next,
                     NowFn now = nullptr);

  absl::Status Start() override;
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Consume(core::Envelope envelope) noexcept override;

  // Emits the merged series now.
  absl::Status Flush();
  size_t input_streams() const;

 private:
  enum class Kind { kMonotonic, kUpDown, kGauge, kHistogram };
  struct Output;
  struct Input {
    Output* output = nullptr;
    Kind kind = Kind::kGauge;
    uint64_t start = 0, time = 0;  // of the last point
    uint64_t seen = 0;             // when it was last seen (now_)
    double value = 0;              // sums and gauges
    uint64_t count = 0;            // histograms
    double sum = 0;
    std::vector<uint64_t> buckets;
  };
  struct Output {
    size_t resource = 0;  // index into resources_
    std::string scope_name, scope_version;
    std::string name, unit, description;
    Kind kind = Kind::kGauge;
    bool delta_inputs = false;
    bool integer = true;  // every value an integer
    core::Attributes attributes;
    uint64_t start = 0;
    uint64_t updated = 0;     // now_ of the last point merged
    double total = 0;         // monotonic: the sum of increments
    double gauge_last = 0;    // gauges: the latest point's value...
    uint64_t gauge_time = 0;  // ...and its time
    std::vector<double> bounds;
    uint64_t count = 0;
    double sum = 0;
    std::vector<uint64_t> buckets;
    std::vector<Input*> inputs;
  };

  template <class Point>
  void MergePoint(const Point& point, Kind kind, bool delta, const std::string& input_key,
                  Output& output, uint64_t now);
  // Counts a point dropped for `reason`.
  void Drop(const char* reason);
  std::optional<core::Batch> BuildLocked(uint64_t now);

  const std::string id_;
  const AggregateConfig config_;
  core::Consumer* const next_;
  const NowFn now_;

  prometheus::Counter& merged_;
  prometheus::Counter& emitted_;
  prometheus::Counter& flushes_;

  mutable std::mutex mu_;
  std::vector<opentelemetry::proto::resource::v1::Resource> resources_;
  absl::flat_hash_map<std::string, size_t> resource_index_;
  absl::flat_hash_map<std::string, std::unique_ptr<Output>> outputs_;
  absl::flat_hash_map<std::string, std::unique_ptr<Input>> inputs_;
  std::string key_, input_key_, resource_key_;
  std::vector<const opentelemetry::proto::common::v1::KeyValue*> scratch_;

  common::aggregation::PeriodicTask timer_;
};

}  // namespace tributary::processors::aggregate

#endif  // TRIBUTARY_PROCESSORS_AGGREGATE_AGGREGATE_PROCESSOR_H_
