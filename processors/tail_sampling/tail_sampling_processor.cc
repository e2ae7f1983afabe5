#include "processors/tail_sampling/tail_sampling_processor.h"

#include <algorithm>
#include <iterator>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/otlp/span_view.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"
#include "tributary/core/wire.h"

namespace tributary::processors::tail_sampling {

namespace {

using opentelemetry::proto::trace::v1::ResourceSpans;

const core::MetricFamily<prometheus::Counter> kTraces{
    "tributary_tail_sampling_traces_total",
    "Traces a tail_sampling processor decided, by decision"};
const core::MetricFamily<prometheus::Counter> kEarly{
    "tributary_tail_sampling_early_decisions_total",
    "Traces decided before their decision_wait because num_traces were held"};
const core::MetricFamily<prometheus::Counter> kRefused{
    "tributary_tail_sampling_refused_requests_total",
    "Requests refused (retryable) because num_traces were held"};
const core::MetricFamily<prometheus::Gauge> kPending{"tributary_tail_sampling_pending_traces",
                                                     "Traces held undecided"};

uint64_t SteadyNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

absl::Status TailSamplingConfig::Validate() const {
  if (policies.empty()) return absl::InvalidArgumentError("policies must not be empty");
  if (decision_wait.count() <= 0) {
    return absl::InvalidArgumentError("decision_wait must be positive");
  }
  if (num_traces < 1) return absl::InvalidArgumentError("num_traces must be at least 1");
  if (when_full != "refuse" && when_full != "decide_early") {
    return absl::InvalidArgumentError("when_full must be refuse or decide_early");
  }
  if (decision_cache.sampled_cache_size < 0 || decision_cache.non_sampled_cache_size < 0) {
    return absl::InvalidArgumentError("decision_cache sizes must not be negative");
  }
  return absl::OkStatus();
}

TailSamplingProcessor::TailSamplingProcessor(std::string id, TailSamplingConfig config,
                                             std::vector<std::unique_ptr<Policy>> policies,
                                             core::Consumer* next, NowFn now)
    : id_(std::move(id)),
      config_(std::move(config)),
      policies_(std::move(policies)),
      next_(next),
      now_(now ? std::move(now) : SteadyNanos),
      wait_(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(config_.decision_wait).count())),
      sampled_out_(core::Telemetry::Get().Dropped(id_, core::Signal::kTraces, "sampled_out")),
      returned_(core::Telemetry::Get().ProcessorReturned(id_, core::Signal::kTraces)),
      traces_sampled_(kTraces.Add({{"processor", id_}, {"decision", "sampled"}})),
      traces_not_sampled_(kTraces.Add({{"processor", id_}, {"decision", "not_sampled"}})),
      early_(kEarly.Add({{"processor", id_}})),
      refused_(kRefused.Add({{"processor", id_}})),
      pending_gauge_(kPending.Add({{"processor", id_}})) {
  for (const auto& p : policies_) policies_read_attributes_ |= p->ReadsSpans();
}

absl::Status TailSamplingProcessor::Start() {
  const auto tick = std::clamp<std::chrono::nanoseconds>(
      config_.decision_wait / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(200));
  timer_.Start(tick, [this] { DecideDue(); });
  return absl::OkStatus();
}

void TailSamplingProcessor::Shutdown(core::Deadline) noexcept {
  if (!timer_.Stop()) return;
  Outs outs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DecideEarlyLocked(static_cast<size_t>(config_.num_traces), &outs);
  }
  Send(std::move(outs));
}

size_t TailSamplingProcessor::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

void TailSamplingProcessor::Remember(const TraceKey& trace_id, bool sampled) {
  auto& set = sampled ? sampled_ : not_sampled_;
  auto& order = sampled ? sampled_order_ : not_sampled_order_;
  const size_t limit = static_cast<size_t>(sampled ? config_.decision_cache.sampled_cache_size
                                                   : config_.decision_cache.non_sampled_cache_size);
  if (limit == 0 || !set.insert(trace_id).second) return;
  order.push_back(trace_id);
  while (order.size() > limit) {
    set.erase(order.front());
    order.pop_front();
  }
}

core::Batch TailSamplingProcessor::Compose(std::vector<SpanAt> spans) {
  // Per chunk, its spans in their order there, composed from its bytes.
  std::stable_sort(spans.begin(), spans.end(), [](const SpanAt& a, const SpanAt& b) {
    if (a.chunk != b.chunk) return a.chunk.get() < b.chunk.get();
    return std::tie(a.ref.resource, a.ref.scope, a.ref.record) <
           std::tie(b.ref.resource, b.ref.scope, b.ref.record);
  });
  std::string bytes;
  std::vector<common::otlp::WireRef> refs;
  for (size_t i = 0; i < spans.size();) {
    size_t j = i;
    refs.clear();
    while (j < spans.size() && spans[j].chunk == spans[i].chunk) refs.push_back(spans[j++].ref);
    bytes += spans[i].chunk->request.Compose(refs);
    i = j;
  }
  return core::Batch(core::Signal::kTraces, std::move(bytes), spans.size());
}

