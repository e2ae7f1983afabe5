#include "receivers/otlp/otlp_receiver.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <future>
#include <mutex>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/compress/gzip.h"
#include "common/http/endpoint.h"
#include "common/http/server.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "tributary/core/memory_budget.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::otlp {
namespace {

using core::Signal;

constexpr char kAckTimeout[] = "the pipeline did not acknowledge the data in time";

const char* RefusalReason(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kResourceExhausted:
      return "backpressure";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kDeadlineExceeded:
      return "ack_timeout";
    case absl::StatusCode::kUnimplemented:
      return "no_pipeline";
    default:
      return "export_failed";
  }
}

grpc::StatusCode ToGrpcCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return grpc::StatusCode::OK;
    case absl::StatusCode::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return grpc::StatusCode::UNAVAILABLE;
    case absl::StatusCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case absl::StatusCode::kUnimplemented:
      return grpc::StatusCode::UNIMPLEMENTED;
    case absl::StatusCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    default:
      return grpc::StatusCode::INTERNAL;
  }
}

int ToHttpStatus(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return 503;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnimplemented:
      return 404;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    default:
      return 500;
  }
}

// The Export*ServiceResponse of a signal, with partial success when records
// were refused.
std::unique_ptr<google::protobuf::Message> MakeResponse(Signal signal, const Outcome& o) {
  switch (signal) {
    case Signal::kTraces: {
      auto r = std::make_unique<
          opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse>();
      if (o.rejected > 0) {
        r->mutable_partial_success()->set_rejected_spans(static_cast<int64_t>(o.rejected));
        r->mutable_partial_success()->set_error_message(o.rejected_message);
      }
      return r;
    }
    case Signal::kMetrics: {
      auto r = std::make_unique<
          opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse>();
      if (o.rejected > 0) {
        r->mutable_partial_success()->set_rejected_data_points(static_cast<int64_t>(o.rejected));
        r->mutable_partial_success()->set_error_message(o.rejected_message);
      }
      return r;
    }
    case Signal::kLogs: {
      auto r =
          std::make_unique<opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse>();
      if (o.rejected > 0) {
        r->mutable_partial_success()->set_rejected_log_records(static_cast<int64_t>(o.rejected));
        r->mutable_partial_success()->set_error_message(o.rejected_message);
      }
      return r;
    }
  }
  return nullptr;
}

template <class Request>
absl::StatusOr<core::Batch> ParseByteBuffer(const grpc::ByteBuffer& buffer) {
  Request request;
  // ProtoBufferReader only reads; it takes a non-const pointer for its API.
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&buffer));
  if (!request.ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError("invalid OTLP/protobuf: the message does not parse");
  }
  return core::Batch(std::move(request));
}

absl::StatusOr<core::Batch> ParseGrpc(Signal signal, const grpc::ByteBuffer& buffer) {
  switch (signal) {
    case Signal::kTraces:
      return ParseByteBuffer<core::TracesRequest>(buffer);
    case Signal::kMetrics:
      return ParseByteBuffer<core::MetricsRequest>(buffer);
    case Signal::kLogs:
      return ParseByteBuffer<core::LogsRequest>(buffer);
  }
  return absl::InternalError("unknown signal");
}

}  // namespace

// Registers the three OTLP Export methods over raw byte buffers, so that the
// receiver decodes requests itself: a malformed message is answered with
// INVALID_ARGUMENT as OTLP specifies, and the request is parsed once.
class OtlpReceiver::GrpcService : public grpc::Service {
 public:
  explicit GrpcService(OtlpReceiver* receiver) : receiver_(receiver) {
    Add("/opentelemetry.proto.collector.trace.v1.TraceService/Export", Signal::kTraces);
    Add("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", Signal::kMetrics);
    Add("/opentelemetry.proto.collector.logs.v1.LogsService/Export", Signal::kLogs);
  }

