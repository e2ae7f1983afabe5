#include "exporters/prometheus/metric_store.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tributary::exporters::prometheus {

using ::tributary::common::prometheus::AppendNumber;
using ::tributary::common::prometheus::AttributeLabels;
using ::tributary::common::prometheus::ExponentialToExplicit;
using ::tributary::common::prometheus::kNoRecordedValue;
using ::tributary::common::prometheus::Labels;
using ::tributary::common::prometheus::MetricName;
using ::tributary::common::prometheus::MetricType;
using ::tributary::common::prometheus::PointValue;
using ::tributary::common::prometheus::PrometheusType;
using ::tributary::common::prometheus::RenderLabels;
using ::tributary::common::prometheus::ResourceLabels;
using ::tributary::common::prometheus::TranslateResource;
using ::tributary::common::prometheus::UnitWords;

namespace pm = opentelemetry::proto::metrics::v1;
using Clock = std::chrono::steady_clock;

namespace {

void AppendNumber(uint64_t v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, static_cast<size_t>(end - buf));
}

// `name{labels,extra} ` for one sample line.
void AppendSampleStart(const std::string& name, std::string_view suffix, std::string_view labels,
                       std::string_view extra, std::string* out) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty() || !extra.empty()) {
    out->push_back('{');
    out->append(labels);
    if (!labels.empty() && !extra.empty()) out->push_back(',');
    out->append(extra);
    out->push_back('}');
  }
  out->push_back(' ');
}

void AppendHelp(std::string_view help, bool open_metrics, std::string* out) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && open_metrics) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

const char* TypeWord(MetricType type, bool open_metrics) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kInfo:
      return open_metrics ? "info" : "gauge";
  }
  return "untyped";
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

MetricStore::Family* MetricStore::FamilyFor(const std::string& name, MetricType type,
                                            AddResult* result) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
  } else if (it->second.type != type) {
    if (result->error.empty()) {
      result->error = absl::StrCat("metric ", name, " is already exposed with another type");
    }
    return nullptr;
  }
  return &it->second;
}

std::pair<MetricStore::Series&, bool> MetricStore::SeriesFor(Family* family,
                                                             std::string_view labels) {
  if (auto it = family->series.find(labels); it != family->series.end()) return {it->second, false};
  return {family->series.try_emplace(SharedText(labels)).first->second, true};
}

MetricStore::Buckets& MetricStore::OwnBuckets(Series& s) {
  // Only a snapshot can hold another reference, and none is taken while the
  // store is locked: a count of 1 stays 1 until the change is made.
  if (s.buckets.use_count() > 1) s.buckets = std::make_shared<Buckets>(*s.buckets);
  return *s.buckets;
}

template <class Point>
MetricStore::Buckets& MetricStore::NewBuckets(Series& s, std::vector<double> bounds,
                                              std::vector<uint64_t> counts, const Point& p) {
  auto b = std::make_shared<Buckets>();
  b->bounds = std::move(bounds);
  b->counts = std::move(counts);
  b->sum = p.sum();
  b->has_sum = true;
  b->count = p.count();
  s.buckets = std::move(b);
  s.start_unix_nano = p.start_time_unix_nano();
  return *s.buckets;
}

void MetricStore::SetHistogram(Series& s, const pm::HistogramDataPoint& p, bool delta) {
  std::vector<double> bounds(p.explicit_bounds().begin(), p.explicit_bounds().end());
  std::vector<uint64_t> counts(p.bucket_counts().begin(), p.bucket_counts().end());
  // No buckets at all: only count and sum, in the +Inf bucket.
  if (counts.size() != bounds.size() + 1) {
    bounds.clear();
    counts.assign(1, p.count());
  }
  const bool add = delta && s.buckets && !s.buckets->exponential && s.buckets->bounds == bounds;
  if (!add) {
    std::shared_ptr<Buckets> old = s.buckets;
    Buckets& b = NewBuckets(s, std::move(bounds), std::move(counts), p);
    SetExemplars(p, old, b);
    return;
  }
  Buckets& b = OwnBuckets(s);
  for (size_t i = 0; i < counts.size(); ++i) b.counts[i] += counts[i];
  b.sum += p.sum();
  b.count += p.count();
  b.has_sum = b.has_sum || p.has_sum();
  SetExemplars(p, nullptr, b);
}

