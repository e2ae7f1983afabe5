#include "processors/cardinality/cardinality_processor.h"

#include <algorithm>
#include <functional>
#include <type_traits>
#include <vector>

#include "tributary/core/registry.h"

namespace tributary::processors::cardinality {
namespace {

using opentelemetry::proto::common::v1::KeyValue;
using Attributes = google::protobuf::RepeatedPtrField<KeyValue>;

// Order-independent identity of an attribute set.
uint64_t HashAttributes(const Attributes& attributes, uint64_t seed) {
  std::vector<std::string> parts;
  parts.reserve(static_cast<size_t>(attributes.size()));
  for (const KeyValue& kv : attributes) {
    std::string part = kv.key();
    part.push_back('\0');
    part += kv.value().SerializeAsString();
    parts.push_back(std::move(part));
  }
  std::sort(parts.begin(), parts.end());
  uint64_t h = seed;
  for (const std::string& p : parts) {
    h ^= std::hash<std::string>()(p) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  }
  return h;
}

void MarkOverflow(Attributes* attributes) {
  // One series for everything over the limit, whatever its attributes were.
  attributes->Clear();
  KeyValue* kv = attributes->Add();
  kv->set_key("otel_metric_overflow");
  kv->mutable_value()->set_bool_value(true);
}

// Calls `fn(resource hash, metric name, points)` for every metric's data
// points, in one fixed order; read-only on a const request.
template <class Request, class Fn>
void ForEachPoints(Request& request, Fn fn) {
  using Metric = opentelemetry::proto::metrics::v1::Metric;
  constexpr bool kConst = std::is_const_v<Request>;
  auto visit = [&](uint64_t resource, auto& m) {
    switch (m.data_case()) {
      case Metric::kGauge:
        if constexpr (kConst)
          fn(resource, m.name(), m.gauge().data_points());
        else
          fn(resource, m.name(), *m.mutable_gauge()->mutable_data_points());
        break;
      case Metric::kSum:
        if constexpr (kConst)
          fn(resource, m.name(), m.sum().data_points());
        else
          fn(resource, m.name(), *m.mutable_sum()->mutable_data_points());
        break;
      case Metric::kHistogram:
        if constexpr (kConst)
          fn(resource, m.name(), m.histogram().data_points());
        else
          fn(resource, m.name(), *m.mutable_histogram()->mutable_data_points());
        break;
      case Metric::kExponentialHistogram:
        if constexpr (kConst)
          fn(resource, m.name(), m.exponential_histogram().data_points());
        else
          fn(resource, m.name(), *m.mutable_exponential_histogram()->mutable_data_points());
        break;
      case Metric::kSummary:
        if constexpr (kConst)
          fn(resource, m.name(), m.summary().data_points());
        else
          fn(resource, m.name(), *m.mutable_summary()->mutable_data_points());
        break;
      default:
        break;
    }
  };
  auto& resources = [&]() -> auto& {
    if constexpr (kConst)
      return request.resource_metrics();
    else
      return *request.mutable_resource_metrics();
  }
  ();
  for (auto& rm : resources) {
    const uint64_t resource = HashAttributes(rm.resource().attributes(), 0);
    if constexpr (kConst) {
      for (const auto& sm : rm.scope_metrics()) {
        for (const auto& m : sm.metrics()) visit(resource, m);
      }
    } else {
      for (auto& sm : *rm.mutable_scope_metrics()) {
        for (auto& m : *sm.mutable_metrics()) visit(resource, m);
      }
    }
  }
}

}  // namespace

CardinalityProcessor::CardinalityProcessor(std::string id, CardinalityConfig config,
                                           core::Consumer* next)
    : id_(std::move(id)),
      config_(config),
      next_(next),
      overflow_(core::Telemetry::Get().ProcessorOverflowPoints(id_)) {}

CardinalityProcessor::Clock::time_point CardinalityProcessor::Now() const {
  return now_for_test_ != Clock::time_point{} ? now_for_test_ : Clock::now();
}

void CardinalityProcessor::ExpireLocked(Clock::time_point now) {
  if (now < next_expiry_) return;
  next_expiry_ = now + std::min<Clock::duration>(config_.series_ttl, std::chrono::minutes(1));
  for (auto it = metrics_.begin(); it != metrics_.end();) {
    auto& series = it->second.series;
    for (auto s = series.begin(); s != series.end();) {
      s = now - s->second > config_.series_ttl ? series.erase(s) : std::next(s);
    }
    it = series.empty() ? metrics_.erase(it) : std::next(it);
  }
}

bool CardinalityProcessor::Admit(const std::string& name, uint64_t series, Clock::time_point now) {
  auto metric = metrics_.find(name);
  if (metric == metrics_.end()) {
    if (metrics_.size() >= static_cast<size_t>(config_.max_metrics)) return false;
    metric = metrics_.emplace(name, Metric{}).first;
  }
  auto& known = metric->second.series;
  auto it = known.find(series);
  if (it != known.end()) {
    it->second = now;
    return true;
  }
  if (known.size() >= static_cast<size_t>(config_.max_series_per_metric)) return false;
  known.emplace(series, now);
  return true;
}

absl::Status CardinalityProcessor::Consume(core::Envelope envelope) noexcept {
  if (!envelope.batch || envelope.batch->signal() != core::Signal::kMetrics) {
    return next_->Consume(std::move(envelope));
  }
  // First pass on the shared batch: admit series, note which points overflow.
  std::vector<bool> overflow;
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const Clock::time_point now = Now();
    ExpireLocked(now);
    ForEachPoints(envelope.batch->metrics(),
                  [&](uint64_t resource, const std::string& name, const auto& points) {
                    for (const auto& p : points) {
                      const bool over = !Admit(name, HashAttributes(p.attributes(), resource), now);
                      overflow.push_back(over);
                      any |= over;
                    }
                  });
  }
  if (!any) return next_->Consume(std::move(envelope));
  core::MetricsRequest copy = envelope.batch->metrics();
  size_t i = 0, moved = 0;
  ForEachPoints(copy, [&](uint64_t, const std::string&, auto& points) {
    for (auto& p : points) {
      if (overflow[i++]) {
        MarkOverflow(p.mutable_attributes());
        ++moved;
      }
    }
  });
  overflow_.Increment(static_cast<double>(moved));
  envelope.batch = std::make_shared<const core::Batch>(std::move(copy));
  return next_->Consume(std::move(envelope));
}

size_t CardinalityProcessor::series(const std::string& metric) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = metrics_.find(metric);
  return it == metrics_.end() ? 0 : it->second.series.size();
}

}  // namespace tributary::processors::cardinality

namespace tributary {
void RegisterProcessorCardinality(core::Registry& registry) {
  using processors::cardinality::CardinalityConfig;
  registry.Add(core::MakeFactory<core::Processor, CardinalityConfig, core::Signal, core::Consumer*>(
      "cardinality", {core::Signal::kMetrics},
      "Caps the series of each metric; points of further series go to one overflow series "
      "labelled otel_metric_overflow=\"true\".",
      [](const core::CreateContext& ctx, const CardinalityConfig& config, core::Signal,
         core::Consumer* next) -> absl::StatusOr<std::unique_ptr<core::Processor>> {
        return std::make_unique<processors::cardinality::CardinalityProcessor>(ctx.id.ToString(),
                                                                               config, next);
      }));
}
}  // namespace tributary
