#include "exporters/prometheus_remote_write/remote_write_exporter.h"

#include <snappy.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/prometheus/translate.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"
#include "tributary/core/wire.h"

namespace tributary::exporters::prometheus_remote_write {

namespace pm = opentelemetry::proto::metrics::v1;
namespace prom = tributary::common::prometheus;

namespace {

using prom::kNoRecordedValue;
using prom::PointValue;

// Prometheus's staleness marker: a NaN with this bit pattern ends a series.
double StaleNaN() {
  const uint64_t bits = 0x7ff0000000000002ull;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

std::string FormatBound(double d) {
  std::string out;
  prom::AppendNumber(d, &out);
  return out;
}

int64_t TimestampMs(uint64_t unix_nano, int64_t now_ms) {
  return unix_nano == 0 ? now_ms : static_cast<int64_t>(unix_nano / 1000000);
}

// This component's self-metric families.
const struct {
  core::MetricFamily<::prometheus::Counter> sent{"tributary_remote_write_samples_sent_total",
                                                 "Samples the remote-write endpoint accepted"};
  core::MetricFamily<::prometheus::Counter> failed{
      "tributary_remote_write_samples_failed_total",
      "Samples the remote-write endpoint refused for good, by reason"};
  core::MetricFamily<::prometheus::Counter> retried{
      "tributary_remote_write_samples_retried_total",
      "Samples of requests that failed and are sent again"};
  core::MetricFamily<::prometheus::Histogram> duration{
      "tributary_remote_write_send_duration_seconds", "Time of one remote-write HTTP request"};
} kFamilies;

}  // namespace

absl::Status RemoteWriteConfig::Validate() const {
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError("endpoint must be an http:// or https:// URL");
  }
  if (shards < 1 || shards > 256) return absl::InvalidArgumentError("shards must be 1..256");
  if (max_samples_per_send < 1) {
    return absl::InvalidArgumentError("max_samples_per_send must be >= 1");
  }
  if (timeout.count() <= 0) return absl::InvalidArgumentError("timeout must be > 0");
  if (basic_auth && !bearer_token.empty()) {
    return absl::InvalidArgumentError("basic_auth and bearer_token exclude each other");
  }
  if (absl::Status s = http.Validate(); !s.ok()) return s;
  return common::tls::ValidateFor(tls, common::http::kHttpTlsSupport);
}

namespace {

using core::wire::AppendVarint;
using core::wire::VarintSize;

// One Label message as field 1 of TimeSeries.
void AppendLabel(std::string_view name, std::string_view value, std::string* out) {
  const size_t inner =
      1 + VarintSize(name.size()) + name.size() + 1 + VarintSize(value.size()) + value.size();
  out->push_back(0x0A);
  AppendVarint(inner, out);
  out->push_back(0x0A);
  AppendVarint(name.size(), out);
  out->append(name);
  out->push_back(0x12);
  AppendVarint(value.size(), out);
  out->append(value);
}

// A Sample message: value (double, field 1), timestamp (int64, field 2).
size_t SampleSize(const Sample& s) {
  return 9 + (s.timestamp_ms == 0 ? 0 : 1 + VarintSize(static_cast<uint64_t>(s.timestamp_ms)));
}

// Merges base and point labels (both sorted; base wins a clash) into one
// sorted list.
void MergeLabels(const prom::Labels& base, const prom::Labels& point, prom::Labels* out) {
  out->clear();
  size_t i = 0;
  size_t j = 0;
  while (i < base.size() || j < point.size()) {
    if (j == point.size() || (i < base.size() && base[i].first <= point[j].first)) {
      if (j < point.size() && base[i].first == point[j].first) ++j;
      out->push_back(base[i++]);
    } else {
      out->push_back(point[j++]);
    }
  }
}

}  // namespace

void AppendTimeSeries(const std::string& labels, absl::InlinedVector<Sample, 1>& samples,
                      std::string* out) {
  std::stable_sort(samples.begin(), samples.end(), [](const Sample& a, const Sample& b) {
    return a.timestamp_ms < b.timestamp_ms;
  });
  size_t inner = labels.size();
  for (const Sample& s : samples) {
    const size_t n = SampleSize(s);
    inner += 1 + VarintSize(n) + n;
  }
  out->push_back(0x0A);
  AppendVarint(inner, out);
  out->append(labels);
  for (const Sample& s : samples) {
    out->push_back(0x12);
    AppendVarint(SampleSize(s), out);
    out->push_back(0x09);
    char bytes[8];
    std::memcpy(bytes, &s.value, 8);  // little-endian, as protobuf's fixed64
    out->append(bytes, 8);
    if (s.timestamp_ms != 0) {
      out->push_back(0x10);
      AppendVarint(static_cast<uint64_t>(s.timestamp_ms), out);
    }
  }
}

SeriesConverter::SeriesConverter(Options options) : options_(std::move(options)) {
  external_ = options_.external_labels;
  std::sort(external_.begin(), external_.end());
}

void SeriesConverter::Emit(std::string_view name, const prom::Labels& labels,
                           const char* extra_name, std::string_view extra_value, double value,
                           int64_t ts, bool delta, SeriesMap* out) {
  // Labels in name order with __name__ and the extra label in their places.
  key_.clear();
  std::pair<std::string_view, std::string_view> added[2] = {{"__name__", name}, {}};
  size_t n_added = 1;
  if (extra_name != nullptr) {
    added[n_added++] = {extra_name, extra_value};
    if (added[1].first < added[0].first) std::swap(added[0], added[1]);
  }
  size_t next = 0;
  for (const auto& [k, v] : labels) {
    if (k == "__name__" || (extra_name != nullptr && k == extra_name)) continue;
    while (next < n_added && added[next].first < k) {
      AppendLabel(added[next].first, added[next].second, &key_);
      ++next;
    }
    AppendLabel(k, v, &key_);
  }
  for (; next < n_added; ++next) AppendLabel(added[next].first, added[next].second, &key_);
  if (delta) {
    Total& total = totals_[key_];
    total.value += value;
    total.seen_ms = now_ms_;
    value = total.value;
  }
  auto it = out->find(key_);
  if (it == out->end()) it = out->try_emplace(key_).first;
  it->second.push_back(Sample{ts, value});
}

void SeriesConverter::Convert(const ExportMetricsServiceRequest& request, int64_t now_ms,
                              SeriesMap* out) {
  now_ms_ = now_ms;
  const int64_t expiration_ms = options_.expiration.count();
  if (now_ms - pruned_ms_ >= std::min<int64_t>(expiration_ms, 60000)) {
    pruned_ms_ = now_ms;
    absl::erase_if(totals_,
                   [&](const auto& e) { return e.second.seen_ms < now_ms - expiration_ms; });
  }
  for (const auto& rm : request.resource_metrics()) {
    const prom::ResourceLabels resource = prom::TranslateResource(rm.resource());
    prom::Labels own;
    if (!resource.job.empty()) own.emplace_back("job", resource.job);
    if (!resource.instance.empty()) own.emplace_back("instance", resource.instance);
    std::sort(own.begin(), own.end());
    prom::Labels base;
    MergeLabels(own, external_, &base);
    if (!resource.info.empty()) {
      prom::Labels info;
      MergeLabels(base, resource.info, &info);
      Emit("target_info", info, nullptr, {}, 1, now_ms, false, out);
    }
    for (const auto& sm : rm.scope_metrics()) {
      prom::Labels scope;
      if (options_.scope_labels) {
        if (!sm.scope().name().empty()) scope.emplace_back("otel_scope_name", sm.scope().name());
        if (!sm.scope().version().empty()) {
          scope.emplace_back("otel_scope_version", sm.scope().version());
        }
      }
      prom::Labels scoped;
      MergeLabels(base, scope, &scoped);
      for (const pm::Metric& m : sm.metrics()) ConvertMetric(m, scoped, out);
    }
  }
}

void SeriesConverter::EmitHistogram(const std::string& name, const prom::Labels& labels,
                                    const std::vector<double>& bounds,
                                    const std::vector<uint64_t>& counts, bool has_sum, double sum,
                                    uint64_t count, int64_t ts, bool stale, bool delta,
                                    SeriesMap* out) {
  const double nan = StaleNaN();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    Emit(name + "_bucket", labels, "le", i < bounds.size() ? FormatBound(bounds[i]) : "+Inf",
         stale ? nan : static_cast<double>(cumulative), ts, delta && !stale, out);
  }
  if (has_sum)
    Emit(name + "_sum", labels, nullptr, {}, stale ? nan : sum, ts, delta && !stale, out);
  Emit(name + "_count", labels, nullptr, {}, stale ? nan : static_cast<double>(count), ts,
       delta && !stale, out);
}

