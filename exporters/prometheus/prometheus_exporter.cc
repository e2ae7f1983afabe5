#include "exporters/prometheus/prometheus_exporter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/compress/gzip.h"
#include "common/http/endpoint.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace tributary::exporters::prometheus {

using ::tributary::common::prometheus::LabelName;
namespace {

constexpr char kTextType[] = "text/plain; version=0.0.4; charset=utf-8";
constexpr char kOpenMetricsType[] = "application/openmetrics-text; version=1.0.0; charset=utf-8";

StoreOptions MakeStoreOptions(const PrometheusExporterConfig& config) {
  StoreOptions options;
  options.prefix = config.metric_namespace;
  for (const auto& [k, v] : config.const_labels) options.const_labels.emplace_back(LabelName(k), v);
  options.expiration = config.metric_expiration;
  options.scope_labels = config.scope_labels && !config.without_scope_info;
  return options;
}

// Whether an Accept header prefers OpenMetrics: Prometheus sends
// `application/openmetrics-text;version=1.0.0;q=0.5,...;text/plain;version=0.0.4;q=0.4,*/*;q=0.1`.
bool WantsOpenMetrics(const std::string& accept) {
  double om = -1;
  double text = -1;
  size_t pos = 0;
  while (pos <= accept.size()) {
    size_t end = accept.find(',', pos);
    if (end == std::string::npos) end = accept.size();
    std::string_view part(accept.data() + pos, end - pos);
    double q = 1;
    if (size_t qp = part.find("q="); qp != std::string_view::npos) {
      q = std::atof(std::string(part.substr(qp + 2)).c_str());
    }
    if (part.find("application/openmetrics-text") != std::string_view::npos) {
      om = std::max(om, q);
    } else if (part.find("text/plain") != std::string_view::npos) {
      text = std::max(text, q);
    }
    pos = end + 1;
  }
  return om > 0 && om >= text;
}

// This component's self-metric families.
const struct {
  core::MetricFamily<::prometheus::Gauge> series{"tributary_prometheus_series",
                                                 "Series the Prometheus exporter exposes"};
  core::MetricFamily<::prometheus::Counter> scrapes{"tributary_prometheus_scrapes_total",
                                                    "Scrapes the Prometheus exporter answered"};
  core::MetricFamily<::prometheus::Counter> expired{
      "tributary_prometheus_expired_series_total",
      "Series no longer exposed because they were not updated"};
} kFamilies;

}  // namespace

absl::Status PrometheusExporterConfig::Validate() const {
  std::string host;
  int port;
  if (absl::Status s = common::http::SplitHostPort(endpoint, &host, &port); !s.ok()) return s;
  if (path.empty() || path[0] != '/') return absl::InvalidArgumentError("path must start with '/'");
  if (metric_expiration.count() <= 0) {
    return absl::InvalidArgumentError("metric_expiration must be > 0");
  }
  return limits.Validate();
}

PrometheusExporter::PrometheusExporter(std::string id, PrometheusExporterConfig config)
    : id_(std::move(id)), config_(std::move(config)), store_(MakeStoreOptions(config_)) {
  const auto& f = kFamilies;
  series_gauge_ = &f.series.Add({{"exporter", id_}});
  scrapes_ = &f.scrapes.Add({{"exporter", id_}});
  expired_ = &f.expired.Add({{"exporter", id_}});
}

PrometheusExporter::~PrometheusExporter() { Shutdown(core::Clock::now()); }

absl::Status PrometheusExporter::Start() {
  common::http::ServerOptions options;
  options.name = id_;
  options.endpoint = config_.endpoint;
  options.limits = config_.limits;
  options.handle = [this](common::http::ServerRequest&& req, common::http::Responder responder) {
    responder.Send(Handle(req));
  };
  server_ = std::make_unique<common::http::Server>(std::move(options));
  if (absl::Status s = server_->Start(); !s.ok()) return s;
  port_ = server_->port();
  core::Log(core::LogLevel::kInfo, id_, "serving metrics",
            absl::StrCat("endpoint=", config_.endpoint, " port=", port_, " path=", config_.path));
  return absl::OkStatus();
}

common::http::ServerResponse PrometheusExporter::Handle(const common::http::ServerRequest& req) {
  using common::http::ServerResponse;
  if (req.path() != config_.path) return ServerResponse::Text(404, "not found\n");
  if (req.method != "GET" && req.method != "HEAD") {
    ServerResponse r = ServerResponse::Text(405, "only GET\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  const bool om =
      config_.enable_open_metrics && WantsOpenMetrics(std::string(req.Header("Accept")));
  ServerResponse r;
  r.content_type = om ? kOpenMetricsType : kTextType;
  Scrape(om, &r.body);
  if (req.Header("Accept-Encoding").find("gzip") != std::string_view::npos) {
    r.body = common::compress::Gzip(r.body);
    r.headers.emplace_back("Content-Encoding", "gzip");
  }
  return r;
}

void PrometheusExporter::Shutdown(core::Deadline) noexcept {
  if (server_) server_->Stop();
}

void PrometheusExporter::Scrape(bool open_metrics, std::string* body) {
  const size_t expired = store_.Expire(std::chrono::steady_clock::now());
  if (expired > 0) expired_->Increment(static_cast<double>(expired));
  store_.Render(open_metrics ? MetricStore::Format::kOpenMetrics : MetricStore::Format::kText,
                body);
  series_gauge_->Set(static_cast<double>(store_.series()));
  scrapes_->Increment();
}

absl::Status PrometheusExporter::Export(const core::Batch& batch,
                                        core::ExportReport& report) noexcept {
  if (batch.signal() != core::Signal::kMetrics) return absl::OkStatus();
  const auto now = std::chrono::steady_clock::now();
  MetricStore::AddResult result = store_.Add(batch.metrics(), now);
  // Expiry walks every series: at most once a second.
  if (now - last_expire_ >= std::chrono::seconds(1)) {
    last_expire_ = now;
    const size_t expired = store_.Expire(now);
    if (expired > 0) expired_->Increment(static_cast<double>(expired));
    series_gauge_->Set(static_cast<double>(store_.series()));
  }
  if (result.dropped > 0) {
    report.rejected_records = result.dropped;
    report.rejected_reason = result.error;
  }
  return absl::OkStatus();
}

}  // namespace tributary::exporters::prometheus

namespace tributary {
void RegisterExporterPrometheus(core::Registry& registry) {
  using exporters::prometheus::PrometheusExporterConfig;
  registry.Add(core::MakeFactory<core::Exporter, PrometheusExporterConfig>(
      "prometheus", {core::Signal::kMetrics},
      "Serves the metrics it receives for Prometheus to scrape (text format or OpenMetrics).",
      [](const core::CreateContext& ctx, const PrometheusExporterConfig& config)
          -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::prometheus::PrometheusExporter>(ctx.id.ToString(),
                                                                           config);
      }));
}
}  // namespace tributary
