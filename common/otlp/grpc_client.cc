#include "common/otlp/grpc_client.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <future>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/tls/tls.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::common::otlp {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  const std::string message = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return absl::OkStatus();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::DATA_LOSS:
      return absl::UnavailableError(message);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(message);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::ResourceExhaustedError(message);
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError(message);
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::PermissionDeniedError(message);
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::UnimplementedError(message);
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "permanent gRPC error ", static_cast<int>(status.error_code()), ": ", message));
  }
}

GrpcClient::GrpcClient(GrpcClientSettings settings) : config_(std::move(settings)) {}

absl::Status GrpcClient::Start() {
  std::string target = config_.endpoint;
  bool insecure = config_.tls.insecure;
  if (absl::StartsWith(target, "http://")) {
    target = target.substr(7);
    insecure = true;
  } else if (absl::StartsWith(target, "https://")) {
    target = target.substr(8);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (insecure) {
    credentials = grpc::InsecureChannelCredentials();
  } else if (config_.tls.ca_file.empty() && config_.tls.cert_file.empty()) {
    credentials = grpc::SslCredentials(grpc::SslCredentialsOptions());  // system roots
  } else {
    // Files are checked now, then watched by gRPC: renewed certificates are
    // picked up without a restart.
    for (const std::string* f :
         {&config_.tls.ca_file, &config_.tls.cert_file, &config_.tls.key_file}) {
      if (f->empty()) continue;
      auto content = tls::ReadFile(*f);
      if (!content.ok()) return content.status();
      if (content->find("-----BEGIN") == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(*f, " holds no PEM data"));
      }
    }
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        config_.tls.key_file, config_.tls.cert_file, config_.tls.ca_file,
        static_cast<unsigned int>(
            std::chrono::duration_cast<std::chrono::seconds>(config_.tls.reload_interval).count()));
    grpc::experimental::TlsChannelCredentialsOptions options;
    options.set_certificate_provider(provider);
    if (!config_.tls.ca_file.empty()) options.watch_root_certs();
    if (!config_.tls.cert_file.empty()) options.watch_identity_key_cert_pairs();
    options.set_verify_server_certs(true);
    credentials = grpc::experimental::TlsCredentials(options);
  }
  grpc::ChannelArguments args;
  if (config_.compression == "gzip") args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  if (!config_.tls.server_name_override.empty()) {
    args.SetSslTargetNameOverride(config_.tls.server_name_override);
  }
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(config_.keepalive_time.count()));
  if (config_.keepalive_timeout.count() > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(config_.keepalive_timeout.count()));
  }
  if (config_.keepalive_permit_without_calls) {
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  }
  if (!config_.user_agent.empty()) args.SetUserAgentPrefix(config_.user_agent);
  if (!config_.balancer_name.empty()) args.SetLoadBalancingPolicyName(config_.balancer_name);
  if (!config_.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, config_.authority);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(-1);
  channel_ = grpc::CreateCustomChannel(target, credentials, args);
  traces_ = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(channel_);
  metrics_ = opentelemetry::proto::collector::metrics::v1::MetricsService::NewStub(channel_);
  logs_ = opentelemetry::proto::collector::logs::v1::LogsService::NewStub(channel_);
  bytes_ = std::make_unique<grpc::GenericStub>(channel_);
  return absl::OkStatus();
}

void GrpcClient::PrepareContext(grpc::ClientContext* ctx) const {
  ctx->set_deadline(std::chrono::system_clock::now() + config_.timeout);
  if (config_.wait_for_ready) ctx->set_wait_for_ready(true);
  for (const auto& [k, v] : config_.headers) ctx->AddMetadata(absl::AsciiStrToLower(k), v);
}

std::shared_ptr<GrpcClient::Call> GrpcClient::Send(const core::Batch& batch) {
  auto call = std::make_shared<Call>();
  PrepareContext(&call->ctx_);
  // The bytes are the batch's, which outlives the call: gRPC reads them in
  // place.
  const std::string& wire = *batch.wire();
  call->slice_ = grpc::Slice(wire.data(), wire.size(), grpc::Slice::STATIC_SLICE);
  call->send_ = grpc::ByteBuffer(&call->slice_, 1);
  // The callback holds the call until it has answered.
  bytes_->UnaryCall(&call->ctx_, core::OtlpGrpcMethod(batch.signal()), grpc::StubOptions(),
                    &call->send_, &call->reply_, [call](grpc::Status status) {
                      Result result;
                      result.status = FromGrpcStatus(status);
                      std::vector<grpc::Slice> slices;
                      if (status.ok() && call->reply_.Dump(&slices).ok()) {
                        std::string response;
                        for (const grpc::Slice& s : slices) {
                          response.append(reinterpret_cast<const char*>(s.begin()), s.size());
                        }
                        // The partial_success field (1) of every signal's
                        // response: rejected records (1) and a message (2).
                        opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse parsed;
                        if (parsed.ParseFromString(response) && parsed.has_partial_success()) {
                          result.report.rejected_records =
                              parsed.partial_success().rejected_log_records();
                          result.report.rejected_reason = parsed.partial_success().error_message();
                        }
                      }
                      call->done_.set_value(std::move(result));
                    });
  return call;
}

absl::Status GrpcClient::Export(const core::Batch& batch, core::ExportReport& report) noexcept {
  if (batch.wire() != nullptr) {
    Result result = Send(batch)->Wait();
    report.rejected_records = result.report.rejected_records;
    report.rejected_reason = std::move(result.report.rejected_reason);
    return result.status;
  }
  grpc::ClientContext ctx;
  PrepareContext(&ctx);
  grpc::Status status;
  switch (batch.signal()) {
    case core::Signal::kTraces: {
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
      status = traces_->Export(&ctx, batch.traces(), &response);
      if (status.ok() && response.has_partial_success()) {
        report.rejected_records = response.partial_success().rejected_spans();
        report.rejected_reason = response.partial_success().error_message();
      }
      break;
    }
    case core::Signal::kMetrics: {
      opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse response;
      status = metrics_->Export(&ctx, batch.metrics(), &response);
      if (status.ok() && response.has_partial_success()) {
        report.rejected_records = response.partial_success().rejected_data_points();
        report.rejected_reason = response.partial_success().error_message();
      }
      break;
    }
    case core::Signal::kLogs: {
      opentelemetry::proto::collector::logs::v1::ExportLogsServiceResponse response;
      status = logs_->Export(&ctx, batch.logs(), &response);
      if (status.ok() && response.has_partial_success()) {
        report.rejected_records = response.partial_success().rejected_log_records();
        report.rejected_reason = response.partial_success().error_message();
      }
      break;
    }
  }
  return FromGrpcStatus(status);
}

}  // namespace tributary::common::otlp
