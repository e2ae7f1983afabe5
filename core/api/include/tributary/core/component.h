#ifndef TRIBUTARY_CORE_COMPONENT_H_
#define TRIBUTARY_CORE_COMPONENT_H_

#include <chrono>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tributary/core/batch.h"

namespace tributary::core {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// `type[/name]`, as used for component keys in configuration.
struct ComponentId {
  std::string type;
  std::string name;

  static absl::StatusOr<ComponentId> Parse(std::string_view text);
  std::string ToString() const { return name.empty() ? type : type + "/" + name; }
  bool operator<(const ComponentId& o) const { return ToString() < o.ToString(); }
  bool operator==(const ComponentId& o) const = default;
};

// The input side of every pipeline stage. Called from receiver and processor
// threads, possibly concurrently; must not block beyond a bounded queue push.
// A non-OK return means the envelope was refused (kResourceExhausted when a
// queue is full) and the caller answers its sender with that status; the
// callee then releases its references to the acks without failing them.
class Consumer {
 public:
  virtual ~Consumer() = default;
  virtual absl::Status Consume(Envelope envelope) noexcept = 0;
};

// Start/Shutdown are called by the service thread only. Shutdown is idempotent
// and returns by the deadline.
class Lifecycle {
 public:
  virtual ~Lifecycle() = default;
  virtual absl::Status Start() = 0;
  virtual void Shutdown(Deadline deadline) noexcept = 0;
};

// Accepts telemetry from outside and hands it to the consumers it was created
// with. Answers its senders with the status of the envelope's Ack.
class Receiver : public Lifecycle {};

// A stage between receivers and exporters; created with the next consumer.
class Processor : public Consumer, public Lifecycle {};

// What an exporter learnt from its peer besides success or failure.
struct ExportReport {
  // Set by the caller: 0 for a batch's first Export, then 1, 2... for the
  // retries of what is left of it.
  int attempt = 0;
  // Set by the exporter: the peer asked to wait this long before a retry
  // (HTTP Retry-After); the wait is at least this.
  std::chrono::nanoseconds retry_after{0};
  // Set by the exporter with a retryable error when only part of the batch
  // still has to go: those records. The others are delivered or rejected;
  // the retry exports this batch alone. Unset, the retry sends the whole batch.
  std::optional<Batch> retry;
  // Set by the exporter, with success or with a retryable error: records the
  // peer refused for good (partial success), with a reason.
  size_t rejected_records = 0;
  std::string rejected_reason;
  // The refused records themselves, where the peer says which they are
  // (an Elasticsearch bulk response does); they go to the dead-letter file.
  std::optional<Batch> rejected;
};

// Sends batches to one destination. The pipeline calls Export from its
// worker threads, never concurrently unless MaxConcurrency() > 1, and owns
// retry, backoff and counting: Export reports what happened through the
// status code (kUnavailable, kResourceExhausted, kDeadlineExceeded retry;
// anything else is permanent).
class Exporter : public Lifecycle {
 public:
  virtual absl::Status Export(const Batch& batch, ExportReport& report) noexcept = 0;
  virtual int MaxConcurrency() const { return 1; }
  // Whether Export may be handed a batch in wire form (Batch::wire(), from a
  // write-ahead buffer) that nobody has parsed: such an exporter sends the
  // bytes as they are, or checks Batch::Parse() before reading the objects.
  virtual bool ReadsWireForm() const { return false; }
};

// The exporter of one pipeline and a receiver of others. The upstream
// pipeline hands it envelopes of its input signal through Consume, in an
// exporter's place; what it emits goes to the pipelines that list it under
// `receivers`, through the consumers it was created with. A pass-through
// connector forwards envelopes with their acknowledgements; one that
// aggregates releases them once the data is folded into its state, and
// emits new envelopes (acknowledged by nobody upstream) as it flushes.
// Shutdown flushes what it holds while the downstream pipelines still run.
class Connector : public Consumer, public Lifecycle {
 public:
  // As Exporter::ReadsWireForm: whether Consume may be handed a batch read
  // from a write-ahead buffer and not parsed.
  virtual bool ReadsWireForm() const { return false; }
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_COMPONENT_H_