void SeriesConverter::ConvertMetric(const pm::Metric& m, const prom::Labels& scoped,
                                    SeriesMap* out) {
  prom::MetricType type;
  if (!prom::PrometheusType(m, &type)) return;
  const std::string name = prom::MetricName(m.name(), m.unit(), type, options_.prefix);
  prom::Labels labels;
  auto point_labels = [&](const auto& attributes) -> const prom::Labels& {
    MergeLabels(scoped, prom::AttributeLabels(attributes), &labels);
    return labels;
  };
  switch (m.data_case()) {
    case pm::Metric::kGauge:
      for (const auto& p : m.gauge().data_points()) {
        const bool stale = p.flags() & kNoRecordedValue;
        Emit(name, point_labels(p.attributes()), nullptr, {}, stale ? StaleNaN() : PointValue(p),
             TimestampMs(p.time_unix_nano(), now_ms_), false, out);
      }
      break;
    case pm::Metric::kSum: {
      const bool delta = m.sum().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
      for (const auto& p : m.sum().data_points()) {
        const bool stale = p.flags() & kNoRecordedValue;
        Emit(name, point_labels(p.attributes()), nullptr, {}, stale ? StaleNaN() : PointValue(p),
             TimestampMs(p.time_unix_nano(), now_ms_), delta && !stale, out);
      }
      break;
    }
    case pm::Metric::kHistogram: {
      const bool delta =
          m.histogram().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
      for (const auto& p : m.histogram().data_points()) {
        std::vector<double> bounds(p.explicit_bounds().begin(), p.explicit_bounds().end());
        std::vector<uint64_t> counts(p.bucket_counts().begin(), p.bucket_counts().end());
        // No buckets at all: only count and sum, in the +Inf bucket.
        if (counts.size() != bounds.size() + 1) {
          bounds.clear();
          counts.assign(1, p.count());
        }
        EmitHistogram(name, point_labels(p.attributes()), bounds, counts, p.has_sum(), p.sum(),
                      p.count(), TimestampMs(p.time_unix_nano(), now_ms_),
                      p.flags() & kNoRecordedValue, delta, out);
      }
      break;
    }
    case pm::Metric::kExponentialHistogram: {
      const bool delta =
          m.exponential_histogram().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
      for (const auto& p : m.exponential_histogram().data_points()) {
        std::vector<double> bounds;
        std::vector<uint64_t> counts;
        prom::ExponentialToExplicit(p, &bounds, &counts);
        EmitHistogram(name, point_labels(p.attributes()), bounds, counts, true, p.sum(), p.count(),
                      TimestampMs(p.time_unix_nano(), now_ms_), p.flags() & kNoRecordedValue, delta,
                      out);
      }
      break;
    }
    case pm::Metric::kSummary:
      for (const auto& p : m.summary().data_points()) {
        point_labels(p.attributes());
        const int64_t ts = TimestampMs(p.time_unix_nano(), now_ms_);
        for (const auto& q : p.quantile_values()) {
          Emit(name, labels, "quantile", FormatBound(q.quantile()), q.value(), ts, false, out);
        }
        Emit(name + "_sum", labels, nullptr, {}, p.sum(), ts, false, out);
        Emit(name + "_count", labels, nullptr, {}, static_cast<double>(p.count()), ts, false, out);
      }
      break;
    case pm::Metric::DATA_NOT_SET:
      break;
  }
}

