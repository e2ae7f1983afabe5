#include "receivers/otlp/export_outcome.h"

#include <mutex>
#include <optional>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tributary::receivers::otlp {

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

}  // namespace

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

}  // namespace tributary::receivers::otlp
