// Spans. A Span is an RAII handle: it ends when it goes out of scope (or at
// End()), and a sampled span is then handed to the batch exporter without
// blocking. Activate() makes a span the parent of the spans this thread
// starts next, until the returned Scope ends.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tributary/sdk/common.h"

namespace tributary::sdk {
namespace detail {
struct Access;
struct SpanRecord;
class TracerState;
}  // namespace detail

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// What crosses process boundaries: W3C trace-context fields.
struct TRIBUTARY_SDK_API SpanContext {
  TraceId trace_id{};
  SpanId span_id{};
  uint8_t trace_flags = 0;  // bit 0: sampled
  bool remote = false;
  std::string trace_state;  // the raw W3C tracestate header, validated

  bool IsValid() const noexcept;
  bool IsSampled() const noexcept { return (trace_flags & 1) != 0; }
  std::string TraceIdHex() const;
  std::string SpanIdHex() const;
};

// The span context this thread's active span carries (invalid if none).
TRIBUTARY_SDK_API const SpanContext& CurrentSpanContext() noexcept;

enum class SpanKind : uint8_t {
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5
};
enum class StatusCode : uint8_t { kUnset = 0, kOk = 1, kError = 2 };

struct StartSpanOptions {
  // Also lets a kind stand for the options: tracer.StartSpan("GET /", {}, SpanKind::kServer).
  StartSpanOptions(SpanKind kind = SpanKind::kInternal, const SpanContext* parent = nullptr)
      : kind(kind), parent(parent) {}
  SpanKind kind;
  // The parent; nullptr: this thread's active span, if any.
  const SpanContext* parent;
  // Start a new trace even if a span is active.
  bool root = false;
  // Zero: now.
  std::chrono::system_clock::time_point start_time{};
};

// Makes a span context the active one on this thread; restores the
// previously active one when it ends. Scopes nest: end them in reverse order.
class TRIBUTARY_SDK_API Scope {
 public:
  explicit Scope(const SpanContext& context);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  SpanContext context_;
  const SpanContext* previous_ = nullptr;
};

class TRIBUTARY_SDK_API Span {
 public:
  Span() = default;  // a non-recording, invalid span
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { End(); }

  // Setting a key again replaces its value.
  void SetAttribute(std::string_view key, AttributeValue value) noexcept;
  void AddEvent(std::string_view name, AttributeList attributes = {}) noexcept;
  void AddLink(const SpanContext& context, AttributeList attributes = {}) noexcept;
  void SetStatus(StatusCode code, std::string_view message = {}) noexcept;
  void UpdateName(std::string_view name) noexcept;
  // Idempotent; later calls do nothing.
  void End(std::chrono::system_clock::time_point end_time = {}) noexcept;

  bool IsRecording() const noexcept { return record_ != nullptr; }
  const SpanContext& context() const noexcept { return context_; }
  // Makes this span the active one on this thread until the Scope ends.
  Scope Activate() const { return Scope(context_); }

 private:
  friend class Tracer;
  SpanContext context_;
  detail::SpanRecord* record_ = nullptr;
  detail::TracerState* tracer_ = nullptr;
};

class TRIBUTARY_SDK_API Tracer {
 public:
  Tracer() = default;  // a no-op tracer
  Span StartSpan(std::string_view name, AttributeList attributes = {},
                 const StartSpanOptions& options = {}) noexcept;

 private:
  friend class Sdk;
  friend struct detail::Access;
  explicit Tracer(detail::TracerState* s) : state_(s) {}
  detail::TracerState* state_ = nullptr;
};

}  // namespace tributary::sdk