void TailSamplingProcessor::DecideLocked(const TraceKey& trace_id, Outs* outs) {
  auto it = pending_.find(trace_id);
  if (it == pending_.end()) return;
  std::unique_ptr<Trace> trace = std::move(it->second);
  pending_.erase(it);
  // Objects only for the policies that read attributes, once per trace.
  std::optional<core::Batch> parsed;
  std::vector<const ResourceSpans*> spans;
  if (policies_read_attributes_) {
    parsed = Compose(std::vector<SpanAt>(trace->spans.begin(), trace->spans.end()));
    for (const ResourceSpans& rs : parsed->traces().resource_spans()) spans.push_back(&rs);
  }
  const bool sampled = std::any_of(policies_.begin(), policies_.end(),
                                   [&](const auto& p) { return p->Sample(trace->summary, spans); });
  Remember(trace_id, sampled);
  if (!sampled) {
    // Its acknowledgements go with `trace`: nothing is left to deliver.
    traces_not_sampled_.Increment();
    sampled_out_.Increment(static_cast<double>(trace->spans.size()));
    return;
  }
  traces_sampled_.Increment();
  if (outs->empty() || outs->back().spans.size() >= kSendSpans) outs->emplace_back();
  Out& out = outs->back();
  out.spans.insert(out.spans.end(), std::make_move_iterator(trace->spans.begin()),
                   std::make_move_iterator(trace->spans.end()));
  // The traces of one request share its acknowledgements: each goes once.
  for (core::AckRef& ack : trace->acks) {
    if (out.acks.empty() || out.acks.back() != ack) out.acks.push_back(std::move(ack));
  }
}

void TailSamplingProcessor::DecideEarlyLocked(size_t count, Outs* outs) {
  while (count > 0 && !order_.empty()) {
    auto [deadline, trace_id] = std::move(order_.front());
    order_.pop_front();
    auto it = pending_.find(trace_id);
    if (it == pending_.end() || it->second->deadline != deadline) continue;
    DecideLocked(trace_id, outs);
    --count;
  }
  pending_gauge_.Set(static_cast<double>(pending_.size()));
}

void TailSamplingProcessor::DecideDue() {
  Outs outs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = now_();
    while (!order_.empty() && order_.front().first <= now) {
      auto [deadline, trace_id] = std::move(order_.front());
      order_.pop_front();
      auto it = pending_.find(trace_id);
      if (it == pending_.end() || it->second->deadline != deadline) continue;
      DecideLocked(trace_id, &outs);
    }
    pending_gauge_.Set(static_cast<double>(pending_.size()));
  }
  Send(std::move(outs));
}

void TailSamplingProcessor::Send(Outs outs) {
  for (Out& out : outs) Send(std::move(out));
}

void TailSamplingProcessor::Send(Out out) {
  if (out.spans.empty()) return;
  const size_t spans = out.spans.size();
  core::Envelope e{std::make_shared<const core::Batch>(Compose(std::move(out.spans))), out.acks};
  if (absl::Status s = next_->Consume(e); !s.ok()) {
    // Handed back: the senders retry, and the remembered decision sends the
    // spans on at once when they come again.
    returned_.Increment(static_cast<double>(spans));
    e.Fail(core::IsRetryable(s) ? s : absl::UnavailableError(s.message()));
  }
}

namespace {

// What the policies look at in a span, read from its bytes: start (7) and
// end (8) times, and the status (15) code (3).
void Summarize(std::string_view span, TraceSummary* t) {
  common::otlp::SpanView v;
  (void)v.Read(span);  // the chunk's request was read whole already
  t->first_start = std::min(t->first_start, v.start);
  t->last_end = std::max(t->last_end, v.end);
  if (v.status_code >= 0 && v.status_code < 3) t->status[v.status_code] = true;
}

}  // namespace

