#include "receivers/prometheus_scrape/scrape_receiver.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "re2/re2.h"
#include "tributary/core/attributes.h"
#include "tributary/core/hand_on.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::prometheus_scrape {

namespace {

namespace pm = opentelemetry::proto::metrics::v1;
using Labels = std::vector<std::pair<std::string, std::string>>;

const core::MetricFamily<::prometheus::Counter> kFailures{
    "tributary_scrape_failures_total", "Scrapes that failed, by target and reason"};

// The labels of a sample without `skip` (le, quantile), sorted: the identity
// of its data point.
Labels PointLabels(const Labels& labels, std::string_view skip, bool honor) {
  Labels out;
  for (const auto& [k, v] : labels) {
    if (k == skip) continue;
    if (!honor && (k == "job" || k == "instance")) {
      out.emplace_back("exported_" + k, v);
    } else {
      out.emplace_back(k, v);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Find(const Labels& labels, std::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return "";
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A count or time from an exposition as an unsigned integer: negative and
// NaN values are 0, values beyond the range the largest one.
uint64_t ToU64(double v) {
  if (!(v > 0)) return 0;
  if (v >= 18446744073709549568.0) return UINT64_MAX;
  return static_cast<uint64_t>(v);
}

uint64_t TimeNs(const Sample& s, uint64_t now_ns) {
  return s.timestamp_ms ? ToU64(static_cast<double>(*s.timestamp_ms) * 1e6) : now_ns;
}

}  // namespace

absl::Status ScrapeConfig::Validate() const {
  if (targets.empty() && !kubernetes_pods) {
    return absl::InvalidArgumentError("set targets, kubernetes_pods or both");
  }
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError("scheme must be http or https");
  }
  if (metrics_path.empty() || metrics_path.front() != '/') {
    return absl::InvalidArgumentError("metrics_path must start with /");
  }
  if (scrape_timeout.count() <= 0 || scrape_timeout > scrape_interval) {
    return absl::InvalidArgumentError("scrape_timeout must be > 0 and at most scrape_interval");
  }
  for (const auto* m : {&keep, &drop}) {
    for (const auto& [label, re] : *m) {
      re2::RE2 compiled(re, re2::RE2::Quiet);
      if (!compiled.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid RE2 for ", label, ": ", compiled.error()));
      }
    }
  }
  return absl::OkStatus();
}

Converter::Converter(Options options) : options_(std::move(options)) {}
Converter::~Converter() = default;

bool Converter::Keep(const Sample& s) const {
  auto value = [&s](const std::string& label) {
    return label == "__name__" ? s.name : Find(s.labels, label);
  };
  for (const auto& [label, re] : options_.keep) {
    if (!re2::RE2::FullMatch(value(label), *re)) return false;
  }
  for (const auto& [label, re] : options_.drop) {
    if (re2::RE2::FullMatch(value(label), *re)) return false;
  }
  return true;
}

namespace {

// Start times from _created samples, by point labels.
using CreatedTimes = absl::flat_hash_map<std::string, uint64_t>;

std::string PointKey(const Labels& labels) {
  std::string k;
  for (const auto& [a, b] : labels) absl::StrAppend(&k, a, "\x01", b, "\x02");
  return k;
}

CreatedTimes CreatedTimesOf(const Family& f, bool honor) {
  CreatedTimes created;
  for (const Sample& s : f.samples) {
    if (EndsWith(s.name, "_created") && s.name != f.name) {
      created[PointKey(PointLabels(s.labels, "", honor))] = ToU64(s.value * 1e9);
    }
  }
  return created;
}

// One point of a histogram or summary family, gathered from its samples.
struct BucketPoint {
  Labels labels;
  std::vector<std::pair<double, double>> buckets;  // le or quantile, value
  double sum = 0;
  double count = 0;
  bool has_count = false;
  uint64_t time = 0;
};

// The bound of a bucket sample (`le` or `quantile`); nullopt if not a number.
std::optional<double> Bound(const Sample& s, bool histogram) {
  const std::string le = Find(s.labels, histogram ? "le" : "quantile");
  if (le == "+Inf") return INFINITY;
  double bound = 0;
  try {
    bound = std::stod(le);
  } catch (...) {
    return std::nullopt;
  }
  if (!std::isfinite(bound)) return std::nullopt;
  return bound;
}

void AddHistogramPoint(const BucketPoint& p, const CreatedTimes& created, pm::Metric* m) {
  m->mutable_histogram()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* dp = m->mutable_histogram()->add_data_points();
  dp->set_time_unix_nano(p.time);
  if (const auto c = created.find(PointKey(p.labels)); c != created.end()) {
    dp->set_start_time_unix_nano(c->second);
  }
  double previous = 0;
  for (const auto& [bound, cumulative] : p.buckets) {
    if (std::isfinite(bound)) dp->add_explicit_bounds(bound);
    dp->add_bucket_counts(ToU64(cumulative - previous));
    previous = cumulative;
  }
  if (p.buckets.empty() || std::isfinite(p.buckets.back().first)) {
    // No +Inf bucket: the overflow is what the count says beyond.
    dp->add_bucket_counts(ToU64(p.count - previous));
  }
  dp->set_count(ToU64(p.has_count ? p.count : previous));
  dp->set_sum(p.sum);
  core::AddStringAttributes(dp->mutable_attributes(), p.labels);
}

void AddSummaryPoint(const BucketPoint& p, const CreatedTimes& created, pm::Metric* m) {
  auto* dp = m->mutable_summary()->add_data_points();
  dp->set_time_unix_nano(p.time);
  if (const auto c = created.find(PointKey(p.labels)); c != created.end()) {
    dp->set_start_time_unix_nano(c->second);
  }
  for (const auto& [q, v] : p.buckets) {
    auto* qv = dp->add_quantile_values();
    qv->set_quantile(q);
    qv->set_value(v);
  }
  dp->set_count(ToU64(p.count));
  dp->set_sum(p.sum);
  core::AddStringAttributes(dp->mutable_attributes(), p.labels);
}

}  // namespace

size_t Converter::Convert(const ParseResult& result, uint64_t now_ns, pm::ScopeMetrics* out) const {
  size_t kept = 0;
  for (const Family& f : result.families) {
    const CreatedTimes created = CreatedTimesOf(f, options_.honor_labels);
    if (f.type == "histogram" || f.type == "gaugehistogram" || f.type == "summary") {
      kept += ConvertBuckets(f, created, now_ns, out);
    } else {
      kept += ConvertSamples(f, created, now_ns, out);
    }
  }
  return kept;
}

size_t Converter::ConvertBuckets(const Family& f, const CreatedTimes& created, uint64_t now_ns,
                                 pm::ScopeMetrics* out) const {
  const bool histogram = f.type != "summary";
  size_t kept = 0;
  std::vector<BucketPoint> points;
  absl::flat_hash_map<std::string, size_t> index;
  for (const Sample& s : f.samples) {
    if (!Keep(s)) continue;
    const bool bucket = histogram ? s.name == f.name + "_bucket" : s.name == f.name;
    const bool sum = s.name == f.name + "_sum" || s.name == f.name + "_gsum";
    const bool count = s.name == f.name + "_count" || s.name == f.name + "_gcount";
    if (!bucket && !sum && !count) continue;
    ++kept;
    Labels labels = PointLabels(s.labels, histogram ? "le" : "quantile", options_.honor_labels);
    auto [it, inserted] = index.try_emplace(PointKey(labels), points.size());
    if (inserted) {
      points.emplace_back();
      points.back().labels = std::move(labels);
    }
    BucketPoint& p = points[it->second];
    p.time = TimeNs(s, now_ns);
    if (bucket) {
      if (const std::optional<double> bound = Bound(s, histogram)) {
        p.buckets.emplace_back(*bound, s.value);
      }
    } else if (sum) {
      p.sum = s.value;
    } else {
      p.count = s.value;
      p.has_count = true;
    }
  }
  if (points.empty()) return kept;
  pm::Metric* m = out->add_metrics();
  m->set_name(f.name);
  m->set_description(f.help);
  m->set_unit(f.unit);
  for (BucketPoint& p : points) {
    std::sort(p.buckets.begin(), p.buckets.end());
    // One bucket per bound, should an exposition repeat one.
    p.buckets.erase(std::unique(p.buckets.begin(), p.buckets.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; }),
                    p.buckets.end());
    histogram ? AddHistogramPoint(p, created, m) : AddSummaryPoint(p, created, m);
  }
  return kept;
}

size_t Converter::ConvertSamples(const Family& f, const CreatedTimes& created, uint64_t now_ns,
                                 pm::ScopeMetrics* out) const {
  // Counters, gauges and the rest: a metric per sample name.
  size_t kept = 0;
  absl::flat_hash_map<std::string, pm::Metric*> by_name;
  const bool counter = f.type == "counter";
  for (const Sample& s : f.samples) {
    if (EndsWith(s.name, "_created") && s.name != f.name && counter) continue;
    if (!Keep(s)) continue;
    ++kept;
    pm::Metric*& m = by_name[s.name];
    if (m == nullptr) {
      m = out->add_metrics();
      m->set_name(s.name);
      m->set_description(f.help);
      m->set_unit(f.unit);
      if (counter) {
        m->mutable_sum()->set_is_monotonic(true);
        m->mutable_sum()->set_aggregation_temporality(pm::AGGREGATION_TEMPORALITY_CUMULATIVE);
      } else {
        m->mutable_gauge();
      }
    }
    Labels labels = PointLabels(s.labels, "", options_.honor_labels);
    auto* dp =
        counter ? m->mutable_sum()->add_data_points() : m->mutable_gauge()->add_data_points();
    dp->set_time_unix_nano(TimeNs(s, now_ns));
    if (counter) {
      const auto c = created.find(PointKey(labels));
      if (c != created.end()) dp->set_start_time_unix_nano(c->second);
    }
    dp->set_as_double(s.value);
    core::AddStringAttributes(dp->mutable_attributes(), labels);
  }
  return kept;
}

ScrapeReceiver::ScrapeReceiver(std::string id, ScrapeConfig config, core::Consumer* metrics)
    : id_(std::move(id)), config_(std::move(config)), metrics_(metrics) {
  Converter::Options o;
  o.honor_labels = config_.honor_labels;
  for (const auto& [label, re] : config_.keep)
    o.keep.emplace_back(label, std::make_unique<re2::RE2>(re));
  for (const auto& [label, re] : config_.drop)
    o.drop.emplace_back(label, std::make_unique<re2::RE2>(re));
  converter_ = std::make_unique<Converter>(std::move(o));
  common::http::ClientOptions client;
  client.timeout = config_.scrape_timeout;
  client.headers = {
      "Accept: application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,"
      "*/*;q=0.1",
      absl::StrCat("X-Prometheus-Scrape-Timeout-Seconds: ",
                   std::chrono::duration<double>(config_.scrape_timeout).count())};
  client_ = std::make_unique<common::http::Client>(std::move(client));
}

ScrapeReceiver::~ScrapeReceiver() { Shutdown(core::Clock::now()); }

absl::Status ScrapeReceiver::Start() {
  if (config_.kubernetes_pods) {
    common::k8s::ApiConfig api = *config_.kubernetes_pods;
    api.annotations = true;
    const char* env = getenv("K8S_NODE_NAME");
    auto options = common::k8s::WatcherOptions(
        api, config_.node_name.empty() && env != nullptr ? env : config_.node_name);
    if (!options.ok()) return options.status();
    pods_ = std::make_unique<common::k8s::PodWatcher>(*options);
    pods_->Start();
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void ScrapeReceiver::Shutdown(core::Deadline) noexcept {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (pods_) pods_->Stop();
}

std::vector<ScrapeReceiver::Target> ScrapeReceiver::Targets() const {
  std::vector<Target> out;
  for (const std::string& t : config_.targets) {
    out.push_back(Target{t, config_.scheme, config_.metrics_path, {}});
  }
  if (!pods_) return out;
  for (const auto& pod : pods_->Pods()) {
    auto annotation = [&pod](const char* key) -> std::string {
      auto it = pod->annotations.find(key);
      return it == pod->annotations.end() ? std::string() : it->second;
    };
    const std::string port = annotation("prometheus.io/port");
    if (annotation("prometheus.io/scrape") != "true" || pod->ip.empty() || port.empty()) continue;
    const std::string path = annotation("prometheus.io/path");
    const std::string scheme = annotation("prometheus.io/scheme");
    const std::string host = pod->ip.find(':') != std::string::npos ? "[" + pod->ip + "]" : pod->ip;
    out.push_back(Target{host + ":" + port,
                         scheme.empty() ? config_.scheme : scheme,
                         path.empty() ? config_.metrics_path : path,
                         {{"k8s.namespace.name", pod->namespace_name},
                          {"k8s.pod.name", pod->name},
                          {"k8s.pod.uid", pod->uid}}});
  }
  return out;
}

void ScrapeReceiver::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    const auto next = core::Clock::now() + config_.scrape_interval;
    lock.unlock();
    for (const Target& target : Targets()) ScrapeTarget(target);
    lock.lock();
    cv_.wait_until(lock, next, [this] { return stop_; });
  }
}

void ScrapeReceiver::ScrapeTarget(const Target& t) {
  const std::string& target = t.address;
  const uint64_t now =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  const auto start = core::Clock::now();
  common::http::Request request;
  request.method = "GET";
  request.url = absl::StrCat(t.scheme, "://", target, t.path);
  request.accept_compressed = true;  // gzip, decompressed before the limit
  if (config_.body_size_limit.bytes > 0) request.max_response_bytes = config_.body_size_limit.bytes;
  request.fail_over_limit = true;
  const common::http::Response response = client_->Send(request);
  const long status = response.status;
  std::string reason;

  core::MetricsRequest req;
  auto* rm = req.add_resource_metrics();
  auto* resource = rm->mutable_resource()->mutable_attributes();
  core::AddStringAttribute(resource, "service.name", config_.job_name);
  core::AddStringAttribute(resource, "service.instance.id", target);
  core::AddStringAttributes(resource, t.resource);
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("tributary.prometheus_scrape");
  ParseResult parsed;
  if (response.too_large) {
    reason = "body_size_limit";
  } else if (status == 0) {
    reason = response.timed_out ? "timeout" : "connection";
  } else if (status != 200) {
    reason = "http_status";
  } else {
    const Format format = response.content_type.find("openmetrics") != std::string::npos
                              ? Format::kOpenMetrics
                              : Format::kText;
    if (auto error = Parse(response.body, format, &parsed)) {
      reason = "invalid_exposition";
      uint64_t held = 0;
      if (log_limiter_.Allow(&held)) {
        core::Log(core::LogLevel::kWarn, id_, "scrape returned an invalid exposition",
                  absl::StrCat("target=", target, " error=\"", *error, "\" suppressed=", held));
      }
    } else if (config_.sample_limit > 0 &&
               parsed.samples > static_cast<size_t>(config_.sample_limit)) {
      reason = "sample_limit";
    } else {
      converter_->Convert(parsed, now, sm);
    }
  }
  if (!reason.empty()) {
    sm->clear_metrics();
    kFailures.Add({{"receiver", id_}, {"target", target}, {"reason", reason}}).Increment();
    uint64_t held = 0;
    if (reason != "invalid_exposition" && log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kWarn, id_, "scrape failed",
                absl::StrCat("target=", target, " reason=", reason, " status=", status,
                             " suppressed=", held));
    }
  }
  const double duration = std::chrono::duration<double>(core::Clock::now() - start).count();
  for (const auto& [name, value] : std::vector<std::pair<const char*, double>>{
           {"up", reason.empty() ? 1 : 0},
           {"scrape_duration_seconds", duration},
           {"scrape_samples_scraped", static_cast<double>(parsed.samples)}}) {
    pm::Metric* m = sm->add_metrics();
    m->set_name(name);
    auto* dp = m->mutable_gauge()->add_data_points();
    dp->set_time_unix_nano(now);
    dp->set_as_double(value);
  }
  // A refused scrape is not kept: the next one carries the counters on.
  static_cast<void>(core::HandOn(*metrics_, id_, "http", core::Batch(std::move(req))));
}

}  // namespace tributary::receivers::prometheus_scrape

namespace tributary {
void RegisterReceiverPrometheusScrape(core::Registry& registry) {
  using receivers::prometheus_scrape::ScrapeConfig;
  registry.Add(core::MakeFactory<core::Receiver, ScrapeConfig, const core::ReceiverConsumers&>(
      "prometheus_scrape", {core::Signal::kMetrics},
      "Scrapes Prometheus text format 0.0.4 and OpenMetrics 1.0 endpoints (gzip, timeouts, "
      "size and sample limits) into OTLP metrics, with up and scrape_* series per target.",
      [](const core::CreateContext& ctx, const ScrapeConfig& config,
         const core::ReceiverConsumers& consumers)
          -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
        if (consumers.metrics == nullptr) {
          return absl::InvalidArgumentError("prometheus_scrape serves metrics pipelines only");
        }
        return std::make_unique<receivers::prometheus_scrape::ScrapeReceiver>(
            ctx.id.ToString(), config, consumers.metrics);
      }));
}
}  // namespace tributary
