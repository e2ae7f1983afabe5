#include "common/prometheus/translate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tributary/core/otlp_codec.h"

namespace tributary::common::prometheus {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::metrics::v1::Metric;

namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The parts of `text` between characters that are not letters, digits or
// (when `colon`) colons, joined by `_`.
std::string JoinTokens(std::string_view text, bool colon) {
  std::string out;
  bool gap = false;
  for (char c : text) {
    if (IsAlnum(c) || (colon && c == ':')) {
      if (gap && !out.empty()) out.push_back('_');
      gap = false;
      out.push_back(c);
    } else {
      gap = true;
    }
  }
  return out;
}

bool EndsWithWords(const std::string& name, const std::string& words) {
  if (name == words) return true;
  return name.size() > words.size() &&
         name.compare(name.size() - words.size(), words.size(), words) == 0 &&
         name[name.size() - words.size() - 1] == '_';
}

std::string_view MainUnitWord(std::string_view unit) {
  static const std::map<std::string_view, std::string_view> kWords = {
      {"d", "days"},          {"h", "hours"},
      {"min", "minutes"},     {"s", "seconds"},
      {"ms", "milliseconds"}, {"us", "microseconds"},
      {"ns", "nanoseconds"},  {"By", "bytes"},
      {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},
      {"GiBy", "gibibytes"},  {"TiBy", "tebibytes"},
      {"KBy", "kilobytes"},   {"MBy", "megabytes"},
      {"GBy", "gigabytes"},   {"TBy", "terabytes"},
      {"m", "meters"},        {"V", "volts"},
      {"A", "amperes"},       {"J", "joules"},
      {"W", "watts"},         {"g", "grams"},
      {"Cel", "celsius"},     {"Hz", "hertz"},
      {"%", "percent"},       {"1", ""},
  };
  auto it = kWords.find(unit);
  return it == kWords.end() ? std::string_view() : it->second;
}

std::string_view PerUnitWord(std::string_view unit) {
  static const std::map<std::string_view, std::string_view> kWords = {
      {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
      {"w", "week"},   {"mo", "month"}, {"y", "year"},
  };
  auto it = kWords.find(unit);
  return it == kWords.end() ? std::string_view() : it->second;
}

// One side of a unit as words: a known UCUM unit, else its letters and digits.
std::string UnitSide(std::string_view unit, bool per) {
  if (unit.empty()) return {};
  std::string_view word = per ? PerUnitWord(unit) : MainUnitWord(unit);
  if (!word.empty() || unit == "1") return std::string(word);
  return JoinTokens(unit, false);
}

void AppendJsonValue(const AnyValue& v, std::string* out) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      out->push_back('"');
      core::AppendJsonEscaped(v.string_value(), out);
      out->push_back('"');
      break;
    case AnyValue::kArrayValue: {
      out->push_back('[');
      bool first = true;
      for (const AnyValue& e : v.array_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonValue(e, out);
      }
      out->push_back(']');
      break;
    }
    case AnyValue::kKvlistValue: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : v.kvlist_value().values()) {
        if (!first) out->push_back(',');
        first = false;
        out->push_back('"');
        core::AppendJsonEscaped(kv.key(), out);
        out->append("\":");
        AppendJsonValue(kv.value(), out);
      }
      out->push_back('}');
      break;
    }
    case AnyValue::kBoolValue:
    case AnyValue::kIntValue:
      out->append(LabelValue(v));
      break;
    case AnyValue::kDoubleValue:
      if (std::isfinite(v.double_value())) {
        out->append(LabelValue(v));
      } else {
        absl::StrAppend(out, "\"", LabelValue(v), "\"");
      }
      break;
    case AnyValue::kBytesValue:
      absl::StrAppend(out, "\"", LabelValue(v), "\"");
      break;
    case AnyValue::VALUE_NOT_SET:
      out->append("null");
      break;
  }
}

std::string FormatDouble(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, static_cast<size_t>(end - buf));
}

}  // namespace

bool PrometheusType(const Metric& metric, MetricType* type) {
  switch (metric.data_case()) {
    case Metric::kGauge:
      *type = MetricType::kGauge;
      return true;
    case Metric::kSum:
      *type = metric.sum().is_monotonic() ? MetricType::kCounter : MetricType::kGauge;
      return true;
    case Metric::kHistogram:
    case Metric::kExponentialHistogram:
      *type = MetricType::kHistogram;
      return true;
    case Metric::kSummary:
      *type = MetricType::kSummary;
      return true;
    case Metric::DATA_NOT_SET:
      break;
  }
  return false;
}

std::string UnitWords(std::string_view unit) {
  // Annotations in braces carry no unit.
  std::string plain;
  int depth = 0;
  for (char c : unit) {
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      depth = std::max(0, depth - 1);
    } else if (depth == 0) {
      plain.push_back(c);
    }
  }
  std::string_view u = plain;
  const size_t slash = u.find('/');
  std::string main = UnitSide(u.substr(0, slash), false);
  if (slash == std::string_view::npos) return main;
  std::string per = UnitSide(u.substr(slash + 1), true);
  if (per.empty()) return main;
  return main.empty() ? absl::StrCat("per_", per) : absl::StrCat(main, "_per_", per);
}

