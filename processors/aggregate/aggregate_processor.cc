#include "processors/aggregate/aggregate_processor.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::processors::aggregate {

namespace {

namespace pm = opentelemetry::proto::metrics::v1;
using common::aggregation::AppendAttributesKey;
using opentelemetry::proto::common::v1::KeyValue;

const core::MetricFamily<prometheus::Counter> kMerged{
    "tributary_processor_merged_records_total",
    "Points a processor merged into its series (they leave as the points it emits)"};
const core::MetricFamily<prometheus::Counter> kEmitted{
    "tributary_processor_emitted_records_total",
    "Points a processor emitted from the series it merged"};

bool IsDelta(pm::AggregationTemporality t) { return t == pm::AGGREGATION_TEMPORALITY_DELTA; }

double NumberOf(const pm::NumberDataPoint& p, bool* integer) {
  if (p.value_case() == pm::NumberDataPoint::kAsInt) return static_cast<double>(p.as_int());
  *integer = false;
  return p.as_double();
}

}  // namespace

absl::Status AggregateConfig::Validate() const {
  for (size_t i = 0; i < drop_attributes.size(); ++i) {
    if (drop_attributes[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("drop_attributes[", i, "] is empty"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (drop_attributes[j] == drop_attributes[i]) {
        return absl::InvalidArgumentError(
            absl::StrCat("drop_attributes[", i, "]: '", drop_attributes[i], "' is listed twice"));
      }
    }
  }
  if (interval.count() <= 0) return absl::InvalidArgumentError("interval must be positive");
  if (max_streams < 1) return absl::InvalidArgumentError("max_streams must be at least 1");
  if (stale_after.count() <= 0) return absl::InvalidArgumentError("stale_after must be positive");
  if (gauge_aggregation != "last" && gauge_aggregation != "sum" && gauge_aggregation != "max") {
    return absl::InvalidArgumentError("gauge_aggregation must be last, sum or max");
  }
  return absl::OkStatus();
}

AggregateProcessor::AggregateProcessor(std::string id, AggregateConfig config, core::Consumer* next,
                                       NowFn now)
    : id_(std::move(id)),
      config_(std::move(config)),
      next_(next),
      now_(now ? std::move(now) : common::aggregation::UnixNanos),
      merged_(kMerged.Add({{"processor", id_}, {"signal", "metric_points"}})),
      emitted_(kEmitted.Add({{"processor", id_}, {"signal", "metric_points"}})),
      flushes_(core::Telemetry::Get().ProcessorFlushes(id_, "interval")) {}

absl::Status AggregateProcessor::Start() {
  timer_.Start(config_.interval, [this] { (void)Flush(); });
  return absl::OkStatus();
}

void AggregateProcessor::Shutdown(core::Deadline) noexcept {
  if (!timer_.Stop()) return;
  if (absl::Status s = Flush(); !s.ok()) {
    core::Log(core::LogLevel::kWarn, id_, "last emission refused",
              absl::StrCat("error=\"", s.message(), "\""));
  }
}

size_t AggregateProcessor::input_streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inputs_.size();
}

void AggregateProcessor::Drop(const char* reason) {
  core::Telemetry::Get().Dropped(id_, core::Signal::kMetrics, reason).Increment();
}

absl::Status AggregateProcessor::Consume(core::Envelope envelope) noexcept {
  if (envelope.batch == nullptr || envelope.batch->empty()) return absl::OkStatus();
  if (absl::Status s = envelope.batch->Parse(); !s.ok()) return s;
  const uint64_t now = now_();
  core::MetricsRequest passthrough;
  size_t passed = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    static const std::vector<std::string> kNone;
    for (const pm::ResourceMetrics& rm : envelope.batch->metrics().resource_metrics()) {
      // The merged series' resource: the senders' less what tells them apart.
      resource_key_.clear();
      AppendAttributesKey(&resource_key_, rm.resource().attributes(), config_.drop_attributes,
                          &scratch_);
      auto [where, added] = resource_index_.try_emplace(resource_key_, resources_.size());
      if (added) {
        auto& r = resources_.emplace_back();
        for (const KeyValue& kv : rm.resource().attributes()) {
          if (std::find(config_.drop_attributes.begin(), config_.drop_attributes.end(), kv.key()) ==
              config_.drop_attributes.end()) {
            *r.add_attributes() = kv;
          }
        }
      }
      const size_t resource = where->second;
      std::string input_resource;
      AppendAttributesKey(&input_resource, rm.resource().attributes(), kNone, &scratch_);
      pm::ResourceMetrics* passed_rm = nullptr;
      for (const pm::ScopeMetrics& sm : rm.scope_metrics()) {
        pm::ScopeMetrics* passed_sm = nullptr;
        for (const pm::Metric& m : sm.metrics()) {
          auto each = [&](const auto& points, Kind kind, bool delta) {
            for (const auto& p : points) {
              key_.assign(reinterpret_cast<const char*>(&resource), sizeof(resource));
              absl::StrAppend(&key_, sm.scope().name(), "\x1f", sm.scope().version(), "\x1f",
                              m.name(), "\x1f");
              AppendAttributesKey(&key_, p.attributes(), config_.drop_attributes, &scratch_);
              input_key_ = input_resource;
              absl::StrAppend(&input_key_, "\x1e", sm.scope().name(), "\x1f", sm.scope().version(),
                              "\x1f", m.name(), "\x1f");
              AppendAttributesKey(&input_key_, p.attributes(), kNone, &scratch_);
              auto& out = outputs_[key_];
              if (!out) {
                out = std::make_unique<Output>();
                out->resource = resource;
                out->scope_name = sm.scope().name();
                out->scope_version = sm.scope().version();
                out->name = m.name();
                out->unit = m.unit();
                out->description = m.description();
                out->kind = kind;
                out->start = now;
                for (const KeyValue& kv : p.attributes()) {
                  if (std::find(config_.drop_attributes.begin(), config_.drop_attributes.end(),
                                kv.key()) == config_.drop_attributes.end()) {
                    *out->attributes.Add() = kv;
                  }
                }
              }
              if (out->kind != kind) {
                Drop("type_changed");
                continue;
              }
              MergePoint(p, kind, delta, input_key_, *out, now);
            }
          };
          switch (m.data_case()) {
            case pm::Metric::kSum:
              each(m.sum().data_points(), m.sum().is_monotonic() ? Kind::kMonotonic : Kind::kUpDown,
                   IsDelta(m.sum().aggregation_temporality()));
              break;
            case pm::Metric::kGauge:
              each(m.gauge().data_points(), Kind::kGauge, false);
              break;
            case pm::Metric::kHistogram:
              each(m.histogram().data_points(), Kind::kHistogram,
                   IsDelta(m.histogram().aggregation_temporality()));
              break;
            default:
              // Summaries and exponential histograms go on as they are.
              if (passed_rm == nullptr) {
                passed_rm = passthrough.add_resource_metrics();
                *passed_rm->mutable_resource() = rm.resource();
              }
              if (passed_sm == nullptr) {
                passed_sm = passed_rm->add_scope_metrics();
                *passed_sm->mutable_scope() = sm.scope();
              }
              *passed_sm->add_metrics() = m;
              passed += core::CountPoints(m);
          }
        }
      }
    }
  }
  if (passed == 0) return absl::OkStatus();
  return next_->Consume(core::Envelope{std::make_shared<const core::Batch>(std::move(passthrough)),
                                       envelope.acks, envelope.durable});
}