 private:
  void Add(const char* path, Signal signal) {
    AddMethod(new grpc::internal::RpcServiceMethod(
        path, grpc::internal::RpcMethod::NORMAL_RPC,
        new grpc::internal::RpcMethodHandler<GrpcService, grpc::ByteBuffer, grpc::ByteBuffer>(
            [signal](GrpcService* self, grpc::ServerContext* ctx, const grpc::ByteBuffer* request,
                     grpc::ByteBuffer* response) {
              return self->Export(signal, ctx, *request, response);
            },
            this)));
  }

  grpc::Status Export(Signal signal, grpc::ServerContext* ctx, const grpc::ByteBuffer& request,
                      grpc::ByteBuffer* response) {
    if (receiver_->auth_) {
      const auto& metadata = ctx->client_metadata();
      auto it = metadata.find("authorization");
      std::string_view value;
      if (it != metadata.end()) value = std::string_view(it->second.data(), it->second.size());
      if (!receiver_->Authorized(value, "grpc")) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
      }
    }
    // The request and its decoded records, held until it is answered.
    core::MemoryBudget::Reservation reservation;
    if (!core::MemoryBudget::Process().Reserve(2 * static_cast<uint64_t>(request.Length()),
                                               &reservation)) {
      receiver_->CountFailedRequest("grpc", "memory_budget");
      core::MemoryBudget::Process().CountRefused(receiver_->id());
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the memory budget for requests in flight is spent; retry later");
    }
    absl::StatusOr<core::Batch> batch = ParseGrpc(signal, request);
    if (!batch.ok()) {
      receiver_->CountFailedRequest("grpc", "malformed");
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(batch.status().message()));
    }
    core::Deadline deadline = core::Clock::now() + receiver_->config_.ack_timeout;
    auto client_deadline = ctx->deadline();
    if (client_deadline != std::chrono::system_clock::time_point::max()) {
      auto remaining = client_deadline - std::chrono::system_clock::now();
      deadline =
          std::min(deadline, core::Clock::now() +
                                 std::chrono::duration_cast<core::Clock::duration>(remaining));
    }
    Outcome outcome = receiver_->Submit(std::move(*batch), "grpc", deadline);
    if (!outcome.status.ok()) {
      return grpc::Status(ToGrpcCode(outcome.status), std::string(outcome.status.message()));
    }
    std::string bytes = MakeResponse(signal, outcome)->SerializeAsString();
    grpc::Slice slice(bytes);
    *response = grpc::ByteBuffer(&slice, 1);
    return grpc::Status::OK;
  }

  OtlpReceiver* receiver_;
};

OtlpReceiver::OtlpReceiver(std::string id, OtlpReceiverConfig config,
                           core::ReceiverConsumers consumers)
    : id_(std::move(id)), config_(std::move(config)), consumers_(consumers) {
  for (Signal s : core::kAllSignals) {
    for (const char* transport : {"grpc", "http"}) {
      accepted_[static_cast<size_t>(s)][transport[0] == 'h'] =
          &core::Telemetry::Get().ReceiverAccepted(id_, s, transport);
    }
  }
}

OtlpReceiver::~OtlpReceiver() { Shutdown(core::Clock::now()); }

bool OtlpReceiver::Authorized(std::string_view authorization, const std::string& transport) {
  if (!auth_ || auth_->Check(authorization)) return true;
  CountFailedRequest(transport, "unauthenticated");
  uint64_t held;
  if (log_limiter_.Allow(&held)) {
    core::Log(core::LogLevel::kWarn, id_, "request refused: missing or wrong bearer token",
              absl::StrCat("transport=", transport, " suppressed=", held));
  }
  return false;
}

void OtlpReceiver::CountFailedRequest(const std::string& transport, const std::string& reason) {
  core::Telemetry::Get().ReceiverFailedRequests(id_, transport, reason).Increment();
}

