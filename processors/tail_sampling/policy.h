#ifndef TRIBUTARY_PROCESSORS_TAIL_SAMPLING_POLICY_H_
#define TRIBUTARY_PROCESSORS_TAIL_SAMPLING_POLICY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "re2/re2.h"
#include "tributary/core/batch.h"

namespace tributary::processors::tail_sampling {

struct LatencyConfig {
  int64_t threshold_ms = 0;
  int64_t upper_threshold_ms = 0;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("threshold_ms", threshold_ms,
               "sample traces lasting at least this long (first span start to last span end)");
    v.Optional("upper_threshold_ms", upper_threshold_ms, "and at most this long; 0: no bound");
  }
};

struct StatusCodeConfig {
  std::vector<std::string> status_codes;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("status_codes", status_codes,
               "sample traces with a span of one of these statuses: ERROR, OK, UNSET");
  }
};

struct ProbabilisticConfig {
  double sampling_percentage = 0;
  std::string hash_salt;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("sampling_percentage", sampling_percentage,
               "share of traces sampled, 0-100, chosen by a hash of the trace id");
    v.Optional("hash_salt", hash_salt,
               "mixed into the hash; collectors that must decide alike share it");
  }
};

struct StringAttributeConfig {
  std::string key;
  std::vector<std::string> values;
  bool enabled_regex_matching = false;
  bool invert_match = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("key", key, "span or resource attribute");
    v.Required("values", values, "values that match (RE2 patterns with enabled_regex_matching)");
    v.Optional("enabled_regex_matching", enabled_regex_matching,
               "values are RE2 patterns matching the whole value");
    v.Optional("invert_match", invert_match, "sample the traces that do not match");
  }
};

struct NumericAttributeConfig {
  std::string key;
  int64_t min_value = 0;
  int64_t max_value = 0;
  bool invert_match = false;
  template <class V>
  void VisitFields(V&& v) {
    v.Required("key", key, "span or resource attribute with an integer value");
    v.Optional("min_value", min_value, "smallest value that matches");
    v.Optional("max_value", max_value, "largest value that matches");
    v.Optional("invert_match", invert_match, "sample the traces that do not match");
  }
};

// One item of `policies`: a name, a type and the block of that type.
struct PolicyConfig {
  std::string name;
  std::string type;
  std::optional<LatencyConfig> latency;
  std::optional<StatusCodeConfig> status_code;
  std::optional<ProbabilisticConfig> probabilistic;
  std::optional<StringAttributeConfig> string_attribute;
  std::optional<NumericAttributeConfig> numeric_attribute;
  template <class V>
  void VisitFields(V&& v) {
    v.Optional("name", name, "the policy's name, in logs and self-metrics");
    v.Required("type", type,
               "always_sample, latency, status_code, probabilistic, string_attribute or "
               "numeric_attribute");
    v.Optional("latency", latency, "settings of type latency");
    v.Optional("status_code", status_code, "settings of type status_code");
    v.Optional("probabilistic", probabilistic, "settings of type probabilistic");
    v.Optional("string_attribute", string_attribute, "settings of type string_attribute");
    v.Optional("numeric_attribute", numeric_attribute, "settings of type numeric_attribute");
  }
  absl::Status Validate() const;
};

// What a policy looks at in a trace, gathered as its spans arrive.
struct TraceSummary {
  std::string_view trace_id;  // held by whoever holds the summary
  uint64_t first_start = UINT64_MAX;
  uint64_t last_end = 0;
  bool status[3] = {false, false, false};  // UNSET, OK, ERROR seen
};

// A policy ready to decide: true when it samples the trace.
class Policy {
 public:
  virtual ~Policy() = default;
  // Whether Sample reads the spans themselves, beyond the summary.
  virtual bool ReadsSpans() const { return false; }
  virtual bool Sample(
      const TraceSummary& trace,
      const std::vector<const opentelemetry::proto::trace::v1::ResourceSpans*>& spans) const = 0;
  const std::string& name() const { return name_; }
  static absl::StatusOr<std::unique_ptr<Policy>> Make(const PolicyConfig& config, size_t index);

 protected:
  std::string name_;
};

// The probabilistic policy's hash of a trace id: the same for every
// collector with the same salt.
uint64_t TraceHash(std::string_view trace_id, std::string_view salt);

}  // namespace tributary::processors::tail_sampling

#endif  // TRIBUTARY_PROCESSORS_TAIL_SAMPLING_POLICY_H_