template <class Point>
void AggregateProcessor::MergePoint(const Point& p, Kind kind, bool delta,
                                    const std::string& input_key, Output& out, uint64_t now) {
  auto& in = inputs_[input_key];
  const bool first = in == nullptr;
  if (first) {
    if (inputs_.size() > static_cast<size_t>(config_.max_streams)) {
      inputs_.erase(input_key);
      Drop("stream_limit");
      return;
    }
    in = std::make_unique<Input>();
    in->output = &out;
    in->kind = kind;
    out.inputs.push_back(in.get());
  } else if (p.time_unix_nano() != 0 && p.time_unix_nano() <= in->time) {
    // Older than what this input sent last, or sent again.
    Drop("out_of_order");
    return;
  }
  if constexpr (std::is_same_v<Point, pm::HistogramDataPoint>) {
    const std::vector<double> bounds(p.explicit_bounds().begin(), p.explicit_bounds().end());
    if (out.buckets.empty()) {
      out.bounds = bounds;
      out.buckets.assign(bounds.size() + 1, 0);
    }
    if (bounds != out.bounds || p.bucket_counts_size() != static_cast<int>(out.buckets.size())) {
      Drop("buckets_changed");
      return;
    }
    out.delta_inputs = out.delta_inputs || delta;
    // The increment: all of a delta point, or of a first or reset cumulative one.
    const bool reset = first || delta ||
                       (p.start_time_unix_nano() != 0 && p.start_time_unix_nano() != in->start) ||
                       p.count() < in->count || in->buckets.size() != out.buckets.size();
    for (size_t i = 0; i < out.buckets.size(); ++i) {
      const uint64_t now_count = p.bucket_counts(static_cast<int>(i));
      const uint64_t before = reset ? 0 : in->buckets[i];
      out.buckets[i] += now_count >= before ? now_count - before : now_count;
    }
    out.count += reset ? p.count() : p.count() - in->count;
    out.sum += reset ? p.sum() : p.sum() - in->sum;
    in->count = p.count();
    in->sum = p.sum();
    in->buckets.assign(p.bucket_counts().begin(), p.bucket_counts().end());
  } else {
    const double value = NumberOf(p, &out.integer);
    switch (kind) {
      case Kind::kMonotonic: {
        const bool reset =
            first || delta ||
            (p.start_time_unix_nano() != 0 && p.start_time_unix_nano() != in->start) ||
            value < in->value;
        out.total += reset ? value : value - in->value;
        break;
      }
      case Kind::kUpDown:
        // Deltas add up; a cumulative input counts with its latest value.
        if (delta) out.total += value;
        break;
      case Kind::kGauge:
        if (p.time_unix_nano() >= out.gauge_time) {
          out.gauge_last = value;
          out.gauge_time = p.time_unix_nano();
        }
        break;
      case Kind::kHistogram:
        break;
    }
    in->value = delta ? 0 : value;
  }
  in->start = p.start_time_unix_nano();
  in->time = p.time_unix_nano();
  in->seen = now;
  out.updated = now;
  merged_.Increment();
}