absl::Status TailSamplingProcessor::Consume(core::Envelope envelope) noexcept {
  if (envelope.batch == nullptr || envelope.batch->empty()) return absl::OkStatus();
  auto chunk = std::make_shared<Chunk>();
  chunk->batch = envelope.batch;
  if (!chunk->request.Read(core::wire::SerializedRequest(*chunk->batch, &chunk->serialized))) {
    return absl::InvalidArgumentError(absl::StrCat(id_, ": the batch is not a valid request"));
  }
  // A batch of objects was serialized into the chunk: only those bytes are kept.
  if (!chunk->serialized.empty()) chunk->batch.reset();
  const common::otlp::WireRequest& request = chunk->request;
  Outs early;
  Out now_out;
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Room for the traces this request starts.
    absl::flat_hash_set<TraceKey> fresh;
    for (uint32_t r = 0; r < request.resources(); ++r) {
      for (uint32_t s = 0; s < request.scopes(r); ++s) {
        for (uint32_t i = 0; i < request.records(r, s); ++i) {
          const TraceKey id = TraceKey::Of(common::otlp::SpanTraceId(request.record({r, s, i})));
          if (!pending_.contains(id) && !sampled_.contains(id) && !not_sampled_.contains(id)) {
            fresh.insert(id);
          }
        }
      }
    }
    const size_t limit = static_cast<size_t>(config_.num_traces);
    if (pending_.size() + fresh.size() > limit) {
      if (config_.when_full == "refuse" || fresh.size() > limit) {
        refused_.Increment();
        return absl::ResourceExhaustedError(absl::StrCat(id_, ": ", pending_.size(),
                                                         " traces are waiting for their decision "
                                                         "(num_traces ",
                                                         limit, ")"));
      }
      const size_t room = pending_.size() + fresh.size() - limit;
      early_.Increment(static_cast<double>(room));
      DecideEarlyLocked(room, &early);
    }
    const uint64_t now = now_();
    Trace* last = nullptr;  // spans of a trace mostly come together
    TraceKey last_id;
    for (uint32_t r = 0; r < request.resources(); ++r) {
      for (uint32_t s = 0; s < request.scopes(r); ++s) {
        for (uint32_t i = 0; i < request.records(r, s); ++i) {
          const common::otlp::WireRef ref{r, s, i};
          const std::string_view span = request.record(ref);
          const TraceKey id = TraceKey::Of(common::otlp::SpanTraceId(span));
          Trace* trace = last != nullptr && last_id == id ? last : nullptr;
          if (trace == nullptr) {
            if (sampled_.contains(id)) {
              // A late span of a trace already sent on.
              now_out.spans.push_back({chunk, ref});
              continue;
            }
            if (not_sampled_.contains(id)) {
              ++dropped;
              continue;
            }
            auto& slot = pending_[id];
            if (!slot) {
              slot = std::make_unique<Trace>();
              slot->key = id;
              slot->summary.trace_id = slot->key.view();
              slot->deadline = now + wait_;
              order_.emplace_back(slot->deadline, id);
            }
            trace = slot.get();
            // The first span of this request for the trace: it holds the
            // request's acknowledgements.
            if (trace->spans.empty() || trace->spans.back().chunk != chunk) {
              trace->acks.insert(trace->acks.end(), envelope.acks.begin(), envelope.acks.end());
            }
            last = trace;
            last_id = id;
          }
          trace->spans.push_back({chunk, ref});
          Summarize(span, &trace->summary);
        }
      }
    }
    pending_gauge_.Set(static_cast<double>(pending_.size()));
  }
  if (dropped > 0) sampled_out_.Increment(static_cast<double>(dropped));
  Send(std::move(early));
  if (!now_out.spans.empty()) {
    now_out.acks = envelope.acks;
    Send(std::move(now_out));
  }
  return absl::OkStatus();
}

}  // namespace tributary::processors::tail_sampling

namespace tributary {

void RegisterProcessorTailSampling(core::Registry& registry) {
  using processors::tail_sampling::TailSamplingConfig;
  registry.Add(
      core::MakeFactory<core::Processor, TailSamplingConfig, core::Signal, core::Consumer*>(
          "tail_sampling", {core::Signal::kTraces},
          "Keeps or drops whole traces once their spans are in, by policies on latency, status, "
          "attributes and a hash of the trace id; holds the traces' acknowledgements until then.",
          [](const core::CreateContext& ctx, const TailSamplingConfig& config, core::Signal,
             core::Consumer* next) -> absl::StatusOr<std::unique_ptr<core::Processor>> {
            std::vector<std::unique_ptr<processors::tail_sampling::Policy>> policies;
            for (size_t i = 0; i < config.policies.size(); ++i) {
              auto p = processors::tail_sampling::Policy::Make(config.policies[i], i);
              if (!p.ok()) return p.status();
              policies.push_back(std::move(*p));
            }
            return std::make_unique<processors::tail_sampling::TailSamplingProcessor>(
                ctx.id.ToString(), config, std::move(policies), next);
          }));
}

}  // namespace tributary