std::string MetricName(std::string_view name, std::string_view unit, MetricType type,
                       std::string_view prefix) {
  std::string out = JoinTokens(name, true);
  const std::string words = UnitWords(unit);
  if (!words.empty() && !EndsWithWords(out, words)) {
    out = out.empty() ? words : absl::StrCat(out, "_", words);
  }
  if (type == MetricType::kGauge && unit == "1" && !EndsWithWords(out, "ratio")) {
    out = out.empty() ? "ratio" : absl::StrCat(out, "_ratio");
  }
  if (type == MetricType::kCounter && !EndsWithWords(out, "total")) {
    out = out.empty() ? "total" : absl::StrCat(out, "_total");
  }
  if (!prefix.empty()) out = absl::StrCat(JoinTokens(prefix, true), "_", out);
  if (out.empty() || IsDigit(out[0])) out.insert(out.begin(), '_');
  return out;
}

std::string LabelName(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    if (!IsAlnum(c) && c != '_') c = '_';
  }
  if (out.empty()) return "key_";
  if (IsDigit(out[0])) return "key_" + out;
  if (out[0] == '_' && (out.size() < 2 || out[1] != '_')) return "key" + out;
  return out;
}

std::string LabelValue(const AnyValue& value) {
  switch (value.value_case()) {
    case AnyValue::kStringValue:
      return value.string_value();
    case AnyValue::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case AnyValue::kIntValue:
      return absl::StrCat(value.int_value());
    case AnyValue::kDoubleValue:
      return FormatDouble(value.double_value());
    case AnyValue::kBytesValue:
      return absl::Base64Escape(value.bytes_value());
    case AnyValue::kArrayValue:
    case AnyValue::kKvlistValue: {
      std::string out;
      AppendJsonValue(value, &out);
      return out;
    }
    case AnyValue::VALUE_NOT_SET:
      break;
  }
  return {};
}

void AppendEscapedLabelValue(std::string_view value, std::string* out) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
}

Labels AttributeLabels(
    const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& attrs) {
  // Sanitised name -> (original key, value), to join collisions in key order.
  std::map<std::string, std::vector<std::pair<std::string_view, std::string>>> by_name;
  for (const auto& kv : attrs) {
    std::string value = LabelValue(kv.value());
    if (value.empty()) continue;  // an empty label value is no label
    by_name[LabelName(kv.key())].emplace_back(kv.key(), std::move(value));
  }
  Labels labels;
  labels.reserve(by_name.size());
  for (auto& [name, values] : by_name) {
    std::sort(values.begin(), values.end());
    std::string joined;
    for (const auto& [key, value] : values) {
      if (!joined.empty()) joined.push_back(';');
      joined.append(value);
    }
    labels.emplace_back(name, std::move(joined));
  }
  return labels;
}

ResourceLabels TranslateResource(const opentelemetry::proto::resource::v1::Resource& resource) {
  ResourceLabels out;
  std::string name;
  std::string ns;
  google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue> rest;
  for (const auto& kv : resource.attributes()) {
    if (kv.key() == "service.name") {
      name = LabelValue(kv.value());
    } else if (kv.key() == "service.namespace") {
      ns = LabelValue(kv.value());
    } else if (kv.key() == "service.instance.id") {
      out.instance = LabelValue(kv.value());
    } else {
      *rest.Add() = kv;
    }
  }
  out.job = ns.empty() ? name : (name.empty() ? ns : absl::StrCat(ns, "/", name));
  out.info = AttributeLabels(rest);
  return out;
}

double PointValue(const opentelemetry::proto::metrics::v1::NumberDataPoint& p) {
  return p.value_case() == opentelemetry::proto::metrics::v1::NumberDataPoint::kAsInt
             ? static_cast<double>(p.as_int())
             : p.as_double();
}

void AppendNumber(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out->append(buf, static_cast<size_t>(end - buf));
  }
}

std::string RenderLabels(const Labels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out.push_back(',');
    out.append(name);
    out.append("=\"");
    AppendEscapedLabelValue(value, &out);
    out.push_back('"');
  }
  return out;
}

void ExponentialToExplicit(
    const opentelemetry::proto::metrics::v1::ExponentialHistogramDataPoint& p,
    std::vector<double>* bounds, std::vector<uint64_t>* counts) {
  bounds->clear();
  counts->clear();
  // Bucket i of scale s holds (base^i, base^(i+1)] with base = 2^(2^-s).
  const double step = std::ldexp(1.0, -p.scale());
  const auto& neg = p.negative();
  for (int k = neg.bucket_counts_size() - 1; k >= 0; --k) {
    // Negative bucket i holds [-base^(i+1), -base^i): its upper bound is -base^i.
    bounds->push_back(-std::exp2(static_cast<double>(neg.offset() + k) * step));
    counts->push_back(neg.bucket_counts(k));
  }
  if (p.zero_count() > 0 || neg.bucket_counts_size() > 0) {
    bounds->push_back(p.zero_threshold());
    counts->push_back(p.zero_count());
  }
  const auto& pos = p.positive();
  for (int k = 0; k < pos.bucket_counts_size(); ++k) {
    bounds->push_back(std::exp2(static_cast<double>(pos.offset() + k + 1) * step));
    counts->push_back(pos.bucket_counts(k));
  }
  uint64_t in_buckets = 0;
  for (uint64_t c : *counts) in_buckets += c;
  counts->push_back(p.count() > in_buckets ? p.count() - in_buckets : 0);  // +Inf
}

}  // namespace tributary::common::prometheus
