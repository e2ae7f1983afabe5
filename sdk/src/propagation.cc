#include "tributary/sdk/propagation.h"

namespace tributary::sdk {
namespace {

constexpr char kHex[] = "0123456789abcdef";

int LowerHex(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <size_t N>
bool ParseHex(std::string_view s, std::array<uint8_t, N>& out) noexcept {
  uint8_t any = 0;
  for (size_t i = 0; i < N; ++i) {
    int hi = LowerHex(s[2 * i]), lo = LowerHex(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
    any |= out[i];
  }
  return any != 0;  // all zeros is invalid
}

bool IsKeyChar(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
         c == '/' || c == '@';
}

}  // namespace

bool ParseTraceParent(std::string_view v, SpanContext& out) noexcept {
  // version "-" trace-id "-" parent-id "-" trace-flags
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  int v_hi = LowerHex(v[0]), v_lo = LowerHex(v[1]);
  if (v_hi < 0 || v_lo < 0) return false;
  int version = v_hi << 4 | v_lo;
  if (version == 0xff) return false;
  // Version 00 is exactly 55 characters; later versions may append "-..." fields.
  if (version == 0 ? v.size() != 55 : (v.size() > 55 && v[55] != '-')) return false;
  SpanContext c;
  if (!ParseHex(v.substr(3, 32), c.trace_id) || !ParseHex(v.substr(36, 16), c.span_id))
    return false;
  int f_hi = LowerHex(v[53]), f_lo = LowerHex(v[54]);
  if (f_hi < 0 || f_lo < 0) return false;
  c.trace_flags = static_cast<uint8_t>(f_hi << 4 | f_lo) & 1;
  c.remote = true;
  out = std::move(c);
  return true;
}

bool IsValidTraceState(std::string_view s) noexcept {
  if (s.size() > 512) return false;
  int members = 0;
  while (true) {
    size_t comma = s.find(',');
    std::string_view m = s.substr(0, comma);
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
    while (!m.empty() && (m.back() == ' ' || m.back() == '\t')) m.remove_suffix(1);
    if (!m.empty()) {
      if (++members > 32) return false;
      size_t eq = m.find('=');
      if (eq == 0 || eq == std::string_view::npos || eq > 256) return false;
      std::string_view key = m.substr(0, eq), value = m.substr(eq + 1);
      if (!((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= '0' && key[0] <= '9'))) return false;
      int ats = 0;
      for (char c : key) {
        if (!IsKeyChar(c)) return false;
        ats += c == '@';
      }
      if (ats > 1 || key.back() == '@') return false;
      if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
      for (char c : value)
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return true;
}

void InjectTraceContext(const SpanContext& context, TextMapCarrier& carrier) noexcept {
  if (!context.IsValid()) return;
  char buf[55];
  buf[0] = '0';
  buf[1] = '0';
  buf[2] = '-';
  for (size_t i = 0; i < 16; ++i) {
    buf[3 + 2 * i] = kHex[context.trace_id[i] >> 4];
    buf[4 + 2 * i] = kHex[context.trace_id[i] & 15];
  }
  buf[35] = '-';
  for (size_t i = 0; i < 8; ++i) {
    buf[36 + 2 * i] = kHex[context.span_id[i] >> 4];
    buf[37 + 2 * i] = kHex[context.span_id[i] & 15];
  }
  buf[52] = '-';
  buf[53] = '0';
  buf[54] = context.IsSampled() ? '1' : '0';
  carrier.Set("traceparent", std::string_view(buf, sizeof(buf)));
  if (!context.trace_state.empty()) carrier.Set("tracestate", context.trace_state);
}

SpanContext ExtractTraceContext(const TextMapCarrier& carrier) noexcept {
  SpanContext c;
  if (!ParseTraceParent(carrier.Get("traceparent"), c)) return SpanContext();
  std::string_view state = carrier.Get("tracestate");
  if (!state.empty() && IsValidTraceState(state)) {
    try {
      c.trace_state.assign(state.data(), state.size());
    } catch (...) {
    }
  }
  return c;
}

std::string_view MapCarrier::Get(std::string_view key) const noexcept {
  try {
    auto it = map_.find(std::string(key));
    return it == map_.end() ? std::string_view() : std::string_view(it->second);
  } catch (...) {
    return {};
  }
}

void MapCarrier::Set(std::string_view key, std::string_view value) noexcept {
  try {
    map_[std::string(key)].assign(value.data(), value.size());
  } catch (...) {
  }
}

}  // namespace tributary::sdk