std::optional<core::Batch> AggregateProcessor::BuildLocked(uint64_t now) {
  const uint64_t stale = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(config_.stale_after).count());
  // Inputs that went quiet stop counting; merged series without inputs go.
  for (auto it = inputs_.begin(); it != inputs_.end();) {
    Input& in = *it->second;
    if (now - in.seen > stale) {
      auto& list = in.output->inputs;
      list.erase(std::find(list.begin(), list.end(), &in));
      inputs_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto it = outputs_.begin(); it != outputs_.end();) {
    if (it->second->inputs.empty() && now - it->second->updated > stale) {
      outputs_.erase(it++);
    } else {
      ++it;
    }
  }
  if (outputs_.empty()) return std::nullopt;
  // Grouped by resource, scope and metric name, in a fixed order.
  std::map<std::tuple<size_t, std::string, std::string, std::string>, std::vector<const Output*>>
      groups;
  for (const auto& [key, out] : outputs_) {
    groups[{out->resource, out->scope_name, out->scope_version, out->name}].push_back(out.get());
  }
  core::MetricsRequest request;
  pm::ResourceMetrics* rm = nullptr;
  pm::ScopeMetrics* sm = nullptr;
  size_t last_resource = SIZE_MAX;
  std::string last_scope;
  for (const auto& [group, outs] : groups) {
    const auto& [resource, scope_name, scope_version, name] = group;
    if (resource != last_resource) {
      rm = request.add_resource_metrics();
      *rm->mutable_resource() = resources_[resource];
      last_resource = resource;
      sm = nullptr;
    }
    if (sm == nullptr || scope_name + "\x1f" + scope_version != last_scope) {
      sm = rm->add_scope_metrics();
      sm->mutable_scope()->set_name(scope_name);
      sm->mutable_scope()->set_version(scope_version);
      last_scope = scope_name + "\x1f" + scope_version;
    }
    const Output& first = *outs.front();
    pm::Metric* m = sm->add_metrics();
    m->set_name(name);
    m->set_unit(first.unit);
    m->set_description(first.description);
    for (const Output* out : outs) {
      auto fill = [&](auto* p) {
        *p->mutable_attributes() = out->attributes;
        p->set_time_unix_nano(now);
      };
      auto number = [&](pm::NumberDataPoint* p, double v) {
        fill(p);
        if (out->integer) {
          p->set_as_int(static_cast<int64_t>(v));
        } else {
          p->set_as_double(v);
        }
      };
      switch (out->kind) {
        case Kind::kMonotonic:
        case Kind::kUpDown: {
          auto* sum = m->mutable_sum();
          sum->set_is_monotonic(out->kind == Kind::kMonotonic);
          sum->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
          double v = out->total;
          if (out->kind == Kind::kUpDown) {
            for (const Input* in : out->inputs) v += in->value;
          }
          auto* p = sum->add_data_points();
          number(p, v);
          p->set_start_time_unix_nano(out->start);
          break;
        }
        case Kind::kGauge: {
          double v = out->gauge_last;
          if (config_.gauge_aggregation != "last" && !out->inputs.empty()) {
            v = config_.gauge_aggregation == "sum" ? 0 : out->inputs.front()->value;
            for (const Input* in : out->inputs) {
              v = config_.gauge_aggregation == "sum" ? v + in->value : std::max(v, in->value);
            }
          }
          number(m->mutable_gauge()->add_data_points(), v);
          break;
        }
        case Kind::kHistogram: {
          auto* h = m->mutable_histogram();
          h->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
          auto* p = h->add_data_points();
          fill(p);
          p->set_start_time_unix_nano(out->start);
          p->set_count(out->count);
          p->set_sum(out->sum);
          p->mutable_bucket_counts()->Assign(out->buckets.begin(), out->buckets.end());
          p->mutable_explicit_bounds()->Assign(out->bounds.begin(), out->bounds.end());
          break;
        }
      }
    }
  }
  return core::Batch(std::move(request));
}

