#include "processors/tail_sampling/policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/aggregation/aggregation.h"

namespace tributary::processors::tail_sampling {

namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::trace::v1::ResourceSpans;
using Spans = std::vector<const ResourceSpans*>;

// Calls fn(value) for `key` on every span of the trace and on their
// resources, until fn returns true.
template <class Fn>
bool AnyValueOf(const Spans& spans, const std::string& key, Fn fn) {
  for (const ResourceSpans* rs : spans) {
    if (const AnyValue* v = common::aggregation::FindAttribute(rs->resource().attributes(), key);
        v != nullptr && fn(*v)) {
      return true;
    }
    for (const auto& ss : rs->scope_spans()) {
      for (const auto& span : ss.spans()) {
        if (const AnyValue* v = common::aggregation::FindAttribute(span.attributes(), key);
            v != nullptr && fn(*v)) {
          return true;
        }
      }
    }
  }
  return false;
}

class AlwaysSample : public Policy {
 public:
  bool Sample(const TraceSummary&, const Spans&) const override { return true; }
};

class Latency : public Policy {
 public:
  explicit Latency(const LatencyConfig& c)
      : min_(static_cast<uint64_t>(c.threshold_ms) * 1000000),
        max_(static_cast<uint64_t>(c.upper_threshold_ms) * 1000000) {}
  bool Sample(const TraceSummary& t, const Spans&) const override {
    if (t.last_end < t.first_start) return false;
    const uint64_t d = t.last_end - t.first_start;
    return d >= min_ && (max_ == 0 || d <= max_);
  }

 private:
  uint64_t min_, max_;
};

class StatusCode : public Policy {
 public:
  explicit StatusCode(const bool wanted[3]) { std::copy(wanted, wanted + 3, wanted_); }
  bool Sample(const TraceSummary& t, const Spans&) const override {
    for (int i = 0; i < 3; ++i) {
      if (wanted_[i] && t.status[i]) return true;
    }
    return false;
  }

 private:
  bool wanted_[3];
};

class Probabilistic : public Policy {
 public:
  explicit Probabilistic(const ProbabilisticConfig& c)
      : salt_(c.hash_salt),
        // Sampled when the hash falls below this share of its range.
        below_(c.sampling_percentage >= 100 ? UINT64_MAX
                                            : static_cast<uint64_t>(c.sampling_percentage / 100.0 *
                                                                    18446744073709551615.0)) {}
  bool Sample(const TraceSummary& t, const Spans&) const override {
    return below_ == UINT64_MAX || TraceHash(t.trace_id, salt_) < below_;
  }

 private:
  std::string salt_;
  uint64_t below_;
};

class StringAttribute : public Policy {
 public:
  bool ReadsSpans() const override { return true; }
  explicit StringAttribute(const StringAttributeConfig& c) : config_(c) {
    if (c.enabled_regex_matching) {
      for (const std::string& v : c.values) patterns_.push_back(std::make_unique<re2::RE2>(v));
    }
  }
  bool Sample(const TraceSummary&, const Spans& spans) const override {
    const bool match = AnyValueOf(spans, config_.key, [&](const AnyValue& v) {
      if (v.value_case() != AnyValue::kStringValue) return false;
      if (!patterns_.empty()) {
        return std::any_of(patterns_.begin(), patterns_.end(), [&](const auto& p) {
          return re2::RE2::FullMatch(v.string_value(), *p);
        });
      }
      return std::find(config_.values.begin(), config_.values.end(), v.string_value()) !=
             config_.values.end();
    });
    return match != config_.invert_match;
  }

 private:
  StringAttributeConfig config_;
  std::vector<std::unique_ptr<re2::RE2>> patterns_;
};

class NumericAttribute : public Policy {
 public:
  bool ReadsSpans() const override { return true; }
  explicit NumericAttribute(const NumericAttributeConfig& c) : config_(c) {}
  bool Sample(const TraceSummary&, const Spans& spans) const override {
    const bool match = AnyValueOf(spans, config_.key, [&](const AnyValue& v) {
      return v.value_case() == AnyValue::kIntValue && v.int_value() >= config_.min_value &&
             v.int_value() <= config_.max_value;
    });
    return match != config_.invert_match;
  }

