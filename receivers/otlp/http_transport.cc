#include <grpcpp/support/status.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/compress/gzip.h"
#include "common/compress/zstd.h"
#include "common/http/server.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "receivers/otlp/export_outcome.h"
#include "receivers/otlp/otlp_receiver.h"
#include "tributary/core/memory_budget.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::receivers::otlp {

using core::Signal;

namespace {

std::string MediaType(const common::http::ServerRequest& req) {
  std::string_view ct = req.Header("Content-Type");
  ct = ct.substr(0, ct.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(std::string(ct)));
}

common::http::ServerResponse ErrorResponse(bool json, int http_status, grpc::StatusCode code,
                                           const std::string& message) {
  google::rpc::Status body;
  body.set_code(static_cast<int>(code));
  body.set_message(message);
  common::http::ServerResponse res;
  res.status = http_status;
  if (json) {
    (void)google::protobuf::util::MessageToJsonString(body, &res.body);
    res.content_type = "application/json";
  } else {
    res.body = body.SerializeAsString();
    res.content_type = "application/x-protobuf";
  }
  return res;
}

// The answer to an export request, from what became of it.
common::http::ServerResponse OutcomeResponse(bool json, Signal signal, const Outcome& outcome) {
  if (!outcome.status.ok()) {
    common::http::ServerResponse res =
        ErrorResponse(json, ToHttpStatus(outcome.status), ToGrpcCode(outcome.status),
                      std::string(outcome.status.message()));
    if (core::IsRetryable(outcome.status)) res.headers.emplace_back("Retry-After", "1");
    return res;
  }
  auto response = MakeResponse(signal, outcome);
  common::http::ServerResponse res;
  if (json) {
    google::protobuf::util::JsonPrintOptions options;
    (void)google::protobuf::util::MessageToJsonString(*response, &res.body, options);
    res.content_type = "application/json";
  } else {
    res.body = response->SerializeAsString();
    res.content_type = "application/x-protobuf";
  }
  return res;
}

// The answer to a CORS preflight: the method and headers a page on an
// allowed origin may use (the Access-Control-Allow-Origin header itself is
// added to every response by the server's response_headers).
common::http::ServerResponse CorsPreflight(const CorsConfig& cors,
                                           const common::http::ServerRequest& req) {
  common::http::ServerResponse r;
  r.status = 204;
  const std::string origin(req.Header("Origin"));
  if (origin.empty() || !cors.AllowsOrigin(origin)) return r;
  r.headers.emplace_back("Access-Control-Allow-Methods", "POST");
  static const std::set<std::string> kAlwaysAllowed = {"accept",           "accept-language",
                                                       "content-language", "content-type",
                                                       "content-encoding", "x-requested-with"};
  const bool any = std::find(cors.allowed_headers.begin(), cors.allowed_headers.end(), "*") !=
                   cors.allowed_headers.end();
  std::vector<std::string> allowed;
  const std::string requested(req.Header("Access-Control-Request-Headers"));
  for (absl::string_view h : absl::StrSplit(requested, ',')) {
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(h));
    if (name.empty()) continue;
    bool ok = any || kAlwaysAllowed.count(name) > 0;
    for (const std::string& a : cors.allowed_headers) ok = ok || absl::EqualsIgnoreCase(a, name);
    if (!ok) {
      r.headers.clear();
      return r;
    }
    allowed.push_back(name);
  }
  if (!allowed.empty()) {
    r.headers.emplace_back("Access-Control-Allow-Headers", absl::StrJoin(allowed, ", "));
  }
  if (cors.max_age > 0)
    r.headers.emplace_back("Access-Control-Max-Age", absl::StrCat(cors.max_age));
  return r;
}

}  // namespace

