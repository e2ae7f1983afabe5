#include "exporters/otlphttp/otlphttp_exporter.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/compress/gzip.h"
#include "common/compress/zstd.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tributary/core/log.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"
#include "tributary/core/wire.h"

namespace tributary::exporters::otlphttp {

namespace {

const struct {
  core::MetricFamily<::prometheus::Counter> sent_bytes{
      "tributary_otlphttp_sent_bytes_total",
      "Request body bytes sent, after encoding and compression"};
  core::MetricFamily<::prometheus::Counter> wire_bytes{
      "tributary_otlphttp_wire_bytes_total",
      "Serialized OTLP bytes of the requests sent, before encoding and compression"};
} kFamilies;

bool IsHttpUrl(const std::string& url) {
  return absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
}

// The message of an error response: a google.rpc.Status, in protobuf
// (message is field 2) or JSON; else the body as it is, trimmed.
std::string ErrorMessage(const common::http::Response& response) {
  if (absl::StrContains(response.content_type, "protobuf")) {
    core::wire::Reader reader(response.body);
    core::wire::Field f;
    while (reader.Next(&f)) {
      if (f.number == 2 && f.type == core::wire::Type::kLen) return std::string(f.bytes);
    }
  }
  std::string body(absl::StripAsciiWhitespace(response.body));
  if (body.size() > 512) body.resize(512);
  return body;
}

template <class Response>
bool ReadJsonPartialSuccess(const std::string& body, core::ExportReport& report) {
  Response parsed;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(body, &parsed, options).ok()) return false;
  if (!parsed.has_partial_success()) return true;
  const auto& partial = parsed.partial_success();
  if constexpr (requires { partial.rejected_spans(); }) {
    report.rejected_records = static_cast<size_t>(partial.rejected_spans());
  } else if constexpr (requires { partial.rejected_data_points(); }) {
    report.rejected_records = static_cast<size_t>(partial.rejected_data_points());
  } else {
    report.rejected_records = static_cast<size_t>(partial.rejected_log_records());
  }
  report.rejected_reason = partial.error_message();
  return true;
}

void ReadPartialSuccess(core::Signal signal, const common::http::Response& response,
                        core::ExportReport& report) {
  if (response.body.empty()) return;
  if (absl::StrContains(response.content_type, "json")) {
    namespace collector = opentelemetry::proto::collector;
    switch (signal) {
      case core::Signal::kTraces:
        ReadJsonPartialSuccess<collector::trace::v1::ExportTraceServiceResponse>(response.body,
                                                                                 report);
        break;
      case core::Signal::kMetrics:
        ReadJsonPartialSuccess<collector::metrics::v1::ExportMetricsServiceResponse>(response.body,
                                                                                     report);
        break;
      case core::Signal::kLogs:
        ReadJsonPartialSuccess<collector::logs::v1::ExportLogsServiceResponse>(response.body,
                                                                               report);
        break;
    }
    return;
  }
  // Protobuf: partial_success is field 1 of every signal's response, with
  // the rejected count (1) and a message (2). A body of another type (a
  // proxy's page) says nothing of the records.
  if (!absl::StrContains(response.content_type, "protobuf")) return;
  core::wire::Reader reader(response.body);
  core::wire::Field f;
  while (reader.Next(&f)) {
    if (f.number != 1 || f.type != core::wire::Type::kLen) continue;
    core::wire::Reader inner(f.bytes);
    core::wire::Field g;
    while (inner.Next(&g)) {
      if (g.number == 1 && g.type == core::wire::Type::kVarint) {
        report.rejected_records = static_cast<size_t>(g.value);
      } else if (g.number == 2 && g.type == core::wire::Type::kLen) {
        report.rejected_reason = std::string(g.bytes);
      }
    }
  }
}

}  // namespace

absl::Status OtlpHttpExporterConfig::Validate() const {
  if (endpoint.empty() && traces_endpoint.empty() && metrics_endpoint.empty() &&
      logs_endpoint.empty()) {
    return absl::InvalidArgumentError(
        "endpoint (or traces_endpoint, metrics_endpoint, logs_endpoint) is required");
  }
  for (const std::string* url : {&endpoint, &traces_endpoint, &metrics_endpoint, &logs_endpoint}) {
    if (!url->empty() && !IsHttpUrl(*url)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", *url, "' is not an http:// or https:// URL"));
    }
  }
  if (encoding != "proto" && encoding != "json") {
    return absl::InvalidArgumentError("encoding must be proto or json");
  }
  if (compression != "gzip" && compression != "zstd" && compression != "none" &&
      !compression.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("compression must be gzip, zstd or none ('",
                                                   compression, "' is not supported)"));
  }
  const int64_t level = compression_params.level;
  if (compression == "gzip" && (level < 0 || level > 9)) {
    return absl::InvalidArgumentError("compression_params.level must be 1 to 9 for gzip");
  }
  if (compression == "zstd" && (level < 0 || level > 22)) {
    return absl::InvalidArgumentError("compression_params.level must be 1 to 22 for zstd");
  }
  if (timeout.count() <= 0) return absl::InvalidArgumentError("timeout must be > 0");
  if (absl::Status s = http.Validate(); !s.ok()) return s;
  return common::tls::ValidateFor(tls, common::http::kHttpTlsSupport);
}

