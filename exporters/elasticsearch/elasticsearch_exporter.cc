#include "exporters/elasticsearch/elasticsearch_exporter.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/compress/gzip.h"
#include "common/http/http_client.h"
#include "exporters/elasticsearch/bulk_response.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "tributary/core/byte_pool.h"
#include "tributary/core/registry.h"
#include "tributary/core/telemetry.h"

namespace tributary::exporters::elasticsearch {

namespace {

// This component's self-metric families.
const struct {
  core::MetricFamily<::prometheus::Counter> indexed{
      "tributary_elasticsearch_documents_indexed_total", "Documents Elasticsearch created"};
  core::MetricFamily<::prometheus::Counter> duplicates{
      "tributary_elasticsearch_documents_duplicate_total",
      "Documents already present (409 on create: sent before), counted as delivered"};
  core::MetricFamily<::prometheus::Counter> failed{
      "tributary_elasticsearch_documents_failed_total",
      "Documents refused, by HTTP status and error type"};
  core::MetricFamily<::prometheus::Counter> retried{
      "tributary_elasticsearch_documents_retried_total",
      "Documents of a retry: refused with a retryable status, or not sent while the "
      "server was unavailable"};
  core::MetricFamily<::prometheus::Counter> sent_bytes{
      "tributary_elasticsearch_sent_bytes_total",
      "Bytes of bulk request bodies sent (after compression)"};
  core::MetricFamily<::prometheus::Histogram> duration{
      "tributary_elasticsearch_bulk_duration_seconds", "Time of one bulk request"};
} kFamilies;

bool Retryable(long status) { return status == 429 || status >= 500; }

// The index template of one signal: the mapping of the fields the exporter
// writes, and string attributes as keywords.
std::string TemplateBody(const std::string& pattern, bool data_stream) {
  nlohmann::json t;
  t["index_patterns"] = {pattern};
  t["priority"] = 200;
  if (data_stream) t["data_stream"] = nlohmann::json::object();
  nlohmann::json& m = t["template"]["mappings"];
  m["dynamic_templates"] =
      nlohmann::json::array({{{"strings_as_keyword",
                               {{"match_mapping_type", "string"},
                                {"mapping", {{"type", "keyword"}, {"ignore_above", 1024}}}}}}});
  nlohmann::json& p = m["properties"];
  p["@timestamp"] = {{"type", "date_nanos"}};
  p["observed_timestamp"] = {{"type", "date_nanos"}};
  p["end_timestamp"] = {{"type", "date_nanos"}};
  p["message"] = {{"type", "text"}};
  p["trace"]["properties"]["id"] = {{"type", "keyword"}};
  p["span"]["properties"]["id"] = {{"type", "keyword"}};
  p["span"]["properties"]["name"] = {{"type", "keyword"}};
  p["parent"]["properties"]["id"] = {{"type", "keyword"}};
  p["event"]["properties"]["duration"] = {{"type", "long"}};
  p["duration"] = {{"type", "long"}};
  p["trace_id"] = {{"type", "keyword"}};
  p["span_id"] = {{"type", "keyword"}};
  return t.dump();
}

std::string TemplatePattern(const std::string& dated, const char* stream) {
  if (dated.empty()) return absl::StrCat(stream, "-*-*");
  std::string out;
  for (size_t i = 0; i < dated.size(); ++i) {
    if (dated[i] == '%' && i + 1 < dated.size()) {
      if (out.empty() || out.back() != '*') out.push_back('*');
      ++i;
      continue;
    }
    out.push_back(dated[i]);
  }
  return out;
}

}  // namespace

absl::Status MappingConfig::Validate() const {
  if (mode != "ecs" && mode != "otel") {
    return absl::InvalidArgumentError(
        absl::StrCat("mapping ", mode, " is not supported: ecs or otel"));
  }
  if (!allowed_modes.empty()) {
    return absl::InvalidArgumentError(
        "mapping.allowed_modes is not supported: the mode is not chosen per request");
  }
  return absl::OkStatus();
}

void ElasticsearchConfig::Resolve() {
  if (!endpoint.empty()) endpoints = {endpoint};
  if (!user.empty()) basic_auth = common::http::BasicAuthConfig{user, password};
  if (retry) {
    if (retry->enabled) retry_on_failure.enabled = *retry->enabled;
    if (retry->initial_interval) retry_on_failure.initial_interval = *retry->initial_interval;
    if (retry->max_interval) retry_on_failure.max_interval = *retry->max_interval;
  }
  if (flush && flush->bytes) max_bytes = *flush->bytes;
}

absl::Status ElasticsearchConfig::Validate() const {
  if (endpoints.empty()) return absl::InvalidArgumentError("endpoints must not be empty");
  for (const std::string& e : endpoints) {
    if (!absl::StartsWith(e, "http://") && !absl::StartsWith(e, "https://")) {
      return absl::InvalidArgumentError(absl::StrCat("endpoint \"", e, "\" is not an http(s) URL"));
    }
  }
  if (absl::Status s = mapping.Validate(); !s.ok()) return s;
  if (absl::Status s = http.Validate(); !s.ok()) return s;
  if (compression != "none" && compression != "gzip") {
    return absl::InvalidArgumentError("compression must be none or gzip");
  }
  if (max_documents < 1) return absl::InvalidArgumentError("max_documents must be >= 1");
  if (max_bytes.bytes < 1024) return absl::InvalidArgumentError("max_bytes must be >= 1KiB");
  if (timeout.count() <= 0) return absl::InvalidArgumentError("timeout must be > 0");
  const int auths =
      (basic_auth ? 1 : 0) + (api_key.empty() ? 0 : 1) + (bearer_token.empty() ? 0 : 1);
  if (auths > 1) {
    return absl::InvalidArgumentError("basic_auth, api_key and bearer_token exclude each other");
  }
  return common::tls::ValidateFor(tls, common::http::kHttpTlsSupport);
}

namespace {

common::http::ClientOptions HttpOptions(const ElasticsearchConfig& config) {
  common::http::ClientOptions o;
  o.tls = config.tls;
  o.basic_auth = config.basic_auth;
  o.timeout = config.timeout;
  config.http.ApplyTo(o);
  if (!config.api_key.empty()) {
    o.headers.push_back(absl::StrCat("Authorization: ApiKey ", config.api_key));
  } else if (!config.bearer_token.empty()) {
    o.headers.push_back(absl::StrCat("Authorization: Bearer ", config.bearer_token));
  }
  for (const auto& [k, v] : config.headers) o.headers.push_back(absl::StrCat(k, ": ", v));
  return o;
}

}  // namespace

ElasticsearchExporter::ElasticsearchExporter(std::string id, ElasticsearchConfig config)
    : id_(std::move(id)),
      config_(std::move(config)),
      mode_(config_.mapping.mode == "otel" ? MappingMode::kOtel : MappingMode::kEcs),
      client_(HttpOptions(config_)) {
  index_options_.dataset = config_.dataset;
  index_options_.ns = config_.ns;
  index_options_.logs_index = config_.logs_index;
  index_options_.traces_index = config_.traces_index;
  const auto& f = kFamilies;
  const ::prometheus::Labels labels{{"exporter", id_}};
  indexed_ = &f.indexed.Add(labels);
  duplicates_ = &f.duplicates.Add(labels);
  retried_ = &f.retried.Add(labels);
  sent_bytes_ = &f.sent_bytes.Add(labels);
  duration_ =
      &f.duration.Add(labels, ::prometheus::Histogram::BucketBoundaries{
                                  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
}

ElasticsearchExporter::~ElasticsearchExporter() = default;

absl::Status ElasticsearchExporter::Start() {
  if (config_.install_templates) {
    if (absl::Status s = InstallTemplates(); !s.ok()) {
      // The cluster may come up later: the first export tries again.
      core::Log(core::LogLevel::kWarn, id_, "index templates not installed yet",
                absl::StrCat("error=\"", s.message(), "\""));
    }
  }
  return absl::OkStatus();
}

void ElasticsearchExporter::Shutdown(core::Deadline) noexcept {}

absl::Status ElasticsearchExporter::InstallTemplates() {
  std::lock_guard lock(templates_mu_);
  if (templates_installed_) return absl::OkStatus();
  const struct {
    const char* name;
    std::string pattern;
    bool stream;
  } templates[] = {
      {"tributary-logs", TemplatePattern(config_.logs_index, "logs"), config_.logs_index.empty()},
      {"tributary-traces", TemplatePattern(config_.traces_index, "traces"),
       config_.traces_index.empty()},
  };
  for (const auto& t : templates) {
    common::http::Response r = Send("PUT", absl::StrCat("/_index_template/", t.name),
                                    TemplateBody(t.pattern, t.stream), "application/json");
    if (r.status != 200) {
      return absl::UnavailableError(absl::StrCat(
          "index template ", t.name, ": ",
          r.status == 0 ? r.error : absl::StrCat("HTTP ", r.status), " ", r.body.substr(0, 300)));
    }
  }
  core::Log(core::LogLevel::kInfo, id_, "index templates installed",
            "names=tributary-logs,tributary-traces");
  templates_installed_ = true;
  return absl::OkStatus();
}

common::http::Response ElasticsearchExporter::Send(const std::string& method,
                                                   const std::string& path, const std::string& body,
                                                   const char* content_type) {
  const std::string& endpoint =
      config_.endpoints[next_endpoint_.fetch_add(1) % config_.endpoints.size()];
  common::http::Request request;
  request.method = method;
  request.url = endpoint;
  while (!request.url.empty() && request.url.back() == '/') request.url.pop_back();
  request.url += path;
  const bool gzip = config_.compression == "gzip" && body.size() > 0;
  const std::string compressed = gzip ? common::compress::Gzip(body) : std::string();
  request.body = gzip ? compressed : body;
  request.headers.push_back(absl::StrCat("Content-Type: ", content_type));
  if (gzip) request.headers.push_back("Content-Encoding: gzip");
  request.accept_compressed = true;
  const auto start = core::Clock::now();
  common::http::Response r = client_.Send(request);
  duration_->Observe(std::chrono::duration<double>(core::Clock::now() - start).count());
  if (r.status != 0) sent_bytes_->Increment(static_cast<double>(request.body.size()));
  return r;
}

void ElasticsearchExporter::RejectDocument(const Chunk& chunk, size_t k, long status,
                                           const std::string& type, const std::string& reason,
                                           Sorted& sorted) {
  kFamilies.failed.Add({{"exporter", id_}, {"status", std::to_string(status)}, {"reason", type}})
      .Increment();
  sorted.rejected.push_back(chunk.refs[k]);
  if (sorted.rejected_reason.empty()) sorted.rejected_reason = reason;
}

ElasticsearchExporter::Outcome ElasticsearchExporter::SendHalves(const Chunk& chunk,
                                                                 Sorted& sorted) {
  for (int half = 0; half < 2; ++half) {
    Chunk part;
    const size_t begin = half == 0 ? 0 : chunk.size() / 2;
    const size_t end = half == 0 ? chunk.size() / 2 : chunk.size();
    for (size_t k = begin; k < end; ++k) part.Add(chunk.Lines(k), chunk.refs[k]);
    Outcome o = SendChunk(part, sorted);
    if (o.stop) {
      if (half == 0) {
        for (size_t k = end; k < chunk.size(); ++k) sorted.retry.push_back(chunk.refs[k]);
      }
      return o;
    }
  }
  return Outcome();
}

ElasticsearchExporter::Outcome ElasticsearchExporter::SortItems(const Chunk& chunk,
                                                                const std::vector<BulkItem>& items,
                                                                Sorted& sorted) {
  Outcome out;
  size_t created = 0, duplicate = 0, again = 0;
  for (size_t k = 0; k < chunk.size(); ++k) {
    const BulkItem& item = items[k];
    if (item.status == 200 || item.status == 201) {
      ++created;
    } else if (item.status == 409) {
      ++duplicate;
    } else if (item.status == 0 || Retryable(item.status)) {
      ++again;
      sorted.retry.push_back(chunk.refs[k]);
      if (item.status == 429) out.throttled = true;
    } else {
      const std::string type = item.error_type.empty() ? "unknown" : item.error_type;
      RejectDocument(chunk, k, item.status, type,
                     absl::StrCat("HTTP ", item.status, " ", type, ": ", item.error_reason),
                     sorted);
    }
  }
  indexed_->Increment(static_cast<double>(created));
  duplicates_->Increment(static_cast<double>(duplicate));
  if (again > 0) {
    kFamilies.failed.Add({{"exporter", id_}, {"status", "retryable"}, {"reason", "retryable"}})
        .Increment(static_cast<double>(again));
  }
  return out;
}

ElasticsearchExporter::Outcome ElasticsearchExporter::SendChunk(const Chunk& chunk,
                                                                Sorted& sorted) {
  Outcome out;
  if (chunk.size() == 0) return out;
  auto keep_all = [&] {
    for (size_t k = 0; k < chunk.size(); ++k) sorted.retry.push_back(chunk.refs[k]);
  };
  const common::http::Response r =
      Send("POST",
           "/_bulk?filter_path=errors,items.*.status,items.*.error.type,"
           "items.*.error.reason",
           chunk.body, "application/x-ndjson");
  // Too large for the server: each half on its own.
  if (r.status == 413 && chunk.size() > 1) return SendHalves(chunk, sorted);
  if (r.status == 0 || Retryable(r.status)) {
    keep_all();
    out.stop = true;
    out.retry_after = r.retry_after;
    out.throttled = r.status == 429;
    uint64_t held = 0;
    if (log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kWarn, id_, "bulk request failed; its documents are kept",
                absl::StrCat("status=", r.status, " error=\"",
                             r.status == 0 ? r.error : r.body.substr(0, 200),
                             "\" documents=", chunk.size(), " suppressed=", held));
    }
    return out;
  }
  if (r.status != 200) {
    const std::string reason =
        absl::StrCat("bulk request refused: HTTP ", r.status, " ", r.body.substr(0, 300));
    for (size_t k = 0; k < chunk.size(); ++k) {
      RejectDocument(chunk, k, r.status, r.status == 413 ? "request_too_large" : "request_refused",
                     reason, sorted);
    }
    return out;
  }
  const auto items = ParseBulkResponse(r.body, chunk.size());
  if (!items) {
    // Not a bulk response for these documents: send them again.
    keep_all();
    out.stop = true;
    core::Log(core::LogLevel::kWarn, id_, "unreadable bulk response; its documents are kept",
              absl::StrCat("body=\"", r.body.substr(0, 200), "\""));
    return out;
  }
  if (items->empty()) {
    indexed_->Increment(static_cast<double>(chunk.size()));
    return out;
  }
  return SortItems(chunk, *items, sorted);
}

absl::Status ElasticsearchExporter::Export(const core::Batch& batch,
                                           core::ExportReport& report) noexcept {
  if (batch.signal() == core::Signal::kMetrics) {
    return absl::InvalidArgumentError("the elasticsearch exporter takes logs and traces");
  }
  if (config_.install_templates) {
    if (absl::Status s = InstallTemplates(); !s.ok()) return s;
  }
  const size_t max_docs = static_cast<size_t>(config_.max_documents);
  const size_t max_bytes = config_.max_bytes.bytes;
  if (report.attempt > 0) retried_->Increment(static_cast<double>(batch.record_count()));
  Sorted sorted;
  Outcome outcome;
  Chunk chunk;
  // A bulk body fills megabytes: memory reused from the last one.
  chunk.body = core::byte_pool::TakeEmpty(std::min<size_t>(max_bytes, 8 << 20) + (64 << 10));
  auto flush = [&] {
    if (outcome.stop) {
      // The server asked us to stop: what was gathered waits for the retry.
      sorted.retry.insert(sorted.retry.end(), chunk.refs.begin(), chunk.refs.end());
    } else if (chunk.size() > 0) {
      Outcome o = SendChunk(chunk, sorted);
      if (o.stop) outcome = o;
      outcome.throttled = outcome.throttled || o.throttled;
    }
    chunk.Clear();
  };
  // The documents are written from the serialized request.
  std::string scratch;
  Documents state;
  std::string lines;
  const bool readable =
      ForEachRecord(core::wire::SerializedRequest(batch, &scratch),
                    [&](const Ref& ref, const Origin& origin, std::string_view record) {
                      if (outcome.stop) {
                        sorted.retry.push_back(ref);
                        return true;
                      }
                      lines.clear();
                      if (!AppendDocument(batch.signal(), ref, origin, record, state, &lines))
                        return false;
                      chunk.Add(lines, ref);
                      if (chunk.size() >= max_docs || chunk.body.size() >= max_bytes) flush();
                      return true;
                    });
  if (!readable) {
    // Not what protobuf serialized (the buffer's checksums make this a
    // defect rather than a disk fault): refused for good, nothing more sent.
    core::byte_pool::Give(std::move(chunk.body));
    return absl::DataLossError("the batch's serialized records do not parse");
  }
  flush();
  core::byte_pool::Give(std::move(chunk.body));

  if (!sorted.rejected.empty()) {
    // The refused records, with their resource and scope, for the dead-letter file.
    report.rejected_records = sorted.rejected.size();
    report.rejected_reason = sorted.rejected_reason;
    report.rejected = core::SelectRecords(batch, std::move(sorted.rejected));
  }
  if (!sorted.retry.empty()) {
    const std::string why = absl::StrCat(sorted.retry.size(), " of ", batch.record_count(),
                                         " documents not yet indexed");
    report.retry_after = outcome.retry_after;
    report.retry = core::SelectRecords(batch, std::move(sorted.retry));
    return outcome.throttled ? absl::ResourceExhaustedError(why) : absl::UnavailableError(why);
  }
  return absl::OkStatus();
}

bool ElasticsearchExporter::AppendDocument(core::Signal signal, const Ref& ref,
                                           const Origin& origin, std::string_view record,
                                           Documents& state, std::string* lines) const {
  const bool logs = signal == core::Signal::kLogs;
  if (logs ? !ReadLog(record, &state.log) : !ReadSpan(record, &state.span)) return false;
  const bool dated = !(logs ? config_.logs_index : config_.traces_index).empty();
  if (dated) {
    const uint64_t time = !logs                           ? state.span.start_time_unix_nano
                          : state.log.time_unix_nano != 0 ? state.log.time_unix_nano
                                                          : state.log.observed_time_unix_nano;
    state.index =
        logs ? LogsIndex(origin, time, index_options_) : TracesIndex(origin, time, index_options_);
  } else if (state.index_of != ref.resource) {
    // A data stream: the same for every record of a resource.
    state.index =
        logs ? LogsIndex(origin, 0, index_options_) : TracesIndex(origin, 0, index_options_);
    state.index_of = ref.resource;
  }
  lines->append("{\"create\":{\"_index\":\"");
  lines->append(state.index);
  lines->append("\",\"_id\":\"");
  lines->append(logs ? LogDocumentId(origin, state.log) : SpanDocumentId(state.span));
  lines->append("\"}}\n");
  const bool ok = logs ? AppendLogDocument(mode_, origin, state.log, state.index, lines)
                       : AppendSpanDocument(mode_, origin, state.span, state.index, lines);
  lines->push_back('\n');
  return ok;
}

}  // namespace tributary::exporters::elasticsearch

namespace tributary {
void RegisterExporterElasticsearch(core::Registry& registry) {
  using exporters::elasticsearch::ElasticsearchConfig;
  registry.Add(core::MakeFactory<core::Exporter, ElasticsearchConfig>(
      "elasticsearch", {core::Signal::kTraces, core::Signal::kLogs},
      "Indexes logs and spans into Elasticsearch or OpenSearch with the _bulk API: data streams "
      "or dated indices, deterministic ids, per-document retry and dead-letter.",
      [](const core::CreateContext& ctx,
         const ElasticsearchConfig& config) -> absl::StatusOr<std::unique_ptr<core::Exporter>> {
        return std::make_unique<exporters::elasticsearch::ElasticsearchExporter>(ctx.id.ToString(),
                                                                                 config);
      }));
}
}  // namespace tributary