void MetricStore::SetExemplars(const pm::HistogramDataPoint& p, const std::shared_ptr<Buckets>& old,
                               Buckets& b) {
  // The exemplars of the series' earlier buckets, when they are the same.
  if (old && !old->exemplars.empty() && old->bounds == b.bounds && b.exemplars.empty()) {
    b.exemplars = old->exemplars;
  }
  for (const pm::Exemplar& e : p.exemplars()) {
    if (e.trace_id().size() != 16 || e.span_id().size() != 8) continue;
    const double value =
        e.value_case() == pm::Exemplar::kAsInt ? static_cast<double>(e.as_int()) : e.as_double();
    const size_t bucket =
        std::lower_bound(b.bounds.begin(), b.bounds.end(), value) - b.bounds.begin();
    if (b.exemplars.empty()) b.exemplars.resize(b.counts.size());
    Exemplar& x = b.exemplars[std::min(bucket, b.exemplars.size() - 1)];
    if (!x.labels.empty() && x.time_unix_nano > e.time_unix_nano()) continue;
    x.labels = absl::StrCat("trace_id=\"", absl::BytesToHexString(e.trace_id()), "\",span_id=\"",
                            absl::BytesToHexString(e.span_id()), "\"");
    x.value = value;
    x.time_unix_nano = e.time_unix_nano();
  }
}

void MetricStore::SetExponentialHistogram(Series& s, const pm::ExponentialHistogramDataPoint& p,
                                          bool delta) {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;
  ExponentialToExplicit(p, &bounds, &counts);
  if (delta && s.buckets && s.buckets->exponential && s.buckets->scale == p.scale()) {
    // Buckets of one scale are the same ranges: merge them by bound.
    std::map<double, uint64_t> merged;
    Buckets& b = OwnBuckets(s);
    for (size_t i = 0; i < b.bounds.size(); ++i) merged[b.bounds[i]] += b.counts[i];
    for (size_t i = 0; i < bounds.size(); ++i) merged[bounds[i]] += counts[i];
    const uint64_t inf = b.counts.back() + counts.back();
    b.bounds.clear();
    b.counts.clear();
    for (const auto& [bound, count] : merged) {
      b.bounds.push_back(bound);
      b.counts.push_back(count);
    }
    b.counts.push_back(inf);
    b.sum += p.sum();
    b.count += p.count();
    return;
  }
  Buckets& b = NewBuckets(s, std::move(bounds), std::move(counts), p);
  b.scale = p.scale();
  b.exponential = true;
}

void MetricStore::SetSummary(Series& s, const pm::SummaryDataPoint& p) {
  auto q = std::make_shared<Quantiles>();
  for (const auto& v : p.quantile_values()) q->values.emplace_back(v.quantile(), v.value());
  q->sum = p.sum();
  q->count = p.count();
  s.quantiles = std::move(q);
  s.start_unix_nano = p.start_time_unix_nano();
}

void MetricStore::AddTargetInfo(const std::map<std::string, std::string>& base,
                                const Labels& info_labels, Clock::time_point now,
                                AddResult* result) {
  std::map<std::string, std::string> info(base.begin(), base.end());
  for (const auto& [k, v] : info_labels) info.emplace(k, v);
  Labels sorted(info.begin(), info.end());
  if (Family* f = FamilyFor("target_info", MetricType::kInfo, result)) {
    if (f->help.empty()) f->help = "Target metadata";
    Series& s = SeriesFor(f, RenderLabels(sorted)).first;
    s.value = 1;
    s.updated = now;
  }
}

