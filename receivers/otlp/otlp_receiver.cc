#include "receivers/otlp/otlp_receiver.h"

#include <grpcpp/grpcpp.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/http/server.h"
#include "common/otlp/wire_check.h"
#include "receivers/otlp/export_outcome.h"
#include "receivers/otlp/grpc_transport.h"
#include "tributary/core/otlp_codec.h"
#include "tributary/core/telemetry.h"

namespace tributary::receivers::otlp {

using common::otlp::ApplyRecordLimits;
using common::otlp::LimitsApplied;
using common::otlp::PassesUnchanged;

using core::Signal;

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

OtlpReceiver::Prepared OtlpReceiver::Prepare(core::Batch& batch, const std::string& transport,
                                             std::string* received) {
  Prepared p;
  const Signal signal = batch.signal();
  if (batch.wire() != nullptr) return Route(batch, transport, p);
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
  if (received != nullptr && invalid.rejected == 0 && limited.dropped_attributes == 0 &&
      limited.truncated_values == 0) {
    batch.KeepWire(std::move(*received));
  }
  return Route(batch, transport, p);
}

absl::StatusOr<core::Batch> OtlpReceiver::DecodeProto(Signal signal, std::string* received) const {
  if (std::optional<size_t> records = PassesUnchanged(signal, *received, config_.limits)) {
    return core::Batch(signal, std::exchange(*received, std::string()), *records);
  }
  return core::DecodeOtlpProto(signal, *received);
}

OtlpReceiver::Prepared OtlpReceiver::Route(const core::Batch& batch, const std::string& transport,
                                           Prepared p) {
  const Signal signal = batch.signal();
  const size_t records = batch.record_count();
  if (records == 0) return p;
  p.consumer = consumers_.For(signal);
  if (p.consumer == nullptr) {
    p.outcome.status = absl::UnimplementedError(absl::StrCat(
        "no ", std::string(core::SignalName(signal)), " pipeline uses receiver ", id_));
    core::Telemetry::Get()
        .ReceiverRefused(id_, signal, transport, "no_pipeline")
        .Increment(static_cast<double>(records));
    return p;
  }
  p.records = records;
  return p;
}

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

void OtlpReceiver::Shutdown(core::Deadline deadline) noexcept {
  if (stopped_) return;
  stopped_ = true;
  // Calls waiting for an acknowledgement are answered by the deadline.
  deadlines_.Expedite(deadline);
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
          "OTLP over gRPC and HTTP (protobuf and JSON, gzip; zstd over HTTP), for traces, metrics "
          "and logs.",
          [](const core::CreateContext& ctx, const OtlpReceiverConfig& config,
             const core::ReceiverConsumers& consumers)
              -> absl::StatusOr<std::unique_ptr<core::Receiver>> {
            return std::make_unique<receivers::otlp::OtlpReceiver>(ctx.id.ToString(), config,
                                                                   consumers);
          }));
}
}  // namespace tributary