 private:
  NumericAttributeConfig config_;
};

bool StatusIndex(const std::string& name, int* index) {
  static const char* kNames[] = {"UNSET", "OK", "ERROR"};
  for (int i = 0; i < 3; ++i) {
    if (name == kNames[i]) {
      *index = i;
      return true;
    }
  }
  return false;
}

}  // namespace

uint64_t TraceHash(std::string_view trace_id, std::string_view salt) {
  return common::aggregation::Hash64(salt, trace_id);
}

absl::Status PolicyConfig::Validate() const {
  auto need = [&](bool present) {
    return present ? absl::OkStatus()
                   : absl::InvalidArgumentError(
                         absl::StrCat("type ", type, " needs its settings block `", type, "`"));
  };
  if (type == "always_sample") return absl::OkStatus();
  if (type == "latency") {
    if (!latency) return need(false);
    if (latency->threshold_ms < 0 || latency->upper_threshold_ms < 0 ||
        (latency->upper_threshold_ms != 0 && latency->upper_threshold_ms < latency->threshold_ms)) {
      return absl::InvalidArgumentError(
          "latency: threshold_ms must be >= 0 and upper_threshold_ms 0 or >= threshold_ms");
    }
    return absl::OkStatus();
  }
  if (type == "status_code") {
    if (!status_code) return need(false);
    if (status_code->status_codes.empty()) {
      return absl::InvalidArgumentError("status_code.status_codes must not be empty");
    }
    for (size_t i = 0; i < status_code->status_codes.size(); ++i) {
      int index;
      if (!StatusIndex(status_code->status_codes[i], &index)) {
        return absl::InvalidArgumentError(absl::StrCat("status_code.status_codes[", i, "]: '",
                                                       status_code->status_codes[i],
                                                       "' is not ERROR, OK or UNSET"));
      }
    }
    return absl::OkStatus();
  }
  if (type == "probabilistic") {
    if (!probabilistic) return need(false);
    if (!(probabilistic->sampling_percentage >= 0 && probabilistic->sampling_percentage <= 100)) {
      return absl::InvalidArgumentError(
          "probabilistic.sampling_percentage must be between 0 and 100");
    }
    return absl::OkStatus();
  }
  if (type == "string_attribute") {
    if (!string_attribute) return need(false);
    if (string_attribute->values.empty()) {
      return absl::InvalidArgumentError("string_attribute.values must not be empty");
    }
    if (string_attribute->enabled_regex_matching) {
      for (const std::string& v : string_attribute->values) {
        re2::RE2 re(v, re2::RE2::Quiet);
        if (!re.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("string_attribute.values: '", v,
                                                         "' is not an RE2 pattern: ", re.error()));
        }
      }
    }
    return absl::OkStatus();
  }
  if (type == "numeric_attribute") {
    if (!numeric_attribute) return need(false);
    if (numeric_attribute->max_value < numeric_attribute->min_value) {
      return absl::InvalidArgumentError("numeric_attribute.max_value must be >= min_value");
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown policy type '", type,
      "' (known: always_sample, latency, status_code, probabilistic, string_attribute, "
      "numeric_attribute)"));
}

absl::StatusOr<std::unique_ptr<Policy>> Policy::Make(const PolicyConfig& c, size_t index) {
  if (absl::Status s = c.Validate(); !s.ok()) return s;
  std::unique_ptr<Policy> p;
  if (c.type == "always_sample") p = std::make_unique<AlwaysSample>();
  if (c.type == "latency") p = std::make_unique<Latency>(*c.latency);
  if (c.type == "status_code") {
    bool wanted[3] = {false, false, false};
    for (const std::string& s : c.status_code->status_codes) {
      int i;
      if (StatusIndex(s, &i)) wanted[i] = true;
    }
    p = std::make_unique<StatusCode>(wanted);
  }
  if (c.type == "probabilistic") p = std::make_unique<Probabilistic>(*c.probabilistic);
  if (c.type == "string_attribute") p = std::make_unique<StringAttribute>(*c.string_attribute);
  if (c.type == "numeric_attribute") p = std::make_unique<NumericAttribute>(*c.numeric_attribute);
  p->name_ = c.name.empty() ? absl::StrCat("policy", index) : c.name;
  return p;
}

}  // namespace tributary::processors::tail_sampling