namespace {

SeriesConverter::Options ConverterOptions(const RemoteWriteConfig& config) {
  SeriesConverter::Options o;
  o.prefix = config.metric_namespace;
  for (const auto& [k, v] : config.external_labels)
    o.external_labels.emplace_back(prom::LabelName(k), v);
  o.scope_labels = config.scope_labels && !config.disable_scope_info;
  o.expiration = config.metric_expiration;
  return o;
}

}  // namespace

RemoteWriteExporter::RemoteWriteExporter(std::string id, RemoteWriteConfig config)
    : id_(std::move(id)), config_(std::move(config)), converter_(ConverterOptions(config_)) {
  const auto& f = kFamilies;
  sent_ = &f.sent.Add({{"exporter", id_}});
  retried_ = &f.retried.Add({{"exporter", id_}});
  duration_ = &f.duration.Add(
      {{"exporter", id_}},
      ::prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30});
}

RemoteWriteExporter::~RemoteWriteExporter() = default;

absl::Status RemoteWriteExporter::Start() {
  common::http::ClientOptions options;
  options.tls = config_.tls;
  options.basic_auth = config_.basic_auth;
  options.timeout = config_.timeout;
  config_.http.ApplyTo(options);
  options.headers = {"Content-Type: application/x-protobuf", "Content-Encoding: snappy",
                     "X-Prometheus-Remote-Write-Version: 0.1.0", "User-Agent: tributary"};
  if (!config_.bearer_token.empty()) {
    options.headers.push_back("Authorization: Bearer " + config_.bearer_token);
  }
  for (const auto& [k, v] : config_.headers) options.headers.push_back(k + ": " + v);
  client_ = std::make_unique<common::http::Client>(std::move(options));
  shards_ = static_cast<size_t>(config_.shards);
  core::Log(core::LogLevel::kInfo, id_, "remote write",
            absl::StrCat("endpoint=", config_.endpoint, " shards=", config_.shards));
  return absl::OkStatus();
}

