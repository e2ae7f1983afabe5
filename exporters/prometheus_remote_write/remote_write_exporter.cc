#include "exporters/prometheus_remote_write/remote_write_exporter.h"

#include <curl/curl.h>
#include <snappy.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <chrono>
#include <cstring>
#include <future>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "exporters/prometheus/metric_store.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace tributary::exporters::prometheus_remote_write {

namespace pm = opentelemetry::proto::metrics::v1;
namespace prom = tributary::exporters::prometheus;
using ::prometheus::remote::TimeSeries;
using SeriesMap = absl::flat_hash_map<std::string, TimeSeries>;

namespace {

constexpr uint32_t kNoRecordedValue = 1;  // DataPointFlags.FLAG_NO_RECORDED_VALUE

// Prometheus's staleness marker: a NaN with this bit pattern ends a series.
double StaleNaN() {
  const uint64_t bits = 0x7ff0000000000002ull;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

std::string FormatBound(double d) {
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, static_cast<size_t>(end - buf));
}

int64_t TimestampMs(uint64_t unix_nano, int64_t now_ms) {
  return unix_nano == 0 ? now_ms : static_cast<int64_t>(unix_nano / 1000000);
}

double PointValue(const pm::NumberDataPoint& p) {
  return p.value_case() == pm::NumberDataPoint::kAsInt ? static_cast<double>(p.as_int())
                                                       : p.as_double();
}

struct Families {
  ::prometheus::Family<::prometheus::Counter>& sent;
  ::prometheus::Family<::prometheus::Counter>& failed;
  ::prometheus::Family<::prometheus::Counter>& retried;
  ::prometheus::Family<::prometheus::Histogram>& duration;

  static Families& Get() {
    static Families* f = [] {
      auto& r = core::Telemetry::Get().registry();
      return new Families{
          ::prometheus::BuildCounter()
              .Name("tributary_remote_write_samples_sent_total")
              .Help("Samples the remote-write endpoint accepted")
              .Register(r),
          ::prometheus::BuildCounter()
              .Name("tributary_remote_write_samples_failed_total")
              .Help("Samples the remote-write endpoint refused for good, by reason")
              .Register(r),
          ::prometheus::BuildCounter()
              .Name("tributary_remote_write_samples_retried_total")
              .Help("Samples of requests that failed and are sent again")
              .Register(r),
          ::prometheus::BuildHistogram()
              .Name("tributary_remote_write_send_duration_seconds")
              .Help("Time of one remote-write HTTP request")
              .Register(r),
      };
    }();
    return *f;
  }
};

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < 512) body->append(data, std::min<size_t>(size * n, 512 - body->size()));
  return size * n;
}

size_t CollectRetryAfter(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() &&
      absl::AsciiStrToLower(std::string(line.substr(0, kName.size()))) == kName) {
    std::string value(absl::StripAsciiWhitespace(std::string(line.substr(kName.size()))));
    int seconds;
    if (absl::SimpleAtoi(value, &seconds) && seconds >= 0) {
      *static_cast<std::chrono::nanoseconds*>(user) = std::chrono::seconds(seconds);
    }
  }
  return size * n;
}

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
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("tls.cert_file and tls.key_file go together");
  }
  return absl::OkStatus();
}

void SeriesConverter::Emit(const std::string& name,
                           const std::map<std::string, std::string>& labels, const char* extra_name,
                           const std::string& extra_value, double value, int64_t ts, bool delta,
                           SeriesMap* out) {
  prom::Labels sorted;
  sorted.reserve(labels.size() + 2);
  sorted.emplace_back("__name__", name);
  for (const auto& [k, v] : labels) {
    if (extra_name != nullptr && k == extra_name) continue;
    sorted.emplace_back(k, v);
  }
  if (extra_name != nullptr) sorted.emplace_back(extra_name, extra_value);
  std::sort(sorted.begin(), sorted.end());
  std::string key = prom::RenderLabels(sorted);
  if (delta) {
    double& total = totals_[key];
    total += value;
    value = total;
  }
  auto [it, inserted] = out->try_emplace(std::move(key));
  TimeSeries& series = it->second;
  if (inserted) {
    for (auto& [k, v] : sorted) {
      auto* l = series.add_labels();
      l->set_name(std::move(k));
      l->set_value(std::move(v));
    }
  }
  auto* sample = series.add_samples();
  sample->set_value(value);
  sample->set_timestamp(ts);
}

