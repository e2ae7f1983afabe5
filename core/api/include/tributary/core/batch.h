#ifndef TRIBUTARY_CORE_BATCH_H_
#define TRIBUTARY_CORE_BATCH_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/arena.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace tributary::core {

using TracesRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using MetricsRequest = opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceRequest;
using LogsRequest = opentelemetry::proto::collector::logs::v1::ExportLogsServiceRequest;

enum class Signal { kTraces = 0, kMetrics = 1, kLogs = 2 };
inline constexpr Signal kAllSignals[] = {Signal::kTraces, Signal::kMetrics, Signal::kLogs};

// "traces", "metrics", "logs": the pipeline type in configuration.
std::string_view SignalName(Signal signal);
// "spans", "metric_points", "logs": the `signal` label of self-metrics.
std::string_view RecordKind(Signal signal);
std::optional<Signal> ParseSignal(std::string_view name);

// Options for an arena that holds a request parsed from `serialized_bytes`:
// a first block near its size, no block above the heap's mmap threshold (so
// that blocks are reused rather than mapped and faulted in for every batch).
google::protobuf::ArenaOptions ArenaOptionsFor(size_t serialized_bytes);

// Data points of one metric, whatever its type.
size_t CountPoints(const opentelemetry::proto::metrics::v1::Metric& metric);
size_t CountRecords(const TracesRequest& request);
size_t CountRecords(const MetricsRequest& request);
size_t CountRecords(const LogsRequest& request);

// One unit of telemetry of one signal, held as the OTLP export request it
// arrives and leaves as. Immutable once shared through an Envelope.
//
// The request lives on the heap, or on a protobuf arena its builder made:
// then building it costs a few large allocations instead of several per
// record, and freeing it one pass over the arena's blocks.
class Batch {
 public:
  explicit Batch(TracesRequest request);
  explicit Batch(MetricsRequest request);
  explicit Batch(LogsRequest request);
  // `request` must have been created on `arena`, which the batch keeps.
  Batch(std::unique_ptr<google::protobuf::Arena> arena, TracesRequest* request);
  Batch(std::unique_ptr<google::protobuf::Arena> arena, MetricsRequest* request);
  Batch(std::unique_ptr<google::protobuf::Arena> arena, LogsRequest* request);
  // The serialized export request `wire` of `signal`, holding `records`
  // records, as a write-ahead buffer reads it back: nothing is parsed until a
  // stage asks for the request (traces(), logs(), metrics(), message(),
  // Parse()), and a stage that takes the bytes (wire()) never parses it.
  // `wire` must be what protobuf serialized, with `records` counted by
  // wire::CountOtlpRecords or CountRecords.
  Batch(Signal signal, std::string wire, size_t records);
  // A copy lives on the heap; a copy of a batch that holds its wire form is
  // those bytes, parsed when asked.
  Batch(const Batch& other);
  Batch& operator=(const Batch& other);
  // A batch moved from holds an empty request of the same signal.
  Batch(Batch&& other) noexcept;
  Batch& operator=(Batch&& other) noexcept;
  ~Batch();

  Signal signal() const { return static_cast<Signal>(data_.index()); }
  size_t record_count() const { return records_; }
  bool empty() const { return records_ == 0; }

  // The request's objects; a batch made from its wire form parses it onto an
  // arena on the first call (once, whichever thread asks). A request that
  // does not parse reads as empty: a stage that may be handed such a batch
  // checks Parse().
  const TracesRequest& traces() const { return *std::get<TracesRequest*>(Parsed()); }
  const MetricsRequest& metrics() const { return *std::get<MetricsRequest*>(Parsed()); }
  const LogsRequest& logs() const { return *std::get<LogsRequest*>(Parsed()); }
  const google::protobuf::Message& message() const;
  // Parses the wire form if not yet done; an error when it does not parse.
  absl::Status Parse() const;
  // The serialized request, while the batch holds the bytes it was made from
  // (unchanged since: a mutable_*() call or an Append of objects drops them);
  // else null.
  const std::string* wire() const;
  // Keeps `bytes`, which must be a serialization of this batch's request
  // (the bytes it was parsed from, nothing changed since), beside its
  // objects, for the stages that take bytes.
  void KeepWire(std::string bytes);
  // For changes that keep every record (attribute limits) before the batch
  // is shared; a shared batch is const.
  TracesRequest& mutable_traces() { return *std::get<TracesRequest*>(Mutable()); }
  MetricsRequest& mutable_metrics() { return *std::get<MetricsRequest*>(Mutable()); }
  LogsRequest& mutable_logs() { return *std::get<LogsRequest*>(Mutable()); }