void RemoteWriteExporter::Shutdown(core::Deadline) noexcept {}

RemoteWriteExporter::SendResult RemoteWriteExporter::SendShard(size_t index) {
  std::vector<Body>& bodies = pending_[index];
  size_t& next = next_body_[index];
  const auto& f = kFamilies;
  for (; next < bodies.size(); ++next) {
    const Body& body = bodies[next];
    common::http::Request request;
    request.url = config_.endpoint;
    request.body = body.bytes;
    request.max_response_bytes = 512;  // enough for the error message
    const auto begin = std::chrono::steady_clock::now();
    const common::http::Response response = client_->Send(request);
    duration_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count());
    const double samples = static_cast<double>(body.samples);
    if (response.status == 0) {
      retried_->Increment(samples);
      return {absl::UnavailableError(
                  absl::StrCat("remote write to ", config_.endpoint, ": ", response.error)),
              response.retry_after};
    }
    const long code = response.status;
    if (code >= 200 && code < 300) {
      sent_->Increment(samples);
      continue;
    }
    const std::string message = absl::StrCat("remote write to ", config_.endpoint, ": HTTP ", code,
                                             ": ", absl::StripAsciiWhitespace(response.body));
    if (code == 429 || code >= 500) {
      retried_->Increment(samples);
      return {absl::UnavailableError(message), response.retry_after};
    }
    f.failed.Add({{"exporter", id_}, {"reason", absl::StrCat("http_", code)}}).Increment(samples);
    return {absl::InvalidArgumentError(message), {}};
  }
  return {absl::OkStatus(), {}};
}

absl::Status RemoteWriteExporter::Export(const core::Batch& batch,
                                         core::ExportReport& report) noexcept {
  if (batch.signal() != core::Signal::kMetrics || shards_ == 0) return absl::OkStatus();
  if (report.attempt == 0 || pending_.empty()) {
    // A new batch: translate it once (delta totals move once), cut it into
    // compressed requests per shard.
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    SeriesMap series;
    converter_.Convert(batch.metrics(), now_ms, &series);
    const size_t n = shards_;
    std::vector<std::string> building(n);
    std::vector<size_t> building_samples(n, 0);
    pending_.assign(n, {});
    next_body_.assign(n, 0);
    std::hash<std::string> hash;
    auto finish = [&](size_t s) {
      Body body;
      snappy::Compress(building[s].data(), building[s].size(), &body.bytes);
      body.samples = building_samples[s];
      pending_[s].push_back(std::move(body));
      building[s].clear();
      building_samples[s] = 0;
    };
    for (auto& [labels, samples] : series) {
      const size_t s = hash(labels) % n;
      building_samples[s] += samples.size();
      AppendTimeSeries(labels, samples, &building[s]);
      if (building_samples[s] >= static_cast<size_t>(config_.max_samples_per_send)) finish(s);
    }
    for (size_t s = 0; s < n; ++s) {
      if (building_samples[s] > 0) finish(s);
    }
  }
  std::vector<std::future<SendResult>> results;
  for (size_t s = 0; s < shards_; ++s) {
    if (next_body_[s] < pending_[s].size()) {
      results.push_back(std::async(std::launch::async, [this, s] { return SendShard(s); }));
    }
  }
  absl::Status retryable;
  absl::Status permanent;
  for (auto& r : results) {
    SendResult result = r.get();
    if (result.status.ok()) continue;
    if (core::IsRetryable(result.status)) {
      if (retryable.ok()) retryable = result.status;
      report.retry_after = std::max(report.retry_after, result.retry_after);
    } else if (permanent.ok()) {
      permanent = result.status;
    }
  }
  if (!permanent.ok() || retryable.ok()) {
    pending_.clear();
    next_body_.clear();
    return permanent;
  }
  return retryable;
}

}  // namespace tributary::exporters::prometheus_remote_write

namespace tributary {
void RegisterExporterPrometheusRemoteWrite(core::Registry& registry) {
  using exporters::prometheus_remote_write::RemoteWriteConfig;
  registry.Add(core::MakeFactory<core::Exporter, RemoteWriteConfig>(
      "prometheus_remote_write", {core::Signal::kMetrics},
      "Sends metrics with the Prometheus remote-write 1.0 protocol (Prometheus, Mimir, Thanos, "
      "VictoriaMetrics).",
      [](const core::CreateContext& ctx,
         const RemoteWriteConfig& config) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::prometheus_remote_write::RemoteWriteExporter>(
            ctx.id.ToString(), config);
      }));
  registry.AddExporterAlias("prometheusremotewrite", "prometheus_remote_write");
}
}  // namespace tributary