void SeriesConverter::Convert(const ExportMetricsServiceRequest& request, int64_t now_ms,
                              SeriesMap* out) {
  std::map<std::string, std::string> labels;
  for (const auto& rm : request.resource_metrics()) {
    const prom::ResourceLabels resource = prom::TranslateResource(rm.resource());
    std::map<std::string, std::string> base;
    for (const auto& [k, v] : options_.external_labels) base[k] = v;
    if (!resource.job.empty()) base["job"] = resource.job;
    if (!resource.instance.empty()) base["instance"] = resource.instance;
    if (!resource.info.empty()) {
      std::map<std::string, std::string> info = base;
      for (const auto& [k, v] : resource.info) info.emplace(k, v);
      Emit("target_info", info, nullptr, {}, 1, now_ms, false, out);
    }
    for (const auto& sm : rm.scope_metrics()) {
      std::map<std::string, std::string> scoped = base;
      if (options_.scope_labels) {
        if (!sm.scope().name().empty()) scoped["otel_scope_name"] = sm.scope().name();
        if (!sm.scope().version().empty()) scoped["otel_scope_version"] = sm.scope().version();
      }
      for (const pm::Metric& m : sm.metrics()) {
        prom::MetricType type;
        if (!prom::PrometheusType(m, &type)) continue;
        const std::string name = prom::MetricName(m.name(), m.unit(), type, options_.prefix);
        auto point_labels =
            [&](const auto& attributes) -> const std::map<std::string, std::string>& {
          labels = scoped;
          for (auto& [k, v] : prom::AttributeLabels(attributes)) labels.emplace(k, std::move(v));
          return labels;
        };
        // Explicit buckets as _bucket{le}, _sum and _count samples.
        auto histogram = [&](const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                             bool has_sum, double sum, uint64_t count, int64_t ts, bool stale,
                             bool delta) {
          const double nan = StaleNaN();
          uint64_t cumulative = 0;
          for (size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            Emit(name + "_bucket", labels, "le",
                 i < bounds.size() ? FormatBound(bounds[i]) : "+Inf",
                 stale ? nan : static_cast<double>(cumulative), ts, delta && !stale, out);
          }
          if (has_sum)
            Emit(name + "_sum", labels, nullptr, {}, stale ? nan : sum, ts, delta && !stale, out);
          Emit(name + "_count", labels, nullptr, {}, stale ? nan : static_cast<double>(count), ts,
               delta && !stale, out);
        };
        switch (m.data_case()) {
          case pm::Metric::kGauge:
            for (const auto& p : m.gauge().data_points()) {
              const bool stale = p.flags() & kNoRecordedValue;
              Emit(name, point_labels(p.attributes()), nullptr, {},
                   stale ? StaleNaN() : PointValue(p), TimestampMs(p.time_unix_nano(), now_ms),
                   false, out);
            }
            break;
          case pm::Metric::kSum: {
            const bool delta =
                m.sum().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
            for (const auto& p : m.sum().data_points()) {
              const bool stale = p.flags() & kNoRecordedValue;
              Emit(name, point_labels(p.attributes()), nullptr, {},
                   stale ? StaleNaN() : PointValue(p), TimestampMs(p.time_unix_nano(), now_ms),
                   delta && !stale, out);
            }
            break;
          }
          case pm::Metric::kHistogram: {
            const bool delta =
                m.histogram().aggregation_temporality() == pm::AGGREGATION_TEMPORALITY_DELTA;
            for (const auto& p : m.histogram().data_points()) {
              point_labels(p.attributes());
              std::vector<double> bounds(p.explicit_bounds().begin(), p.explicit_bounds().end());
              std::vector<uint64_t> counts(p.bucket_counts().begin(), p.bucket_counts().end());
              if (counts.size() != bounds.size() + 1) {
                bounds.clear();
                counts.assign(1, p.count());
              }
              histogram(bounds, counts, p.has_sum(), p.sum(), p.count(),
                        TimestampMs(p.time_unix_nano(), now_ms), p.flags() & kNoRecordedValue,
                        delta);
            }
            break;
          }
          case pm::Metric::kExponentialHistogram: {
            const bool delta = m.exponential_histogram().aggregation_temporality() ==
                               pm::AGGREGATION_TEMPORALITY_DELTA;
            for (const auto& p : m.exponential_histogram().data_points()) {
              point_labels(p.attributes());
              std::vector<double> bounds;
              std::vector<uint64_t> counts;
              prom::ExponentialToExplicit(p, &bounds, &counts);
              histogram(bounds, counts, true, p.sum(), p.count(),
                        TimestampMs(p.time_unix_nano(), now_ms), p.flags() & kNoRecordedValue,
                        delta);
            }
            break;
          }
          case pm::Metric::kSummary:
            for (const auto& p : m.summary().data_points()) {
              point_labels(p.attributes());
              const int64_t ts = TimestampMs(p.time_unix_nano(), now_ms);
              for (const auto& q : p.quantile_values()) {
                Emit(name, labels, "quantile", FormatBound(q.quantile()), q.value(), ts, false,
                     out);
              }
              Emit(name + "_sum", labels, nullptr, {}, p.sum(), ts, false, out);
              Emit(name + "_count", labels, nullptr, {}, static_cast<double>(p.count()), ts, false,
                   out);
            }
            break;
          case pm::Metric::DATA_NOT_SET:
            break;
        }
      }
    }
  }
}