  // Appends the resources of `other`, which must carry the same signal. Two
  // batches that hold their wire form append as bytes (two serialized export
  // requests one after the other are the serialized request of their
  // union); this batch's objects, if any, are dropped, to be parsed again
  // if a later stage asks for them.
  void Append(const Batch& other);
  // The same, taking `other`'s resources instead of copying them; `other`
  // is left empty.
  void Append(Batch&& other);
  // Cuts the batch into batches of at most `max_records` records each (0: no
  // limit), keeping every record with its resource and scope. A batch within
  // the limit is moved, not copied.
  std::vector<Batch> Split(size_t max_records) &&;
  size_t ByteSize() const;

 private:
  using Data = std::variant<TracesRequest*, MetricsRequest*, LogsRequest*>;
  struct Wire;
  void Free() noexcept;
  // The request: data_, or the one parsed from the wire form.
  const Data& Parsed() const { return wire_ ? ParseWire() : data_; }
  const Data& ParseWire() const;
  // data_ for a change: parsed, and the wire form dropped.
  const Data& Mutable();
  // Whether this batch holds bytes nobody has parsed yet.
  bool Unparsed() const;
  void AppendWire(const std::string& other);

  std::unique_ptr<google::protobuf::Arena> arena_;  // owns the request when set
  Data data_;  // a null request of the signal while wire_ holds the request
  size_t records_ = 0;
  std::unique_ptr<Wire> wire_;  // the serialized request, when made from it
};

// Where one span or log record stands in its batch.
struct RecordRef {
  uint32_t resource;
  uint32_t scope;
  uint32_t record;
  friend bool operator<(const RecordRef& a, const RecordRef& b) {
    return std::tie(a.resource, a.scope, a.record) < std::tie(b.resource, b.scope, b.record);
  }
};

// The records of a traces or logs batch at `refs` (in any order, each once),
// in batch order and each with its resource and scope: the part of a batch
// an exporter hands back for a retry or the dead-letter file.
Batch SelectRecords(const Batch& batch, std::vector<RecordRef> refs);

// The batch of an envelope for a stage that changes or keeps it: moved out
// when the envelope held the only reference, else copied.
Batch TakeBatch(std::shared_ptr<const Batch>&& batch);

// The completion of one piece of received data. Every stage that holds part
// of it keeps a reference; when the last reference goes, the callback runs
// once with OK or the most useful failure reported (a retryable one wins, so
// the sender retries). Thread-safe.
class Ack {
 public:
  using Callback = std::function<void(const absl::Status&)>;
  explicit Ack(Callback callback) : callback_(std::move(callback)) {}
  ~Ack();
  Ack(const Ack&) = delete;
  Ack& operator=(const Ack&) = delete;

  void Fail(const absl::Status& status);

 private:
  Callback callback_;
  std::mutex mu_;
  absl::Status status_;
};
using AckRef = std::shared_ptr<Ack>;

bool IsRetryable(const absl::Status& status);

// What moves between pipeline stages: shared immutable data plus the
// acknowledgements it settles.
struct Envelope {
  std::shared_ptr<const Batch> batch;
  std::vector<AckRef> acks;
  // Read from a write-ahead buffer: a retryable failure leaves the data there
  // for the next attempt, so it is not a drop.
  bool durable = false;

  void Fail(const absl::Status& status) const {
    for (const AckRef& ack : acks) ack->Fail(status);
  }
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_BATCH_H_