void MetricStore::AddMetric(const pm::Metric& m, const std::map<std::string, std::string>& scoped,
                            Clock::time_point now, AddResult* result) {
  MetricType type;
  if (!PrometheusType(m, &type)) return;
  const std::string name = MetricName(m.name(), m.unit(), type, options_.prefix);
  const size_t points = core::CountPoints(m);
  result->points += points;
  Family* family = FamilyFor(name, type, result);
  if (family == nullptr) {
    result->dropped += points;
    return;
  }
  // promtool wants help text on every family: the OTLP name stands in.
  if (family->help.empty()) family->help = m.description().empty() ? m.name() : m.description();
  if (family->unit.empty()) {
    family->unit = type == MetricType::kGauge && m.unit() == "1" ? "ratio" : UnitWords(m.unit());
  }
  // The series of a point, and whether it is new.
  std::map<std::string, std::string> labels;
  auto series_for = [&](const auto& attributes) -> std::pair<Series*, bool> {
    labels = scoped;
    for (auto& [k, v] : AttributeLabels(attributes)) labels.emplace(k, std::move(v));
    auto [s, inserted] = SeriesFor(family, RenderLabels(Labels(labels.begin(), labels.end())));
    s.updated = now;
    return {&s, inserted};
  };
  switch (m.data_case()) {
    case pm::Metric::kGauge:
      for (const auto& p : m.gauge().data_points()) {
        if (p.flags() & kNoRecordedValue) continue;
        series_for(p.attributes()).first->value = PointValue(p);
      }
      break;
    case pm::Metric::kSum: {
      const bool delta = m.sum().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
      for (const auto& p : m.sum().data_points()) {
        if (p.flags() & kNoRecordedValue) continue;
        auto [s, fresh] = series_for(p.attributes());
        if (delta && !fresh) {
          s->value += PointValue(p);
        } else {
          s->value = PointValue(p);
          s->start_unix_nano = p.start_time_unix_nano();
        }
      }
      break;
    }
    case pm::Metric::kHistogram: {
      const bool delta =
          m.histogram().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
      for (const auto& p : m.histogram().data_points()) {
        if (p.flags() & kNoRecordedValue) continue;
        SetHistogram(*series_for(p.attributes()).first, p, delta);
      }
      break;
    }
    case pm::Metric::kExponentialHistogram: {
      const bool delta =
          m.exponential_histogram().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
      for (const auto& p : m.exponential_histogram().data_points()) {
        if (p.flags() & kNoRecordedValue) continue;
        SetExponentialHistogram(*series_for(p.attributes()).first, p, delta);
      }
      break;
    }
    case pm::Metric::kSummary:
      for (const auto& p : m.summary().data_points()) {
        if (p.flags() & kNoRecordedValue) continue;
        SetSummary(*series_for(p.attributes()).first, p);
      }
      break;
    case pm::Metric::DATA_NOT_SET:
      break;
  }
}

MetricStore::AddResult MetricStore::Add(const MetricsRequest& request, Clock::time_point now) {
  AddResult result;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& rm : request.resource_metrics()) {
    const ResourceLabels resource = TranslateResource(rm.resource());
    std::map<std::string, std::string> base;
    for (const auto& [k, v] : options_.const_labels) base[k] = v;
    if (!resource.job.empty()) base["job"] = resource.job;
    if (!resource.instance.empty()) base["instance"] = resource.instance;
    if (!resource.info.empty()) AddTargetInfo(base, resource.info, now, &result);
    for (const auto& sm : rm.scope_metrics()) {
      std::map<std::string, std::string> scoped = base;
      if (options_.scope_labels) {
        if (!sm.scope().name().empty()) scoped["otel_scope_name"] = sm.scope().name();
        if (!sm.scope().version().empty()) scoped["otel_scope_version"] = sm.scope().version();
      }
      for (const pm::Metric& m : sm.metrics()) AddMetric(m, scoped, now, &result);
    }
  }
  return result;
}

size_t MetricStore::Expire(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t removed = 0;
  const Clock::time_point cutoff = now - options_.expiration;
  for (auto it = families_.begin(); it != families_.end();) {
    auto& series = it->second.series;
    removed +=
        absl::erase_if(series, [&](const auto& entry) { return entry.second.updated < cutoff; });
    if (series.empty()) {
      it = families_.erase(it);
    } else {
      ++it;
    }
  }
  return removed;
}

size_t MetricStore::series() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [name, family] : families_) n += family.series.size();
  return n;
}

void MetricStore::RenderBuckets(const std::string& name, std::string_view labels, const Buckets& b,
                                bool exemplars, std::string* extra, std::string* out) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < b.counts.size(); ++i) {
    cumulative += b.counts[i];
    *extra = "le=\"";
    if (i < b.bounds.size()) {
      AppendNumber(b.bounds[i], extra);
    } else {
      extra->append("+Inf");
    }
    extra->push_back('"');
    AppendSampleStart(name, "_bucket", labels, *extra, out);
    AppendNumber(cumulative, out);
    if (exemplars && i < b.exemplars.size() && !b.exemplars[i].labels.empty()) {
      const Exemplar& e = b.exemplars[i];
      absl::StrAppend(out, " # {", e.labels, "} ");
      AppendNumber(e.value, out);
      if (e.time_unix_nano != 0) {
        out->push_back(' ');
        AppendNumber(static_cast<double>(e.time_unix_nano) / 1e9, out);
      }
    }
    out->push_back('\n');
  }
  if (b.has_sum) {
    AppendSampleStart(name, "_sum", labels, "", out);
    AppendNumber(b.sum, out);
    out->push_back('\n');
  }
  AppendSampleStart(name, "_count", labels, "", out);
  AppendNumber(b.count, out);
  out->push_back('\n');
}

