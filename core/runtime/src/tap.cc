#include "tributary/core/runtime/tap.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::core::runtime {

struct TapHub::Session {
  TapRequest request;
  std::condition_variable cv;
  TapResult result;
  std::string lines;   // published, not yet handed to the sink
  size_t backlog = 0;  // what the reader had not taken, at the last write
  bool reader_gone = false;
  bool done = false;
  // Allowance of records, refilled at records_per_second up to one
  // second's worth; may go below zero by one batch.
  double tokens = 0;
  Clock::time_point refilled = Clock::now();
};

TapPoint::TapPoint(TapHub* hub, std::string component, Side side, Signal signal, Consumer* next)
    : hub_(hub), component_(std::move(component)), side_(side), signal_(signal), next_(next) {
  hub_->Register(this);
}

TapPoint::~TapPoint() { hub_->Unregister(this); }

absl::Status TapPoint::Consume(Envelope envelope) noexcept {
  if (envelope.batch) records_.fetch_add(envelope.batch->record_count(), std::memory_order_relaxed);
  if (open_.load(std::memory_order_relaxed) != 0 && envelope.batch) hub_->Publish(this, envelope);
  return next_->Consume(std::move(envelope));
}

bool TapHub::Matches(const Session& s, const TapPoint& p) const {
  return (s.request.component.empty() || p.component() == s.request.component) &&
         (!s.request.signal || *s.request.signal == p.signal());
}

void TapHub::Register(TapPoint* point) {
  std::lock_guard<std::mutex> lock(mu_);
  points_.insert(point);
  for (Session* s : sessions_) {
    if (Matches(*s, *point)) point->open_.fetch_add(1, std::memory_order_relaxed);
  }
}

void TapHub::Unregister(TapPoint* point) {
  std::lock_guard<std::mutex> lock(mu_);
  points_.erase(point);
  auto& gone = point->side() == TapPoint::Side::kOutput ? gone_.output : gone_.input;
  gone[point->component()] += point->records();
}

TapHub::Totals TapHub::totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  Totals out = gone_;
  for (const TapPoint* p : points_) {
    auto& side = p->side() == TapPoint::Side::kOutput ? out.output : out.input;
    side[p->component()] += p->records();
  }
  return out;
}

void TapHub::Publish(TapPoint* point, const Envelope& envelope) {
  // Rendering happens under the lock: taps are few and rate-limited, and a
  // point without a tap never gets here.
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::time_point now = Clock::now();
  for (Session* s : sessions_) {
    if (s->done || !Matches(*s, *point)) continue;
    const double elapsed = std::chrono::duration<double>(now - s->refilled).count();
    s->tokens =
        std::min(limits_.records_per_second, s->tokens + elapsed * limits_.records_per_second);
    s->refilled = now;
    if (s->tokens <= 0) continue;
    s->tokens -= static_cast<double>(envelope.batch->record_count());
    const size_t before = s->lines.size();
    if (const auto& wire = envelope.batch->wire(); wire) {
      if (!AppendOtlpJson(envelope.batch->signal(), *wire, &s->lines)) {
        s->lines.resize(before);
        continue;
      }
    } else {
      AppendOtlpJson(*envelope.batch, &s->lines);
    }
    s->lines.push_back('\n');
    ++s->result.count;
    if (s->lines.size() + s->backlog > limits_.max_buffered_bytes) {
      s->result.cut = true;
      s->done = true;
    }
    if (s->result.count >= s->request.limit) s->done = true;
    s->cv.notify_all();
  }
}

absl::StatusOr<TapResult> TapHub::Tap(const TapRequest& request, const TapSink& sink) {
  Session session;
  session.request = request;
  session.tokens = limits_.records_per_second;
  session.request.duration = std::min(request.duration, limits_.max_duration);
  std::unique_lock<std::mutex> lock(mu_);
  std::set<std::string> components;
  std::set<std::string> signals;
  bool any = false;
  for (const TapPoint* p : points_) {
    components.insert(p->component());
    if (p->component() == request.component) signals.insert(std::string(SignalName(p->signal())));
    if (Matches(session, *p)) any = true;
  }
  if (!any) {
    if (!request.component.empty() && !components.count(request.component)) {
      return absl::NotFoundError(absl::StrCat("no component '", request.component,
                                              "'; known: ", absl::StrJoin(components, ", ")));
    }
    if (request.component.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no component takes ", std::string(SignalName(*request.signal))));
    }
    return absl::NotFoundError(absl::StrCat("component '", request.component, "' takes no ",
                                            std::string(SignalName(*request.signal)),
                                            "; it takes: ", absl::StrJoin(signals, ", ")));
  }
  if (static_cast<int>(sessions_.size()) >= limits_.max_concurrent) {
    return absl::ResourceExhaustedError(
        absl::StrCat(sessions_.size(), " taps are open, the most allowed at once"));
  }
  if (closed_) return absl::UnavailableError("shutting down");
  session.backlog = sink.backlog ? sink.backlog() : 0;
  sessions_.push_back(&session);
  for (TapPoint* p : points_) {
    if (Matches(session, *p)) p->open_.fetch_add(1, std::memory_order_relaxed);
  }
  // Hands what was published to the sink, outside the lock.
  auto flush = [&](std::string lines) {
    lock.unlock();
    const bool open = sink.write(lines);
    const size_t backlog = sink.backlog ? sink.backlog() : 0;
    lock.lock();
    session.backlog = backlog;
    if (!open) session.reader_gone = session.done = true;
  };
  flush("");
  const Clock::time_point deadline = Clock::now() + session.request.duration;
  while (!session.done && !closed_) {
    // Woken by lines, or once a second to learn whether the reader is still there.
    const bool woken =
        session.cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::seconds(1)),
                              [&] { return session.done || closed_ || !session.lines.empty(); });
    if (session.result.cut) break;  // what piled up is not added to the pile
    if (!session.lines.empty() || !woken) flush(std::exchange(session.lines, std::string()));
    if (Clock::now() >= deadline) break;
  }
  session.done = true;
  sessions_.erase(std::find(sessions_.begin(), sessions_.end(), &session));
  for (TapPoint* p : points_) {
    if (Matches(session, *p)) p->open_.fetch_sub(1, std::memory_order_relaxed);
  }
  // What came with the last batch, unless the reader has gone or was cut.
  if (!session.lines.empty() && !session.reader_gone && !session.result.cut) {
    flush(std::exchange(session.lines, std::string()));
  }
  return session.result;
}

void TapHub::CloseAll() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (Session* s : sessions_) s->cv.notify_all();
}

}  // namespace tributary::core::runtime