bool CorsConfig::AllowsOrigin(std::string_view origin) const {
  for (const std::string& allowed : allowed_origins) {
    const size_t star = allowed.find('*');
    if (star == std::string::npos) {
      if (allowed == origin) return true;
      continue;
    }
    const std::string_view prefix(allowed.data(), star);
    const std::string_view suffix(allowed.data() + star + 1, allowed.size() - star - 1);
    if (origin.size() >= prefix.size() + suffix.size() && origin.starts_with(prefix) &&
        origin.ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

common::http::ServerResponse OtlpReceiver::MemoryBudgetRefusal(bool json) {
  CountFailedRequest("http", "memory_budget");
  core::MemoryBudget::Process().CountRefused(id_);
  common::http::ServerResponse r =
      ErrorResponse(json, 429, grpc::StatusCode::RESOURCE_EXHAUSTED,
                    "the memory budget for requests in flight is spent; retry later");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::optional<common::http::ServerResponse> OtlpReceiver::AdmitHttp(
    const common::http::ServerRequest& req) {
  const HttpConfig& cfg = *config_.protocols.http;
  const std::string media = MediaType(req);
  const bool json = media == "application/json";
  const std::string_view path = req.path();
  if (path != cfg.traces_url_path && path != cfg.metrics_url_path && path != cfg.logs_url_path) {
    return ErrorResponse(json, 404, grpc::StatusCode::UNIMPLEMENTED,
                         absl::StrCat("no OTLP signal is served at ", std::string(path)));
  }
  if (req.method == "OPTIONS" && cfg.cors) return CorsPreflight(*cfg.cors, req);
  if (req.method != "POST") {
    common::http::ServerResponse r =
        ErrorResponse(json, 405, grpc::StatusCode::UNIMPLEMENTED, "OTLP/HTTP takes POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (!Authorized(req.Header("Authorization"), "http")) {
    common::http::ServerResponse r = ErrorResponse(json, 401, grpc::StatusCode::UNAUTHENTICATED,
                                                   "missing or wrong bearer token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (!json && media != "application/x-protobuf") {
    CountFailedRequest("http", "unsupported_media_type");
    return ErrorResponse(false, 415, grpc::StatusCode::INVALID_ARGUMENT,
                         "Content-Type must be application/x-protobuf or application/json");
  }
  const std::string encoding = absl::AsciiStrToLower(std::string(req.Header("Content-Encoding")));
  const std::string& named = encoding == "identity" ? std::string() : encoding;
  if (std::find(cfg.compression_algorithms.begin(), cfg.compression_algorithms.end(), named) ==
          cfg.compression_algorithms.end() &&
      !(encoding == "identity" &&
        std::find(cfg.compression_algorithms.begin(), cfg.compression_algorithms.end(),
                  "identity") != cfg.compression_algorithms.end())) {
    CountFailedRequest("http", "unsupported_encoding");
    return ErrorResponse(json, 415, grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("Content-Encoding ", encoding.empty() ? "(none)" : encoding,
                                      " is not accepted here"));
  }
  if (req.content_length > cfg.max_request_body_size.bytes) {
    CountFailedRequest("http", "too_large");
    return ErrorResponse(
        json, 413, grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("request body exceeds ", cfg.max_request_body_size.bytes, " bytes"));
  }
  if (http_in_flight_.load() >= cfg.max_concurrent_requests) {
    CountFailedRequest("http", "too_many_requests");
    common::http::ServerResponse r = ErrorResponse(
        json, 503, grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("more than ", cfg.max_concurrent_requests, " requests in progress"));
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  return std::nullopt;
}

void OtlpReceiver::HandleHttp(common::http::ServerRequest&& req,
                              common::http::Responder responder) {
  const HttpConfig& cfg = *config_.protocols.http;
  const bool json = MediaType(req) == "application/json";
  const std::string_view path = req.path();
  const Signal signal = path == cfg.traces_url_path    ? Signal::kTraces
                        : path == cfg.metrics_url_path ? Signal::kMetrics
                                                       : Signal::kLogs;
  // Held until the request is answered: the body (reserved by the server as
  // it arrived), what it decompresses to, and so about what its decoded
  // records take.
  std::shared_ptr<core::MemoryBudget::Reservation> reservation = req.reservation;
  const std::string encoding = absl::AsciiStrToLower(std::string(req.Header("Content-Encoding")));
  if (encoding == "gzip" || encoding == "zstd") {
    auto grow = [&reservation](size_t bytes) { return reservation->Grow(bytes); };
    absl::StatusOr<std::string> plain =
        encoding == "gzip"
            ? common::compress::Gunzip(req.body, cfg.max_decompressed_body_size.bytes, grow)
            : common::compress::Unzstd(req.body, cfg.max_decompressed_body_size.bytes, grow);
    if (plain.status().code() == absl::StatusCode::kUnavailable) {
      responder.Send(MemoryBudgetRefusal(json));
      return;
    }
    if (!plain.ok()) {
      const bool too_large = plain.status().code() == absl::StatusCode::kResourceExhausted;
      CountFailedRequest("http", too_large ? "too_large" : "malformed");
      responder.Send(too_large ? ErrorResponse(json, 413, grpc::StatusCode::RESOURCE_EXHAUSTED,
                                               absl::StrCat("request body exceeds ",
                                                            cfg.max_decompressed_body_size.bytes,
                                                            " bytes after decompression"))
                               : ErrorResponse(json, 400, grpc::StatusCode::INVALID_ARGUMENT,
                                               "the request body could not be decompressed"));
      return;
    }
    req.body = std::move(*plain);
  }
  absl::StatusOr<core::Batch> batch =
      json ? core::DecodeOtlpJson(signal, req.body) : DecodeProto(signal, &req.body);
  std::string received = std::move(req.body);
  req.body = std::string();
  if (!batch.ok()) {
    CountFailedRequest("http", "malformed");
    responder.Send(ErrorResponse(json, 400, grpc::StatusCode::INVALID_ARGUMENT,
                                 std::string(batch.status().message())));
    return;
  }
  Prepared p = Prepare(*batch, "http", json ? nullptr : &received);
  received = std::string();
  if (p.records == 0) {
    responder.Send(OutcomeResponse(json, signal, p.outcome));
    return;
  }
  http_in_flight_.fetch_add(1);
  const size_t records = p.records;
  responder.ExpireAt(core::Clock::now() + config_.ack_timeout,
                     [this, json, signal, records, reservation] {
                       http_in_flight_.fetch_sub(1);
                       Outcome timeout;
                       timeout.status = absl::UnavailableError(kAckTimeout);
                       Settle(signal, "http", records, timeout.status);
                       return OutcomeResponse(json, signal, timeout);
                     });
  Hand(*p.consumer, std::move(*batch),
       [this, json, signal, records, responder, reservation,
        outcome = p.outcome](absl::Status status) mutable {
         outcome.status = std::move(status);
         if (!responder.Send(OutcomeResponse(json, signal, outcome))) return;
         http_in_flight_.fetch_sub(1);
         Settle(signal, "http", records, outcome.status);
       });
}

absl::Status OtlpReceiver::StartHttp() {
  const HttpConfig& cfg = *config_.protocols.http;
  common::http::ServerOptions options;
  options.name = id_ + "/http";
  options.endpoint = cfg.endpoint;
  options.limits = cfg.limits;
  options.max_body_bytes = cfg.max_request_body_size.bytes;
  options.threads = 2;
  if (cfg.tls) {
    auto certificates = common::tls::ServerCertificates::Load(*cfg.tls);
    if (!certificates.ok()) return certificates.status();
    options.tls = *certificates;
  }
  options.admit = [this](const common::http::ServerRequest& req) { return AdmitHttp(req); };
  if (cfg.cors || !cfg.response_headers.empty()) {
    options.response_headers = [&cfg](const common::http::ServerRequest& req) {
      std::vector<std::pair<std::string, std::string>> headers(cfg.response_headers.begin(),
                                                               cfg.response_headers.end());
      const std::string origin(req.Header("Origin"));
      if (cfg.cors && !origin.empty() && cfg.cors->AllowsOrigin(origin)) {
        headers.emplace_back("Access-Control-Allow-Origin", origin);
        headers.emplace_back("Vary", "Origin");
        if (!cfg.cors->exposed_headers.empty()) {
          headers.emplace_back("Access-Control-Expose-Headers",
                               absl::StrJoin(cfg.cors->exposed_headers, ", "));
        }
      }
      return headers;
    };
  }
  options.over_budget = [this](const common::http::ServerRequest& req) {
    return MemoryBudgetRefusal(MediaType(req) == "application/json");
  };
  options.handle = [this](common::http::ServerRequest&& req, common::http::Responder responder) {
    HandleHttp(std::move(req), std::move(responder));
  };
  http_server_ = std::make_unique<common::http::Server>(std::move(options));
  if (absl::Status s = http_server_->Start(); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for OTLP/HTTP on ", cfg.endpoint, ": ", s.message()));
  }
  http_port_ = http_server_->port();
  core::Log(core::LogLevel::kInfo, id_, "listening",
            absl::StrCat("transport=http endpoint=", cfg.endpoint, " port=", http_port_));
  return absl::OkStatus();
}

}  // namespace tributary::receivers::otlp