OtlpReceiver::Prepared OtlpReceiver::Prepare(core::Batch& batch, const std::string& transport) {
  Prepared p;
  const Signal signal = batch.signal();
  core::Telemetry& t = core::Telemetry::Get();
  core::ValidationResult invalid = core::RemoveInvalidRecords(batch);
  if (invalid.rejected > 0) {
    p.outcome.rejected = invalid.rejected;
    p.outcome.rejected_message = invalid.message;
    t.ReceiverRefused(id_, signal, transport, "invalid")
        .Increment(static_cast<double>(invalid.rejected));
  }
  const size_t records = batch.record_count();
  if (records == 0) return p;
  LimitsApplied limited = ApplyRecordLimits(batch, config_.limits);
  if (limited.dropped_attributes > 0) {
    t.ReceiverLimited(id_, signal, "dropped")
        .Increment(static_cast<double>(limited.dropped_attributes));
  }
  if (limited.truncated_values > 0) {
    t.ReceiverLimited(id_, signal, "truncated")
        .Increment(static_cast<double>(limited.truncated_values));
  }
  p.consumer = consumers_.For(signal);
  if (p.consumer == nullptr) {
    p.outcome.status = absl::UnimplementedError(absl::StrCat(
        "no ", std::string(core::SignalName(signal)), " pipeline uses receiver ", id_));
    t.ReceiverRefused(id_, signal, transport, "no_pipeline")
        .Increment(static_cast<double>(records));
    return p;
  }
  p.records = records;
  return p;
}

namespace {

// Between handing a batch to the pipeline and its acknowledgement: the
// acknowledgement may come before Consume returns, or (dropped with the
// envelope) after Consume refused it; `finish` hears one verdict, once.
struct AckWait {
  std::mutex mu;
  bool handed = false;
  std::optional<absl::Status> acked;
  std::function<void(absl::Status)> finish;
};

void Hand(core::Consumer& consumer, core::Batch batch, std::function<void(absl::Status)> finish) {
  auto wait = std::make_shared<AckWait>();
  wait->finish = std::move(finish);
  core::Envelope envelope;
  envelope.batch = std::make_shared<const core::Batch>(std::move(batch));
  envelope.acks.push_back(std::make_shared<core::Ack>([wait](const absl::Status& status) {
    std::unique_lock<std::mutex> lock(wait->mu);
    wait->acked = status;
    if (!wait->handed) return;
    lock.unlock();
    wait->finish(status);
  }));
  absl::Status status = consumer.Consume(std::move(envelope));
  if (!status.ok()) return wait->finish(status);
  std::unique_lock<std::mutex> lock(wait->mu);
  wait->handed = true;
  if (!wait->acked) return;
  absl::Status acked = *wait->acked;
  lock.unlock();
  wait->finish(acked);
}

}  // namespace

void OtlpReceiver::Settle(Signal signal, const std::string& transport, size_t records,
                          const absl::Status& status) {
  if (status.ok()) {
    accepted_[static_cast<size_t>(signal)][transport == "http"]->Increment(
        static_cast<double>(records));
    return;
  }
  core::Telemetry::Get()
      .ReceiverRefused(id_, signal, transport, RefusalReason(status))
      .Increment(static_cast<double>(records));
  uint64_t held;
  if (log_limiter_.Allow(&held)) {
    core::Log(core::LogLevel::kWarn, id_, "request refused",
              absl::StrCat("transport=", transport, " records=", records, " error=\"",
                           status.ToString(), "\" suppressed=", held));
  }
}

Outcome OtlpReceiver::Submit(core::Batch batch, const std::string& transport,
                             core::Deadline deadline) noexcept {
  const Signal signal = batch.signal();
  Prepared p = Prepare(batch, transport);
  if (p.records == 0) return p.outcome;
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> verdict = done->get_future();
  Hand(*p.consumer, std::move(batch), [done](absl::Status s) { done->set_value(std::move(s)); });
  absl::Status status = verdict.wait_until(deadline) == std::future_status::ready
                            ? verdict.get()
                            : absl::UnavailableError(kAckTimeout);
  Settle(signal, transport, p.records, status);
  p.outcome.status = status;
  return p.outcome;
}

