#include "receivers/statsd/statsd_parser.h"

#include <charconv>
#include <cmath>
#include <optional>

namespace tributary::receivers::statsd {

namespace {

bool ParseNumber(std::string_view s, double* out) {
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(*out);
}

}  // namespace

namespace {

std::optional<MetricType> TypeOf(std::string_view type) {
  if (type == "c") return MetricType::kCounter;
  if (type == "g") return MetricType::kGauge;
  if (type == "ms") return MetricType::kTimer;
  if (type == "h") return MetricType::kHistogram;
  if (type == "d") return MetricType::kDistribution;
  if (type == "s") return MetricType::kSet;
  return std::nullopt;
}

// DogStatsD tags, `name:value` or `name`, comma-separated; false for a tag
// without a name.
template <class Tags>
bool ParseTags(std::string_view tags, Tags* out) {
  while (!tags.empty()) {
    const size_t comma = tags.find(',');
    const std::string_view tag = tags.substr(0, comma);
    tags = comma == std::string_view::npos ? std::string_view() : tags.substr(comma + 1);
    if (tag.empty()) continue;
    const size_t sep = tag.find(':');
    if (sep == 0) return false;
    out->emplace_back(tag.substr(0, sep),
                      sep == std::string_view::npos ? std::string_view() : tag.substr(sep + 1));
  }
  return true;
}

}  // namespace

bool ParseLine(std::string_view text, Line* out, std::string* error) {
  *out = Line();
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  const size_t colon = text.find(':');
  const size_t bar = text.find('|');
  if (colon == std::string_view::npos || bar == std::string_view::npos || bar < colon) {
    *error = "expected name:value|type";
    return false;
  }
  out->name = text.substr(0, colon);
  if (out->name.empty()) {
    *error = "empty metric name";
    return false;
  }
  out->value = text.substr(colon + 1, bar - colon - 1);
  std::string_view rest = text.substr(bar + 1);
  const size_t next = rest.find('|');
  const std::string_view type = rest.substr(0, next);
  rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
  const std::optional<MetricType> parsed = TypeOf(type);
  if (!parsed) {
    *error = "unknown metric type \"" + std::string(type) + "\"";
    return false;
  }
  out->type = *parsed;
  if (out->value.empty()) {
    *error = "empty value";
    return false;
  }
  if (out->type != MetricType::kSet) {
    if (!ParseNumber(out->value, &out->number)) {
      *error = "value is not a number";
      return false;
    }
    out->delta =
        out->type == MetricType::kGauge && (out->value.front() == '+' || out->value.front() == '-');
  }
  while (!rest.empty()) {
    const size_t end = rest.find('|');
    const std::string_view section = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (section.empty()) {
      *error = "empty section";
      return false;
    }
    if (section.front() == '@') {
      if (!ParseNumber(section.substr(1), &out->sample_rate) || out->sample_rate <= 0 ||
          out->sample_rate > 1) {
        *error = "sample rate must be a number in (0, 1]";
        return false;
      }
    } else if (section.front() == '#' && !ParseTags(section.substr(1), &out->tags)) {
      *error = "tag without a name";
      return false;
    }
    // Other sections (c: container id, T timestamp, e: external data) are
    // accepted and ignored.
  }
  return true;
}

}  // namespace tributary::receivers::statsd
