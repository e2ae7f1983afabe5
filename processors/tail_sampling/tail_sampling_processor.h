#ifndef TRIBUTARY_PROCESSORS_TAIL_SAMPLING_TAIL_SAMPLING_PROCESSOR_H_
#define TRIBUTARY_PROCESSORS_TAIL_SAMPLING_TAIL_SAMPLING_PROCESSOR_H_

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "common/aggregation/aggregation.h"
#include "common/otlp/wire_request.h"
#include "processors/tail_sampling/policy.h"
#include "tributary/core/component.h"
#include "tributary/core/telemetry.h"

namespace tributary::processors::tail_sampling {

struct DecisionCacheConfig {
  int64_t sampled_cache_size = 100000;
  int64_t non_sampled_cache_size = 100000;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("sampled_cache_size", sampled_cache_size,
               "decided traces remembered as sampled: their late spans follow at once");
    v.Optional("non_sampled_cache_size", non_sampled_cache_size,
               "decided traces remembered as not sampled: their late spans are dropped");
  }
};

// `processors.tail_sampling`, keyed as the OpenTelemetry Collector's.
struct TailSamplingConfig {
  // Shorter than the Collector's 30 s: senders wait for the decision (below).
  std::chrono::milliseconds decision_wait{5000};
  int64_t num_traces = 50000;
  std::string when_full = "refuse";
  DecisionCacheConfig decision_cache;
  std::vector<PolicyConfig> policies;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("decision_wait", decision_wait,
               "how long after its first span a trace is decided; must stay under the "
               "senders' acknowledgement timeouts, as their acknowledgement waits for it");
    v.Optional("num_traces", num_traces, "traces held undecided at once");
    v.Optional("when_full", when_full,
               "with num_traces held: refuse (new traces get a retryable refusal: senders retry, "
               "Kafka rewinds) or decide_early (the oldest traces are decided at once)");
    v.Optional("decision_cache", decision_cache, "decisions remembered for late spans");
    v.Required("policies", policies, "a trace is sampled when any policy samples it");
  }
  absl::Status Validate() const;
};

// Decides per trace, once decision_wait has passed since its first span,
// whether to keep it, as the OpenTelemetry Collector's tail_sampling
// processor does: sampled when any policy samples it. Every decision is a
// function of the trace's spans and the configuration alone (the
// probabilistic policy hashes the trace id), so a redelivered or rerouted
// trace gets the same one.
//
// The acknowledgements of a trace's spans are held until its decision: a
// sampled trace's go when the next stage took it, a trace sampled out's at
// once, its spans counted in tributary_dropped_records_total
// {reason="sampled_out"}. So a sender is answered up to decision_wait after
// it sent, and a crash loses nothing acknowledged.
class TailSamplingProcessor : public core::Processor {
 public:
  using NowFn = std::function<uint64_t()>;  // nanoseconds, any epoch

  TailSamplingProcessor(std::string id, TailSamplingConfig config,
                        std::vector<std::unique_ptr<Policy>> policies, core::Consumer* next,
                        NowFn now = nullptr);

  absl::Status Start() override;
  // Decides every pending trace and hands on the sampled ones.
  void Shutdown(core::Deadline deadline) noexcept override;
  absl::Status Consume(core::Envelope envelope) noexcept override;

  // Decides the traces whose wait is over, as the processor's timer does.
  void DecideDue();
  size_t pending() const;

 private:
  // A request as received, taken apart on its serialized form, kept while
  // a span of it waits: a trace holds its spans as places in such chunks,
  // never as objects.
  struct Chunk {
    std::shared_ptr<const core::Batch> batch;  // when it holds the bytes read
    std::string serialized;                    // else its objects serialized
    common::otlp::WireRequest request;
  };
  struct SpanAt {
    std::shared_ptr<const Chunk> chunk;
    common::otlp::WireRef ref;
  };
  // A trace id as a key, held inline (ids are 16 bytes; a longer,
  // malformed one is known by its first 16).
  struct TraceKey {
    std::array<char, 16> bytes{};
    uint8_t size = 0;
    static TraceKey Of(std::string_view id) {
      TraceKey k;
      k.size = static_cast<uint8_t>(std::min<size_t>(id.size(), 16));
      std::copy_n(id.data(), k.size, k.bytes.data());
      return k;
    }
    std::string_view view() const { return std::string_view(bytes.data(), size); }
    bool operator==(const TraceKey& o) const { return view() == o.view(); }
    template <class H>
    friend H AbslHashValue(H h, const TraceKey& k) {
      return H::combine(std::move(h), absl::string_view(k.bytes.data(), k.size));
    }
  };
  struct Trace {
    TraceKey key;
    TraceSummary summary;  // its trace_id views `key`
    absl::InlinedVector<SpanAt, 4> spans;
    absl::InlinedVector<core::AckRef, 2> acks;
    uint64_t deadline = 0;
  };
  // Sampled spans with the acknowledgements they settle.
  struct Out {
    std::vector<SpanAt> spans;
    std::vector<core::AckRef> acks;
  };
  // What one round of decisions sends on: batches of whole traces, each of
  // about kSendSpans spans, so that deciding many traces at once never makes
  // one huge batch downstream.
  using Outs = std::vector<Out>;
  static constexpr size_t kSendSpans = 8192;

  // Decides `trace` (removed from pending_), adding it to `outs` if sampled.
  void DecideLocked(const TraceKey& trace_id, Outs* outs);
  // The request holding `spans`, composed from their chunks' bytes.
  static core::Batch Compose(std::vector<SpanAt> spans);
  void Remember(const TraceKey& trace_id, bool sampled);
  // Decides the oldest traces until `room` more fit.
  void DecideEarlyLocked(size_t room, Outs* outs);
  void Send(Out out);
  void Send(Outs outs);

  const std::string id_;
  const TailSamplingConfig config_;
  const std::vector<std::unique_ptr<Policy>> policies_;
  bool policies_read_attributes_ = false;
  core::Consumer* const next_;
  const NowFn now_;
  const uint64_t wait_;

  prometheus::Counter& sampled_out_;
  prometheus::Counter& returned_;
  prometheus::Counter& traces_sampled_;
  prometheus::Counter& traces_not_sampled_;
  prometheus::Counter& early_;
  prometheus::Counter& refused_;
  prometheus::Gauge& pending_gauge_;

  mutable std::mutex mu_;
  absl::flat_hash_map<TraceKey, std::unique_ptr<Trace>> pending_;
  std::deque<std::pair<uint64_t, TraceKey>> order_;  // (deadline, trace id), oldest first
  absl::flat_hash_set<TraceKey> sampled_, not_sampled_;
  std::deque<TraceKey> sampled_order_, not_sampled_order_;

  common::aggregation::PeriodicTask timer_;
};

}  // namespace tributary::processors::tail_sampling

#endif  // TRIBUTARY_PROCESSORS_TAIL_SAMPLING_TAIL_SAMPLING_PROCESSOR_H_