absl::Status OtlpReceiver::Start() {
  if (config_.auth) {
    auto auth = common::tls::BearerAuthenticator::Create(*config_.auth);
    if (!auth.ok()) return auth.status();
    auth_ = std::move(*auth);
  }
  if (config_.protocols.grpc) {
    if (absl::Status s = StartGrpc(); !s.ok()) return s;
  }
  if (config_.protocols.http) {
    if (absl::Status s = StartHttp(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status OtlpReceiver::StartGrpc() {
  const GrpcConfig& cfg = *config_.protocols.grpc;
  grpc_service_ = std::make_unique<GrpcService>(this);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (cfg.tls) {
    // Fail at start on unreadable or mismatched files, rather than at the
    // first handshake; gRPC then watches the files itself.
    if (auto check = common::tls::ServerCertificates::Load(*cfg.tls); !check.ok())
      return check.status();
    const unsigned int refresh = static_cast<unsigned int>(
        std::chrono::duration_cast<std::chrono::seconds>(cfg.tls->reload_interval).count());
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        cfg.tls->key_file, cfg.tls->cert_file, cfg.tls->client_ca_file, refresh);
    grpc::experimental::TlsServerCredentialsOptions options(provider);
    options.watch_identity_key_cert_pairs();
    if (!cfg.tls->client_ca_file.empty()) {
      options.watch_root_certs();
      options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    } else {
      options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    }
    credentials = grpc::experimental::TlsServerCredentials(options);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(cfg.endpoint, credentials, &grpc_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(cfg.max_recv_msg_size_mib << 20));
  if (cfg.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               static_cast<int>(cfg.max_concurrent_streams));
  }
  grpc::ResourceQuota quota("otlp_receiver");
  quota.SetMaxThreads(static_cast<int>(cfg.max_concurrent_requests));
  builder.SetResourceQuota(quota);
  builder.RegisterService(grpc_service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for OTLP/gRPC on ", cfg.endpoint));
  }
  core::Log(core::LogLevel::kInfo, id_, "listening",
            absl::StrCat("transport=grpc endpoint=", cfg.endpoint, " port=", grpc_port_));
  return absl::OkStatus();
}

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

}  // namespace

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
  if (!encoding.empty() && encoding != "gzip" && encoding != "identity") {
    CountFailedRequest("http", "unsupported_encoding");
    return ErrorResponse(json, 415, grpc::StatusCode::INVALID_ARGUMENT,
                         "Content-Encoding must be gzip or identity");
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
  if (absl::AsciiStrToLower(std::string(req.Header("Content-Encoding"))) == "gzip") {
    absl::StatusOr<std::string> plain =
        common::compress::Gunzip(req.body, cfg.max_decompressed_body_size.bytes,
                                 [&reservation](size_t bytes) { return reservation->Grow(bytes); });
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
      json ? core::DecodeOtlpJson(signal, req.body) : core::DecodeOtlpProto(signal, req.body);
  req.body = std::string();
  if (!batch.ok()) {
    CountFailedRequest("http", "malformed");
    responder.Send(ErrorResponse(json, 400, grpc::StatusCode::INVALID_ARGUMENT,
                                 std::string(batch.status().message())));
    return;
  }
  Prepared p = Prepare(*batch, "http");
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

void OtlpReceiver::Shutdown(core::Deadline deadline) noexcept {
  if (stopped_) return;
  stopped_ = true;
  if (grpc_server_) {
    auto remaining = deadline - core::Clock::now();
    grpc_server_->Shutdown(
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(remaining));
    grpc_server_->Wait();
  }
  if (http_server_) http_server_->Stop();
}

}  // namespace tributary::receivers::otlp

namespace tributary {
void RegisterReceiverOtlp(core::Registry& registry) {
  using receivers::otlp::OtlpReceiverConfig;
  registry.Add(
      core::MakeFactory<core::Receiver, OtlpReceiverConfig, const core::ReceiverConsumers&>(
          "otlp", {core::Signal::kTraces, core::Signal::kMetrics, core::Signal::kLogs},
          "OTLP over gRPC and HTTP (protobuf and JSON, gzip), for traces, metrics and logs.",
          [](const core::CreateContext& ctx, const OtlpReceiverConfig& config,
             const core::ReceiverConsumers& consumers)
              -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
            return std::make_unique<receivers::otlp::OtlpReceiver>(ctx.id.ToString(), config,
                                                                   consumers);
          }));
}
}  // namespace tributary