std::string OtlpHttpExporterConfig::SignalUrl(core::Signal signal) const {
  const std::string& own = signal == core::Signal::kTraces    ? traces_endpoint
                           : signal == core::Signal::kMetrics ? metrics_endpoint
                                                              : logs_endpoint;
  if (!own.empty()) return own;
  if (endpoint.empty()) return {};
  const char* path = signal == core::Signal::kTraces    ? "v1/traces"
                     : signal == core::Signal::kMetrics ? "v1/metrics"
                                                        : "v1/logs";
  return absl::StrCat(endpoint, absl::EndsWith(endpoint, "/") ? "" : "/", path);
}

OtlpHttpExporter::OtlpHttpExporter(std::string id, OtlpHttpExporterConfig config)
    : id_(std::move(id)), config_(std::move(config)) {
  for (core::Signal s : {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs}) {
    urls_[static_cast<size_t>(s)] = config_.SignalUrl(s);
  }
  sent_bytes_ = &kFamilies.sent_bytes.Add({{"exporter", id_}});
  wire_bytes_ = &kFamilies.wire_bytes.Add({{"exporter", id_}});
}

OtlpHttpExporter::~OtlpHttpExporter() = default;

absl::Status OtlpHttpExporter::Start() {
  common::http::ClientOptions options;
  options.tls = config_.tls;
  options.timeout = config_.timeout;
  config_.http.ApplyTo(options);
  options.headers = {config_.encoding == "json" ? "Content-Type: application/json"
                                                : "Content-Type: application/x-protobuf",
                     "User-Agent: tributary"};
  if (config_.compression == "gzip" || config_.compression == "zstd") {
    options.headers.push_back("Content-Encoding: " + config_.compression);
  }
  for (const auto& [k, v] : config_.headers) options.headers.push_back(k + ": " + v);
  client_ = std::make_unique<common::http::Client>(std::move(options));
  core::Log(core::LogLevel::kInfo, id_, "otlp/http",
            absl::StrCat("endpoint=", config_.endpoint, " encoding=", config_.encoding,
                         " compression=", config_.compression));
  return absl::OkStatus();
}

std::string OtlpHttpExporter::Body(const core::Batch& batch) const {
  std::string serialized;
  const std::string* wire = batch.wire();
  if (wire == nullptr) {
    batch.message().SerializeToString(&serialized);
    wire = &serialized;
  }
  wire_bytes_->Increment(static_cast<double>(wire->size()));
  std::string json;
  std::string_view encoded = *wire;
  if (config_.encoding == "json") {
    json.reserve(wire->size() * 2);
    if (!core::AppendOtlpJson(batch.signal(), *wire, &json)) {
      // Bytes a buffer handed back that do not read: the objects say what
      // they hold (an empty request when they do not parse either).
      json.clear();
      core::AppendOtlpJson(batch, &json);
    }
    encoded = json;
  }
  const int level = static_cast<int>(config_.compression_params.level);
  if (config_.compression == "gzip") {
    return common::compress::Gzip(encoded, level > 0 ? level : common::compress::kGzipFastest);
  }
  if (config_.compression == "zstd") {
    return common::compress::Zstd(encoded, level > 0 ? level : common::compress::kZstdDefault);
  }
  return std::string(encoded);
}

absl::Status OtlpHttpExporter::Export(const core::Batch& batch,
                                      core::ExportReport& report) noexcept {
  const std::string& url = urls_[static_cast<size_t>(batch.signal())];
  if (url.empty()) {
    const std::string signal(core::SignalName(batch.signal()));
    return absl::FailedPreconditionError(
        absl::StrCat("no endpoint for ", signal, ": set endpoint or ", signal, "_endpoint"));
  }
  const std::string body = Body(batch);
  common::http::Request request;
  request.url = url;
  request.body = body;
  request.max_response_bytes = 64 << 10;
  const common::http::Response response = client_->Send(request);
  if (response.status == 0) {
    return absl::UnavailableError(absl::StrCat("OTLP/HTTP to ", url, ": ", response.error));
  }
  const long code = response.status;
  if (code >= 200 && code < 300) {
    sent_bytes_->Increment(static_cast<double>(body.size()));
    ReadPartialSuccess(batch.signal(), response, report);
    return absl::OkStatus();
  }
  const std::string message =
      absl::StrCat("OTLP/HTTP to ", url, ": HTTP ", code, ": ", ErrorMessage(response));
  // The statuses OTLP/HTTP names retryable; the server's Retry-After is the
  // least wait before the next attempt.
  if (code == 429 || code == 502 || code == 503 || code == 504) {
    report.retry_after = response.retry_after;
    return code == 429 ? absl::ResourceExhaustedError(message) : absl::UnavailableError(message);
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace tributary::exporters::otlphttp

namespace tributary {
void RegisterExporterOtlphttp(core::Registry& registry) {
  using exporters::otlphttp::OtlpHttpExporterConfig;
  registry.Add(core::MakeFactory<core::Exporter, OtlpHttpExporterConfig>(
      "otlphttp", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
      "OTLP/HTTP client (protobuf or JSON; gzip or zstd), for backends and proxies that speak "
      "HTTP only, and for zstd between agent and collector.",
      [](const core::CreateContext& ctx,
         const OtlpHttpExporterConfig& config) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::otlphttp::OtlpHttpExporter>(ctx.id.ToString(), config);
      }));
  registry.AddExporterAlias("otlp_http", "otlphttp");
}
}  // namespace tributary
