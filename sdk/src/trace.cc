#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <random>

#include "state.h"

namespace tributary::sdk {
namespace detail {
namespace {

thread_local uint64_t tls_rng[4] __attribute__((tls_model("initial-exec"))) = {0, 0, 0, 0};
thread_local const SpanContext* tls_active __attribute__((tls_model("initial-exec"))) = nullptr;

uint64_t SplitMix(uint64_t& x) noexcept {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void Seed() noexcept {
  uint64_t seed[2] = {0, 0};
  // getrandom(2) never blocks once the kernel pool is initialised; fall back
  // to the clock, the thread id and an address if it fails.
  if (syscall(SYS_getrandom, seed, sizeof(seed), 0) != static_cast<long>(sizeof(seed))) {
    seed[0] =
        static_cast<uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
    seed[1] = static_cast<uint64_t>(syscall(SYS_gettid)) ^ reinterpret_cast<uintptr_t>(&seed);
  }
  uint64_t x = seed[0] ^ Mix64(seed[1]);
  for (uint64_t& s : tls_rng) s = SplitMix(x);
  if ((tls_rng[0] | tls_rng[1] | tls_rng[2] | tls_rng[3]) == 0) tls_rng[0] = 1;
}

void StoreBigEndian(uint8_t* out, uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

uint64_t LoadBigEndian(const uint8_t* in) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

const SpanContext kInvalidContext{};

}  // namespace

uint64_t RandomU64() noexcept {
  if ((tls_rng[0] | tls_rng[1] | tls_rng[2] | tls_rng[3]) == 0) Seed();
  uint64_t* s = tls_rng;
  uint64_t result = std::rotl(s[0] + s[3], 23) + s[0];
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = std::rotl(s[3], 45);
  return result;
}

bool SdkState::ShouldSample(const SpanContext* parent, const TraceId& trace_id) const noexcept {
  bool parent_based = options.sampler == Sampler::kParentBasedAlwaysOn ||
                      options.sampler == Sampler::kParentBasedAlwaysOff ||
                      options.sampler == Sampler::kParentBasedTraceIdRatio;
  if (parent_based && parent != nullptr) return parent->IsSampled();
  switch (options.sampler) {
    case Sampler::kAlwaysOn:
    case Sampler::kParentBasedAlwaysOn:
      return true;
    case Sampler::kAlwaysOff:
    case Sampler::kParentBasedAlwaysOff:
      return false;
    case Sampler::kTraceIdRatio:
    case Sampler::kParentBasedTraceIdRatio: {
      double r = options.sampler_ratio;
      if (r >= 1.0) return true;
      if (!(r > 0.0)) return false;
      // The last 8 bytes of the trace id, as the other OpenTelemetry SDKs do,
      // so every service in a trace decides alike.
      uint64_t x = LoadBigEndian(trace_id.data() + 8) >> 1;
      return static_cast<double>(x) < r * 9223372036854775808.0;
    }
  }
  return true;
}

}  // namespace detail

// ---- SpanContext -----------------------------------------------------------

namespace {
constexpr char kHex[] = "0123456789abcdef";
template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  std::string s(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    s[2 * i] = kHex[bytes[i] >> 4];
    s[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return s;
}
template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}
}  // namespace

bool SpanContext::IsValid() const noexcept { return !AllZero(trace_id) && !AllZero(span_id); }
std::string SpanContext::TraceIdHex() const { return Hex(trace_id); }
std::string SpanContext::SpanIdHex() const { return Hex(span_id); }

const SpanContext& CurrentSpanContext() noexcept {
  const SpanContext* c = detail::tls_active;
  return c != nullptr ? *c : detail::kInvalidContext;
}

Scope::Scope(const SpanContext& context) : context_(context), previous_(detail::tls_active) {
  detail::tls_active = &context_;
}

Scope::~Scope() { detail::tls_active = previous_; }

// ---- Span ------------------------------------------------------------------

Span::Span(Span&& other) noexcept
    : context_(std::move(other.context_)),
      record_(std::exchange(other.record_, nullptr)),
      tracer_(std::exchange(other.tracer_, nullptr)) {}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    context_ = std::move(other.context_);
    record_ = std::exchange(other.record_, nullptr);
    tracer_ = std::exchange(other.tracer_, nullptr);
  }
  return *this;
}

void Span::SetAttribute(std::string_view key, AttributeValue value) noexcept {
  if (record_ == nullptr) return;
  const SdkOptions& o = tracer_->sdk->options;
  try {
    record_->attributes.Set(key, value, o.span_attribute_count_limit,
                            o.attribute_value_length_limit);
  } catch (...) {
    ++record_->attributes.dropped;
  }
}

void Span::AddEvent(std::string_view name, AttributeList attributes) noexcept {
  if (record_ == nullptr) return;
  const SdkOptions& o = tracer_->sdk->options;
  detail::SpanRecord& r = *record_;
  if (r.event_count >= o.span_event_count_limit) {
    ++r.dropped_events;
    return;
  }
  try {
    if (r.event_count == r.events.size()) r.events.emplace_back();
    detail::SpanEvent& e = r.events[r.event_count];
    e.name.assign(name.data(), name.size());
    e.time_ns = detail::NowNanos();
    e.attributes.Clear();
    e.attributes.SetAll(attributes, o.span_attribute_count_limit, o.attribute_value_length_limit);
    ++r.event_count;
  } catch (...) {
    ++r.dropped_events;
  }
}

void Span::AddLink(const SpanContext& context, AttributeList attributes) noexcept {
  if (record_ == nullptr || !context.IsValid()) return;
  const SdkOptions& o = tracer_->sdk->options;
  detail::SpanRecord& r = *record_;
  if (r.link_count >= o.span_link_count_limit) {
    ++r.dropped_links;
    return;
  }
  try {
    if (r.link_count == r.links.size()) r.links.emplace_back();
    detail::SpanLink& l = r.links[r.link_count];
    l.context = context;
    l.attributes.Clear();
    l.attributes.SetAll(attributes, o.span_attribute_count_limit, o.attribute_value_length_limit);
    ++r.link_count;
  } catch (...) {
    ++r.dropped_links;
  }
}

void Span::SetStatus(StatusCode code, std::string_view message) noexcept {
  if (record_ == nullptr) return;
  // Ok is final; Unset never overrides.
  if (record_->status == StatusCode::kOk || code == StatusCode::kUnset) return;
  record_->status = code;
  try {
    if (code == StatusCode::kError) {
      record_->status_message.assign(message.data(), message.size());
    } else {
      record_->status_message.clear();
    }
  } catch (...) {
  }
}

void Span::UpdateName(std::string_view name) noexcept {
  if (record_ == nullptr) return;
  try {
    record_->name.assign(name.data(), name.size());
  } catch (...) {
  }
}

void Span::End(std::chrono::system_clock::time_point end_time) noexcept {
  detail::SpanRecord* r = std::exchange(record_, nullptr);
  if (r == nullptr) return;
  r->end_ns = end_time.time_since_epoch().count() != 0
                  ? static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              end_time.time_since_epoch())
                                              .count())
                  : detail::NowNanos();
  tracer_->sdk->SubmitSpan(r);
}

