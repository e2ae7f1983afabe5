#include "processors/tail_sampling/tail_sampling_processor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tributary/core/log.h"
#include "tributary/core/registry.h"

namespace tributary::processors::tail_sampling {

namespace {

using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;

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
      pending_gauge_(kPending.Add({{"processor", id_}})) {}

absl::Status TailSamplingProcessor::Start() {
  const auto tick = std::clamp<std::chrono::nanoseconds>(
      config_.decision_wait / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(200));
  timer_.Start(tick, [this] { DecideDue(); });
  return absl::OkStatus();
}

void TailSamplingProcessor::Shutdown(core::Deadline) noexcept {
  if (!timer_.Stop()) return;
  Out out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DecideEarlyLocked(static_cast<size_t>(config_.num_traces), &out);
  }
  Send(std::move(out));
}

size_t TailSamplingProcessor::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

void TailSamplingProcessor::Remember(const std::string& trace_id, bool sampled) {
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

void TailSamplingProcessor::DecideLocked(const std::string& trace_id, Out* out) {
  auto it = pending_.find(trace_id);
  if (it == pending_.end()) return;
  std::unique_ptr<Trace> trace = std::move(it->second);
  pending_.erase(it);
  std::vector<const ResourceSpans*> spans;
  for (const ResourceSpans& rs : trace->spans.resource_spans()) spans.push_back(&rs);
  const bool sampled = std::any_of(policies_.begin(), policies_.end(),
                                   [&](const auto& p) { return p->Sample(trace->summary, spans); });
  Remember(trace_id, sampled);
  if (!sampled) {
    // Its acknowledgements go with `trace`: nothing is left to deliver.
    traces_not_sampled_.Increment();
    sampled_out_.Increment(static_cast<double>(trace->span_count));
    return;
  }
  traces_sampled_.Increment();
  for (ResourceSpans& rs : *trace->spans.mutable_resource_spans()) {
    out->request.add_resource_spans()->Swap(&rs);
  }
  out->spans += trace->span_count;
  out->acks.insert(out->acks.end(), trace->acks.begin(), trace->acks.end());
}

void TailSamplingProcessor::DecideEarlyLocked(size_t count, Out* out) {
  while (count > 0 && !order_.empty()) {
    auto [deadline, trace_id] = std::move(order_.front());
    order_.pop_front();
    auto it = pending_.find(trace_id);
    if (it == pending_.end() || it->second->deadline != deadline) continue;
    DecideLocked(trace_id, out);
    --count;
  }
  pending_gauge_.Set(static_cast<double>(pending_.size()));
}

void TailSamplingProcessor::DecideDue() {
  Out out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = now_();
    while (!order_.empty() && order_.front().first <= now) {
      auto [deadline, trace_id] = std::move(order_.front());
      order_.pop_front();
      auto it = pending_.find(trace_id);
      if (it == pending_.end() || it->second->deadline != deadline) continue;
      DecideLocked(trace_id, &out);
    }
    pending_gauge_.Set(static_cast<double>(pending_.size()));
  }
  Send(std::move(out));
}

void TailSamplingProcessor::Send(Out out) {
  if (out.spans == 0) return;
  core::Envelope e{std::make_shared<const core::Batch>(std::move(out.request)), out.acks};
  if (absl::Status s = next_->Consume(e); !s.ok()) {
    // Handed back: the senders retry, and the remembered decision sends the
    // spans on at once when they come again.
    returned_.Increment(static_cast<double>(out.spans));
    e.Fail(core::IsRetryable(s) ? s : absl::UnavailableError(s.message()));
  }
}

absl::Status TailSamplingProcessor::Consume(core::Envelope envelope) noexcept {
  if (envelope.batch == nullptr || envelope.batch->empty()) return absl::OkStatus();
  if (absl::Status s = envelope.batch->Parse(); !s.ok()) return s;
  const core::TracesRequest& request = envelope.batch->traces();
  Out early, now_out;
  size_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Room for the traces this request starts.
    absl::flat_hash_set<std::string_view> fresh;
    for (const ResourceSpans& rs : request.resource_spans()) {
      for (const ScopeSpans& ss : rs.scope_spans()) {
        for (const Span& span : ss.spans()) {
          const std::string& id = span.trace_id();
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
    // Where this request's spans go in each trace, per scope.
    absl::flat_hash_map<Trace*, ScopeSpans*> scope_of;
    absl::flat_hash_set<Trace*> holding;
    for (const ResourceSpans& rs : request.resource_spans()) {
      for (const ScopeSpans& ss : rs.scope_spans()) {
        scope_of.clear();
        ScopeSpans* now_scope = nullptr;
        for (const Span& span : ss.spans()) {
          const std::string& id = span.trace_id();
          if (sampled_.contains(id)) {
            // A late span of a trace already sent on.
            if (now_scope == nullptr) {
              auto* out_rs = now_out.request.add_resource_spans();
              *out_rs->mutable_resource() = rs.resource();
              now_scope = out_rs->add_scope_spans();
              *now_scope->mutable_scope() = ss.scope();
            }
            *now_scope->add_spans() = span;
            ++now_out.spans;
            continue;
          }
          if (not_sampled_.contains(id)) {
            ++dropped;
            continue;
          }
          auto& trace = pending_[id];
          if (!trace) {
            trace = std::make_unique<Trace>();
            trace->summary.trace_id = id;
            trace->deadline = now + wait_;
            order_.emplace_back(trace->deadline, id);
          }
          ScopeSpans*& scope = scope_of[trace.get()];
          if (scope == nullptr) {
            auto* trace_rs = trace->spans.add_resource_spans();
            *trace_rs->mutable_resource() = rs.resource();
            scope = trace_rs->add_scope_spans();
            *scope->mutable_scope() = ss.scope();
          }
          *scope->add_spans() = span;
          ++trace->span_count;
          TraceSummary& t = trace->summary;
          t.first_start = std::min<uint64_t>(t.first_start, span.start_time_unix_nano());
          t.last_end = std::max<uint64_t>(t.last_end, span.end_time_unix_nano());
          const int code = span.status().code();
          if (code >= 0 && code < 3) t.status[code] = true;
          if (holding.insert(trace.get()).second) {
            trace->acks.insert(trace->acks.end(), envelope.acks.begin(), envelope.acks.end());
          }
        }
      }
    }
    pending_gauge_.Set(static_cast<double>(pending_.size()));
  }
  if (dropped > 0) sampled_out_.Increment(static_cast<double>(dropped));
  Send(std::move(early));
  if (now_out.spans > 0) {
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