void MetricStore::RenderQuantiles(const std::string& name, std::string_view labels,
                                  const Quantiles& q, std::string* extra, std::string* out) {
  for (const auto& [quantile, value] : q.values) {
    *extra = "quantile=\"";
    AppendNumber(quantile, extra);
    extra->push_back('"');
    AppendSampleStart(name, "", labels, *extra, out);
    AppendNumber(value, out);
    out->push_back('\n');
  }
  AppendSampleStart(name, "_sum", labels, "", out);
  AppendNumber(q.sum, out);
  out->push_back('\n');
  AppendSampleStart(name, "_count", labels, "", out);
  AppendNumber(q.count, out);
  out->push_back('\n');
}

std::vector<MetricStore::FamilySnapshot> MetricStore::Snapshot() const {
  std::vector<FamilySnapshot> snapshot;
  snapshot.reserve(families_.size());
  for (const auto& [name, family] : families_) {
    FamilySnapshot& f = snapshot.emplace_back();
    f.name = name;
    f.type = family.type;
    f.help = family.help;
    f.unit = family.unit;
    switch (family.type) {
      case MetricType::kCounter:
      case MetricType::kGauge:
      case MetricType::kInfo:
        f.values.reserve(family.series.size());
        for (const auto& [labels, s] : family.series) f.values.emplace_back(labels, s.value);
        break;
      case MetricType::kHistogram:
        f.buckets.reserve(family.series.size());
        for (const auto& [labels, s] : family.series) {
          if (s.buckets) f.buckets.emplace_back(labels, s.buckets);
        }
        break;
      case MetricType::kSummary:
        f.quantiles.reserve(family.series.size());
        for (const auto& [labels, s] : family.series) {
          if (s.quantiles) f.quantiles.emplace_back(labels, s.quantiles);
        }
        break;
    }
  }
  return snapshot;
}

void MetricStore::Render(Format format, std::string* out) const {
  const bool om = format == Format::kOpenMetrics;
  std::vector<FamilySnapshot> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot = Snapshot();
  }
  // About the size of the last exposition: no copying as the text grows.
  const size_t last = last_size_.load(std::memory_order_relaxed);
  out->reserve(out->size() + last + last / 8);
  const size_t start = out->size();
  std::string extra;
  for (const FamilySnapshot& family : snapshot) {
    const std::string& name = family.name;
    // OpenMetrics names a counter family without its _total, an info family
    // without its _info.
    std::string base = name;
    if (om && family.type == MetricType::kCounter && EndsWith(base, "_total")) {
      base.resize(base.size() - 6);
    } else if (om && family.type == MetricType::kInfo && EndsWith(base, "_info")) {
      base.resize(base.size() - 5);
    }
    if (!family.help.empty()) {
      absl::StrAppend(out, "# HELP ", base, " ");
      AppendHelp(family.help, om, out);
      out->push_back('\n');
    }
    absl::StrAppend(out, "# TYPE ", base, " ", TypeWord(family.type, om), "\n");
    if (om && !family.unit.empty() && EndsWith(base, "_" + family.unit)) {
      absl::StrAppend(out, "# UNIT ", base, " ", family.unit, "\n");
    }
    for (const auto& [labels, value] : family.values) {
      AppendSampleStart(name, "", labels.view(), "", out);
      AppendNumber(value, out);
      out->push_back('\n');
    }
    for (const auto& [labels, b] : family.buckets) {
      RenderBuckets(name, labels.view(), *b, om, &extra, out);
    }
    for (const auto& [labels, q] : family.quantiles) {
      RenderQuantiles(name, labels.view(), *q, &extra, out);
    }
  }
  if (om) out->append("# EOF\n");
  last_size_.store(out->size() - start, std::memory_order_relaxed);
}

}  // namespace tributary::exporters::prometheus