// ---- Tracer ----------------------------------------------------------------

Span Tracer::StartSpan(std::string_view name, AttributeList attributes,
                       const StartSpanOptions& options) noexcept {
  Span span;
  if (state_ == nullptr) return span;
  detail::SdkState& sdk = *state_->sdk;
  const SpanContext* parent = nullptr;
  if (!options.root) {
    parent = options.parent != nullptr ? options.parent : detail::tls_active;
    if (parent != nullptr && !parent->IsValid()) parent = nullptr;
  }
  SpanContext& c = span.context_;
  if (parent != nullptr) {
    c.trace_id = parent->trace_id;
    if (!parent->trace_state.empty()) {
      try {
        c.trace_state = parent->trace_state;
      } catch (...) {
      }
    }
  } else {
    do {
      detail::StoreBigEndian(c.trace_id.data(), detail::RandomU64());
      detail::StoreBigEndian(c.trace_id.data() + 8, detail::RandomU64());
    } while (AllZero(c.trace_id));
  }
  do {
    detail::StoreBigEndian(c.span_id.data(), detail::RandomU64());
  } while (AllZero(c.span_id));
  bool sampled = sdk.ShouldSample(parent, c.trace_id);
  c.trace_flags = sampled ? 1 : 0;
  if (!sampled) return span;

  detail::SpanRecord* r = sdk.spans.Acquire();
  if (r == nullptr) return span;  // counted as dropped by the queue
  try {
    r->scope = state_;
    r->context.trace_id = c.trace_id;
    r->context.span_id = c.span_id;
    r->context.trace_flags = c.trace_flags;
    r->context.trace_state = c.trace_state;
    r->has_parent = parent != nullptr;
    if (parent != nullptr) {
      r->parent_span_id = parent->span_id;
      r->parent_remote = parent->remote;
    }
    r->name.assign(name.data(), name.size());
    r->kind = options.kind;
    r->start_ns = options.start_time.time_since_epoch().count() != 0
                      ? static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                  options.start_time.time_since_epoch())
                                                  .count())
                      : detail::NowNanos();
    r->end_ns = 0;
    r->attributes.Clear();
    r->attributes.SetAll(attributes, sdk.options.span_attribute_count_limit,
                         sdk.options.attribute_value_length_limit);
    r->event_count = r->dropped_events = 0;
    r->link_count = r->dropped_links = 0;
    r->status = StatusCode::kUnset;
    r->status_message.clear();
  } catch (...) {
    sdk.spans.Release(r);
    return span;
  }
  span.record_ = r;
  span.tracer_ = state_;
  return span;
}

}  // namespace tributary::sdk