struct RemoteWriteExporter::Shard {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  ~Shard() {
    if (headers) curl_slist_free_all(headers);
    if (curl) curl_easy_cleanup(curl);
  }
};

namespace {

SeriesConverter::Options ConverterOptions(const RemoteWriteConfig& config) {
  SeriesConverter::Options o;
  o.prefix = config.metric_namespace;
  for (const auto& [k, v] : config.external_labels)
    o.external_labels.emplace_back(prom::LabelName(k), v);
  o.scope_labels = config.scope_labels;
  return o;
}

}  // namespace

RemoteWriteExporter::RemoteWriteExporter(std::string id, RemoteWriteConfig config)
    : id_(std::move(id)), config_(std::move(config)), converter_(ConverterOptions(config_)) {
  Families& f = Families::Get();
  sent_ = &f.sent.Add({{"exporter", id_}});
  retried_ = &f.retried.Add({{"exporter", id_}});
  duration_ = &f.duration.Add(
      {{"exporter", id_}},
      ::prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30});
}

RemoteWriteExporter::~RemoteWriteExporter() = default;

absl::Status RemoteWriteExporter::Start() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (int64_t i = 0; i < config_.shards; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->curl = curl_easy_init();
    if (shard->curl == nullptr) return absl::InternalError("curl_easy_init failed");
    CURL* c = shard->curl;
    curl_slist* h = nullptr;
    h = curl_slist_append(h, "Content-Type: application/x-protobuf");
    h = curl_slist_append(h, "Content-Encoding: snappy");
    h = curl_slist_append(h, "X-Prometheus-Remote-Write-Version: 0.1.0");
    h = curl_slist_append(h, "User-Agent: tributary");
    h = curl_slist_append(h, "Expect:");
    if (!config_.bearer_token.empty()) {
      h = curl_slist_append(h, ("Authorization: Bearer " + config_.bearer_token).c_str());
    }
    for (const auto& [k, v] : config_.headers) h = curl_slist_append(h, (k + ": " + v).c_str());
    shard->headers = h;
    curl_easy_setopt(c, CURLOPT_URL, config_.endpoint.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectBody);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, CollectRetryAfter);
    if (config_.basic_auth) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, config_.basic_auth->username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, config_.basic_auth->password.c_str());
    }
    if (!config_.tls.ca_file.empty())
      curl_easy_setopt(c, CURLOPT_CAINFO, config_.tls.ca_file.c_str());
    if (!config_.tls.cert_file.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLCERT, config_.tls.cert_file.c_str());
      curl_easy_setopt(c, CURLOPT_SSLKEY, config_.tls.key_file.c_str());
    }
    if (config_.tls.insecure_skip_verify) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    shards_.push_back(std::move(shard));
  }
  core::Log(core::LogLevel::kInfo, id_, "remote write",
            absl::StrCat("endpoint=", config_.endpoint, " shards=", config_.shards));
  return absl::OkStatus();
}

