#include "receivers/otlp/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "receivers/otlp/deadline_queue.h"
#include "receivers/otlp/export_outcome.h"
#include "tributary/core/memory_budget.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::receivers::otlp {
namespace {

using core::Signal;

// The request's bytes in one piece: parsed from contiguous memory, and kept
// with the batch when nothing in it changes.
std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

// One Export call from its decoding to its answer: answered once, by the
// pipeline's acknowledgement or at its deadline, whichever comes first.
struct OtlpReceiver::GrpcCall {
  std::atomic<bool> done{false};
  grpc::ServerUnaryReactor* reactor = nullptr;
  grpc::ByteBuffer* response = nullptr;
  Signal signal = Signal::kTraces;
  size_t records = 0;
  Outcome outcome;
  std::shared_ptr<core::MemoryBudget::Reservation> reservation;
  uint64_t timer = 0;

  // False when the call was answered already.
  bool Complete(OtlpReceiver& r, absl::Status status) {
    if (done.exchange(true)) return false;
    r.grpc_in_flight_.fetch_sub(1);
    r.Settle(signal, "grpc", records, status);
    outcome.status = std::move(status);
    Answer(reactor, response, signal, outcome);
    reservation.reset();
    return true;
  }

  static void Answer(grpc::ServerUnaryReactor* reactor, grpc::ByteBuffer* response, Signal signal,
                     const Outcome& outcome) {
    if (!outcome.status.ok()) {
      reactor->Finish(
          grpc::Status(ToGrpcCode(outcome.status), std::string(outcome.status.message())));
      return;
    }
    std::string bytes = MakeResponse(signal, outcome)->SerializeAsString();
    grpc::Slice slice(bytes);
    *response = grpc::ByteBuffer(&slice, 1);
    reactor->Finish(grpc::Status::OK);
  }
};

OtlpReceiver::GrpcService::GrpcService(OtlpReceiver* receiver) : receiver_(receiver) {
  for (Signal signal : core::kAllSignals) {
    Add(static_cast<int>(signal), core::OtlpGrpcMethod(signal), signal);
  }
}

void OtlpReceiver::GrpcService::Add(int index, const char* path, Signal signal) {
  AddMethod(
      new grpc::internal::RpcServiceMethod(path, grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
  MarkMethodRawCallback(
      index, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
                 [this, signal](grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) {
                   return Export(signal, ctx, *request, response);
                 }));
}

grpc::Status OtlpReceiver::GrpcService::Admit(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer& request,
    std::shared_ptr<core::MemoryBudget::Reservation>* reservation) {
  OtlpReceiver& r = *receiver_;
  if (r.auth_) {
    const auto& metadata = ctx->client_metadata();
    auto it = metadata.find("authorization");
    std::string_view value;
    if (it != metadata.end()) value = std::string_view(it->second.data(), it->second.size());
    if (!r.Authorized(value, "grpc")) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
    }
  }
  const int64_t limit = r.config_.protocols.grpc->max_concurrent_requests;
  if (r.grpc_in_flight_.load() >= limit) {
    r.CountFailedRequest("grpc", "too_many_requests");
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("more than ", limit, " requests in progress"));
  }
  // The request and its decoded records, held until it is answered.
  *reservation = std::make_shared<core::MemoryBudget::Reservation>();
  if (!core::MemoryBudget::Process().Reserve(2 * static_cast<uint64_t>(request.Length()),
                                             reservation->get())) {
    r.CountFailedRequest("grpc", "memory_budget");
    core::MemoryBudget::Process().CountRefused(r.id());
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the memory budget for requests in flight is spent; retry later");
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* OtlpReceiver::GrpcService::Export(Signal signal,
                                                            grpc::CallbackServerContext* ctx,
                                                            const grpc::ByteBuffer& request,
                                                            grpc::ByteBuffer* response) {
  OtlpReceiver& r = *receiver_;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto call = std::make_shared<GrpcCall>();
  if (grpc::Status refused = Admit(ctx, request, &call->reservation); !refused.ok()) {
    reactor->Finish(refused);
    return reactor;
  }
  std::string received = Flatten(request);
  absl::StatusOr<core::Batch> batch = r.DecodeProto(signal, &received);
  if (!batch.ok()) {
    r.CountFailedRequest("grpc", "malformed");
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(batch.status().message())));
    return reactor;
  }
  Prepared p = r.Prepare(*batch, "grpc", &received);
  received = std::string();
  if (p.records == 0) {
    GrpcCall::Answer(reactor, response, signal, p.outcome);
    return reactor;
  }
  core::Deadline deadline = core::Clock::now() + r.config_.ack_timeout;
  const auto client_deadline = ctx->deadline();
  if (client_deadline != std::chrono::system_clock::time_point::max()) {
    deadline = std::min(
        deadline, core::Clock::now() + std::chrono::duration_cast<core::Clock::duration>(
                                           client_deadline - std::chrono::system_clock::now()));
  }
  call->reactor = reactor;
  call->response = response;
  call->signal = signal;
  call->records = p.records;
  call->outcome = p.outcome;
  r.grpc_in_flight_.fetch_add(1);
  call->timer = r.deadlines_.At(
      deadline, [&r, call] { call->Complete(r, absl::UnavailableError(kAckTimeout)); });
  Hand(*p.consumer, std::move(*batch), [&r, call](absl::Status status) {
    if (call->Complete(r, std::move(status))) r.deadlines_.Cancel(call->timer);
  });
  return reactor;
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
  if (cfg.keepalive) {
    const ServerKeepaliveConfig& k = *cfg.keepalive;
    const std::pair<const char*, std::chrono::milliseconds> args[] = {
        {GRPC_ARG_MAX_CONNECTION_IDLE_MS, k.server_parameters.max_connection_idle},
        {GRPC_ARG_MAX_CONNECTION_AGE_MS, k.server_parameters.max_connection_age},
        {GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, k.server_parameters.max_connection_age_grace},
        {GRPC_ARG_KEEPALIVE_TIME_MS, k.server_parameters.time},
        {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, k.server_parameters.timeout},
        {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, k.enforcement_policy.min_time},
    };
    for (const auto& [name, value] : args) {
      if (value.count() > 0) builder.AddChannelArgument(name, static_cast<int>(value.count()));
    }
    if (k.enforcement_policy.permit_without_stream) {
      builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    }
  }
  if (cfg.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               static_cast<int>(cfg.max_concurrent_streams));
  }
  builder.RegisterService(grpc_service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for OTLP/gRPC on ", cfg.endpoint));
  }
  core::Log(core::LogLevel::kInfo, id_, "listening",
            absl::StrCat("transport=grpc endpoint=", cfg.endpoint, " port=", grpc_port_));
  return absl::OkStatus();
}

}  // namespace tributary::receivers::otlp
