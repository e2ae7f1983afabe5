#include "tributary/core/batch.h"

#include "tributary/core/component.h"

namespace tributary::core {

std::string_view SignalName(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "traces";
    case Signal::kMetrics:
      return "metrics";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

std::string_view RecordKind(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "spans";
    case Signal::kMetrics:
      return "metric_points";
    case Signal::kLogs:
      return "logs";
  }
  return "unknown";
}

std::optional<Signal> ParseSignal(std::string_view name) {
  for (Signal s : kAllSignals) {
    if (SignalName(s) == name) return s;
  }
  return std::nullopt;
}

size_t CountRecords(const TracesRequest& request) {
  size_t n = 0;
  for (const auto& rs : request.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  }
  return n;
}

size_t CountRecords(const MetricsRequest& request) {
  size_t n = 0;
  for (const auto& rm : request.resource_metrics()) {
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        switch (m.data_case()) {
          case opentelemetry::proto::metrics::v1::Metric::kGauge:
            n += m.gauge().data_points_size();
            break;
          case opentelemetry::proto::metrics::v1::Metric::kSum:
            n += m.sum().data_points_size();
            break;
          case opentelemetry::proto::metrics::v1::Metric::kHistogram:
            n += m.histogram().data_points_size();
            break;
          case opentelemetry::proto::metrics::v1::Metric::kExponentialHistogram:
            n += m.exponential_histogram().data_points_size();
            break;
          case opentelemetry::proto::metrics::v1::Metric::kSummary:
            n += m.summary().data_points_size();
            break;
          case opentelemetry::proto::metrics::v1::Metric::DATA_NOT_SET:
            break;
        }
      }
    }
  }
  return n;
}

size_t CountRecords(const LogsRequest& request) {
  size_t n = 0;
  for (const auto& rl : request.resource_logs()) {
    for (const auto& sl : rl.scope_logs()) n += sl.log_records_size();
  }
  return n;
}

Batch::Batch(TracesRequest request) : data_(std::move(request)) {
  records_ = CountRecords(traces());
}
Batch::Batch(MetricsRequest request) : data_(std::move(request)) {
  records_ = CountRecords(metrics());
}
Batch::Batch(LogsRequest request) : data_(std::move(request)) { records_ = CountRecords(logs()); }

Batch Batch::Empty(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return Batch(TracesRequest());
    case Signal::kMetrics:
      return Batch(MetricsRequest());
    case Signal::kLogs:
      return Batch(LogsRequest());
  }
  return Batch(TracesRequest());
}

const google::protobuf::Message& Batch::message() const {
  return std::visit([](const auto& m) -> const google::protobuf::Message& { return m; }, data_);
}

void Batch::Append(const Batch& other) {
  std::visit(
      [&](auto& mine) {
        using T = std::decay_t<decltype(mine)>;
        mine.MergeFrom(std::get<T>(other.data_));
      },
      data_);
  records_ += other.records_;
}

bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

Ack::~Ack() {
  if (callback_) callback_(status_);
}

void Ack::Fail(const absl::Status& status) {
  if (status.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.ok() || (!IsRetryable(status_) && IsRetryable(status))) status_ = status;
}

absl::StatusOr<ComponentId> ComponentId::Parse(std::string_view text) {
  ComponentId id;
  size_t slash = text.find('/');
  id.type = std::string(text.substr(0, slash));
  if (slash != std::string_view::npos) {
    id.name = std::string(text.substr(slash + 1));
    if (id.name.empty()) return absl::InvalidArgumentError("empty name after '/'");
  }
  if (id.type.empty()) return absl::InvalidArgumentError("empty component type");
  for (char c : id.type) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
      return absl::InvalidArgumentError("component type may hold only letters, digits and '_'");
    }
  }
  return id;
}

}  // namespace tributary::core
