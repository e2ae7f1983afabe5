#include "receivers/otlp/otlp_receiver.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/method_handler.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <future>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/http/endpoint.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"
#include "httplib.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::otlp {
namespace {

using core::Signal;

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

Outcome OtlpReceiver::Submit(core::Batch batch, const std::string& transport,
                             core::Deadline deadline) noexcept {
  Outcome outcome;
  const Signal signal = batch.signal();
  core::Telemetry& t = core::Telemetry::Get();
  core::ValidationResult invalid = core::RemoveInvalidRecords(batch);
  if (invalid.rejected > 0) {
    outcome.rejected = invalid.rejected;
    outcome.rejected_message = invalid.message;
    t.ReceiverRefused(id_, signal, transport, "invalid")
        .Increment(static_cast<double>(invalid.rejected));
  }
  const size_t records = batch.record_count();
  if (records == 0) return outcome;
  LimitsApplied limited = ApplyRecordLimits(batch, config_.limits);
  if (limited.dropped_attributes > 0) {
    t.ReceiverLimited(id_, signal, "dropped")
        .Increment(static_cast<double>(limited.dropped_attributes));
  }
  if (limited.truncated_values > 0) {
    t.ReceiverLimited(id_, signal, "truncated")
        .Increment(static_cast<double>(limited.truncated_values));
  }
  core::Consumer* consumer = consumers_.For(signal);
  if (consumer == nullptr) {
    outcome.status = absl::UnimplementedError(absl::StrCat(
        "no ", std::string(core::SignalName(signal)), " pipeline uses receiver ", id_));
    t.ReceiverRefused(id_, signal, transport, "no_pipeline")
        .Increment(static_cast<double>(records));
    return outcome;
  }
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> acknowledged = done->get_future();
  core::Envelope envelope;
  envelope.batch = std::make_shared<const core::Batch>(std::move(batch));
  envelope.acks.push_back(
      std::make_shared<core::Ack>([done](const absl::Status& status) { done->set_value(status); }));
  absl::Status status = consumer->Consume(std::move(envelope));
  if (status.ok()) {
    if (acknowledged.wait_until(deadline) == std::future_status::ready) {
      status = acknowledged.get();
    } else {
      status = absl::UnavailableError("the pipeline did not acknowledge the data in time");
    }
  }
  if (status.ok()) {
    accepted_[static_cast<size_t>(signal)][transport == "http"]->Increment(
        static_cast<double>(records));
  } else {
    t.ReceiverRefused(id_, signal, transport, RefusalReason(status))
        .Increment(static_cast<double>(records));
    uint64_t held;
    if (log_limiter_.Allow(&held)) {
      core::Log(core::LogLevel::kWarn, id_, "request refused",
                absl::StrCat("transport=", transport, " records=", records, " error=\"",
                             status.ToString(), "\" suppressed=", held));
    }
  }
  outcome.status = status;
  return outcome;
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

std::string MediaType(const httplib::Request& req) {
  std::string ct = req.get_header_value("Content-Type");
  ct = ct.substr(0, ct.find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(ct));
}

void WriteError(httplib::Response& res, bool json, int http_status, grpc::StatusCode code,
                const std::string& message) {
  google::rpc::Status body;
  body.set_code(static_cast<int>(code));
  body.set_message(message);
  res.status = http_status;
  if (json) {
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(body, &text);
    res.set_content(text, "application/json");
  } else {
    res.set_content(body.SerializeAsString(), "application/x-protobuf");
  }
}

}  // namespace

void OtlpReceiver::HandleHttp(Signal signal, size_t max_body, size_t max_wire,
                              const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
  const std::string media = MediaType(req);
  const bool json = media == "application/json";
  if (!Authorized(req.get_header_value("Authorization"), "http")) {
    res.set_header("WWW-Authenticate", "Bearer");
    WriteError(res, json, 401, grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
    return;
  }
  if (!json && media != "application/x-protobuf") {
    CountFailedRequest("http", "unsupported_media_type");
    WriteError(res, false, 415, grpc::StatusCode::INVALID_ARGUMENT,
               "Content-Type must be application/x-protobuf or application/json");
    return;
  }
  if (req.has_header("Content-Length") &&
      std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > max_wire) {
    CountFailedRequest("http", "too_large");
    WriteError(res, json, 413, grpc::StatusCode::RESOURCE_EXHAUSTED,
               absl::StrCat("request body exceeds ", max_wire, " bytes"));
    return;
  }
  std::string body;
  bool too_large = false;
  bool read = reader([&](const char* data, size_t n) {
    if (body.size() + n > max_body) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (too_large) {
    CountFailedRequest("http", "too_large");
    WriteError(res, json, 413, grpc::StatusCode::RESOURCE_EXHAUSTED,
               absl::StrCat("request body exceeds ", max_body, " bytes after decompression"));
    return;
  }
  if (!read) {
    CountFailedRequest("http", "malformed");
    WriteError(res, json, 400, grpc::StatusCode::INVALID_ARGUMENT,
               "the request body could not be read or decompressed");
    return;
  }
  absl::StatusOr<core::Batch> batch =
      json ? core::DecodeOtlpJson(signal, body) : core::DecodeOtlpProto(signal, body);
  if (!batch.ok()) {
    CountFailedRequest("http", "malformed");
    WriteError(res, json, 400, grpc::StatusCode::INVALID_ARGUMENT,
               std::string(batch.status().message()));
    return;
  }
  body.clear();
  body.shrink_to_fit();
  Outcome outcome = Submit(std::move(*batch), "http", core::Clock::now() + config_.ack_timeout);
  if (!outcome.status.ok()) {
    if (core::IsRetryable(outcome.status)) res.set_header("Retry-After", "1");
    WriteError(res, json, ToHttpStatus(outcome.status), ToGrpcCode(outcome.status),
               std::string(outcome.status.message()));
    return;
  }
  auto response = MakeResponse(signal, outcome);
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    (void)google::protobuf::util::MessageToJsonString(*response, &text, options);
    res.set_content(text, "application/json");
  } else {
    res.set_content(response->SerializeAsString(), "application/x-protobuf");
  }
}

absl::Status OtlpReceiver::StartHttp() {
  const HttpConfig& cfg = *config_.protocols.http;
  std::string host;
  int port;
  if (absl::Status s = common::http::SplitHostPort(cfg.endpoint, &host, &port); !s.ok()) return s;
  if (cfg.tls) {
    auto certificates = common::tls::ServerCertificates::Load(*cfg.tls);
    if (!certificates.ok()) return certificates.status();
    http_certificates_ = *certificates;
    auto server = std::make_unique<httplib::SSLServer>(
        [certs = http_certificates_](SSL_CTX& ctx) { return certs->Configure(ctx); });
    if (!server->is_valid()) return absl::InternalError("cannot set up TLS for OTLP/HTTP");
    http_server_ = std::move(server);
  } else {
    http_server_ = std::make_unique<httplib::Server>();
  }
  const size_t threads = static_cast<size_t>(cfg.max_concurrent_requests);
  http_server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_server_->set_payload_max_length(cfg.max_request_body_size.bytes);
  http_server_->set_keep_alive_max_count(100000);
  http_server_->set_read_timeout(30, 0);
  const size_t max_body = cfg.max_decompressed_body_size.bytes;
  const size_t max_wire = cfg.max_request_body_size.bytes;

  auto handler = [this, max_body, max_wire](Signal signal) {
    return [this, max_body, max_wire, signal](const httplib::Request& req, httplib::Response& res,
                                              const httplib::ContentReader& reader) {
      HandleHttp(signal, max_body, max_wire, req, res, reader);
    };
  };
  http_server_->Post(cfg.traces_url_path, handler(Signal::kTraces));
  http_server_->Post(cfg.metrics_url_path, handler(Signal::kMetrics));
  http_server_->Post(cfg.logs_url_path, handler(Signal::kLogs));
  if (port == 0) {
    http_port_ = http_server_->bind_to_any_port(host);
  } else if (http_server_->bind_to_port(host, port)) {
    http_port_ = port;
  } else {
    http_port_ = -1;
  }
  if (http_port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for OTLP/HTTP on ", cfg.endpoint));
  }
  http_thread_ = std::thread([this] { http_server_->listen_after_bind(); });
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
  if (http_server_) http_server_->stop();
  if (http_thread_.joinable()) http_thread_.join();
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