void RemoteWriteExporter::Shutdown(core::Deadline) noexcept {}

RemoteWriteExporter::SendResult RemoteWriteExporter::SendShard(size_t index) {
  Shard& shard = *shards_[index];
  std::vector<Body>& bodies = pending_[index];
  size_t& next = next_body_[index];
  Families& f = Families::Get();
  for (; next < bodies.size(); ++next) {
    const Body& body = bodies[next];
    std::string response;
    std::chrono::nanoseconds retry_after{0};
    curl_easy_setopt(shard.curl, CURLOPT_POSTFIELDS, body.bytes.data());
    curl_easy_setopt(shard.curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.bytes.size()));
    curl_easy_setopt(shard.curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(shard.curl, CURLOPT_HEADERDATA, &retry_after);
    const auto begin = std::chrono::steady_clock::now();
    const CURLcode rc = curl_easy_perform(shard.curl);
    duration_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count());
    const double samples = static_cast<double>(body.samples);
    if (rc != CURLE_OK) {
      retried_->Increment(samples);
      return {absl::UnavailableError(
                  absl::StrCat("remote write to ", config_.endpoint, ": ", curl_easy_strerror(rc))),
              retry_after};
    }
    long code = 0;
    curl_easy_getinfo(shard.curl, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
      sent_->Increment(samples);
      continue;
    }
    const std::string message = absl::StrCat("remote write to ", config_.endpoint, ": HTTP ", code,
                                             ": ", absl::StripAsciiWhitespace(response));
    if (code == 429 || code >= 500) {
      retried_->Increment(samples);
      return {absl::UnavailableError(message), retry_after};
    }
    f.failed.Add({{"exporter", id_}, {"reason", absl::StrCat("http_", code)}}).Increment(samples);
    return {absl::InvalidArgumentError(message), {}};
  }
  return {absl::OkStatus(), {}};
}

absl::Status RemoteWriteExporter::Export(const core::Batch& batch,
                                         core::ExportReport& report) noexcept {
  if (batch.signal() != core::Signal::kMetrics || shards_.empty()) return absl::OkStatus();
  if (report.attempt == 0 || pending_.empty()) {
    // A new batch: translate it once (delta totals move once), cut it into
    // compressed requests per shard.
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    SeriesMap series;
    converter_.Convert(batch.metrics(), now_ms, &series);
    const size_t n = shards_.size();
    std::vector<::prometheus::remote::WriteRequest> building(n);
    std::vector<size_t> building_samples(n, 0);
    pending_.assign(n, {});
    next_body_.assign(n, 0);
    std::hash<std::string> hash;
    auto finish = [&](size_t s) {
      Body body;
      const std::string raw = building[s].SerializeAsString();
      snappy::Compress(raw.data(), raw.size(), &body.bytes);
      body.samples = building_samples[s];
      pending_[s].push_back(std::move(body));
      building[s].Clear();
      building_samples[s] = 0;
    };
    for (auto& [key, ts] : series) {
      auto* samples = ts.mutable_samples();
      std::stable_sort(samples->begin(), samples->end(),
                       [](const auto& a, const auto& b) { return a.timestamp() < b.timestamp(); });
      const size_t s = hash(key) % n;
      building_samples[s] += static_cast<size_t>(samples->size());
      building[s].add_timeseries()->Swap(&ts);
      if (building_samples[s] >= static_cast<size_t>(config_.max_samples_per_send)) finish(s);
    }
    for (size_t s = 0; s < n; ++s) {
      if (building_samples[s] > 0) finish(s);
    }
  }
  std::vector<std::future<SendResult>> results;
  for (size_t s = 0; s < shards_.size(); ++s) {
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
}
}  // namespace tributary