absl::Status AggregateProcessor::Flush() {
  std::optional<core::Batch> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch = BuildLocked(now_());
  }
  if (!batch) return absl::OkStatus();
  // Cumulative series: a refused emission is superseded by the next one.
  flushes_.Increment();
  const double points = static_cast<double>(batch->record_count());
  absl::Status s =
      next_->Consume(core::Envelope{std::make_shared<const core::Batch>(std::move(*batch)), {}});
  // Counted once the next stage took them, so that the books balance.
  if (s.ok()) emitted_.Increment(points);
  return s;
}

}  // namespace tributary::processors::aggregate

namespace tributary {

void RegisterProcessorAggregate(core::Registry& registry) {
  using processors::aggregate::AggregateConfig;
  registry.Add(core::MakeFactory<core::Processor, AggregateConfig, core::Signal, core::Consumer*>(
      "aggregate", {core::Signal::kMetrics},
      "Merges the metric series of many senders after dropping the attributes that tell "
      "them apart: increments of cumulative counters and histograms (resets detected), "
      "deltas added, up-down sums and gauges over the live senders.",
      [](const core::CreateContext& ctx, const AggregateConfig& config, core::Signal,
         core::Consumer* next) -> absl::StatusOr<std::unique_ptr<core::Processor>> {
        return std::make_unique<processors::aggregate::AggregateProcessor>(ctx.id.ToString(),
                                                                           config, next);
      }));
}

}  // namespace tributary
