#include "common/otlp/limits.h"

namespace tributary::common::otlp {
namespace {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using Attributes = google::protobuf::RepeatedPtrField<KeyValue>;

// Nesting deeper than this in an attribute value is cut off: the value is
// replaced by an empty one and counted as truncated.
constexpr int kMaxValueDepth = 16;

class Limiter {
 public:
  explicit Limiter(const RecordLimits& limits)
      : max_attributes_(static_cast<size_t>(limits.max_attributes)),
        max_length_(limits.max_attribute_value_length.bytes) {}

  // Returns how many attributes were dropped from `attributes`.
  uint32_t Apply(Attributes* attributes) {
    uint32_t dropped = 0;
    if (max_attributes_ > 0 && static_cast<size_t>(attributes->size()) > max_attributes_) {
      dropped = static_cast<uint32_t>(attributes->size() - static_cast<int>(max_attributes_));
      attributes->DeleteSubrange(static_cast<int>(max_attributes_), static_cast<int>(dropped));
      result.dropped_attributes += dropped;
    }
    for (KeyValue& kv : *attributes) Value(kv.mutable_value(), 0);
    return dropped;
  }

  LimitsApplied result;

 private:
  void Cut(std::string* s) {
    if (max_length_ == 0 || s->size() <= max_length_) return;
    size_t end = max_length_;
    // Step back over UTF-8 continuation bytes so no character is split.
    while (end > 0 && (static_cast<unsigned char>((*s)[end]) & 0xC0) == 0x80) --end;
    s->resize(end);
    ++result.truncated_values;
  }
  void Value(AnyValue* v, int depth) {
    if (depth > kMaxValueDepth) {
      v->Clear();
      ++result.truncated_values;
      return;
    }
    switch (v->value_case()) {
      case AnyValue::kStringValue:
        Cut(v->mutable_string_value());
        break;
      case AnyValue::kBytesValue:
        if (max_length_ > 0 && v->bytes_value().size() > max_length_) {
          v->mutable_bytes_value()->resize(max_length_);
          ++result.truncated_values;
        }
        break;
      case AnyValue::kArrayValue:
        for (AnyValue& item : *v->mutable_array_value()->mutable_values()) Value(&item, depth + 1);
        break;
      case AnyValue::kKvlistValue:
        for (KeyValue& kv : *v->mutable_kvlist_value()->mutable_values()) {
          Value(kv.mutable_value(), depth + 1);
        }
        break;
      default:
        break;
    }
  }

  const size_t max_attributes_;
  const uint64_t max_length_;
};

template <class Resource>
void ApplyResource(Limiter& l, Resource* r) {
  if (r->has_resource()) {
    auto* res = r->mutable_resource();
    res->set_dropped_attributes_count(res->dropped_attributes_count() +
                                      l.Apply(res->mutable_attributes()));
  }
}

template <class Scope>
void ApplyScope(Limiter& l, Scope* s) {
  if (s->has_scope()) {
    auto* scope = s->mutable_scope();
    scope->set_dropped_attributes_count(scope->dropped_attributes_count() +
                                        l.Apply(scope->mutable_attributes()));
  }
}

template <class Point>
void ApplyPoints(Limiter& l, google::protobuf::RepeatedPtrField<Point>* points) {
  for (Point& p : *points) l.Apply(p.mutable_attributes());
}

}  // namespace

LimitsApplied ApplyRecordLimits(core::Batch& batch, const RecordLimits& limits) {
  Limiter l(limits);
  if (limits.max_attributes == 0 && limits.max_attribute_value_length.bytes == 0) return l.result;
  switch (batch.signal()) {
    case core::Signal::kTraces:
      for (auto& rs : *batch.mutable_traces().mutable_resource_spans()) {
        ApplyResource(l, &rs);
        for (auto& ss : *rs.mutable_scope_spans()) {
          ApplyScope(l, &ss);
          for (auto& span : *ss.mutable_spans()) {
            span.set_dropped_attributes_count(span.dropped_attributes_count() +
                                              l.Apply(span.mutable_attributes()));
            for (auto& e : *span.mutable_events()) {
              e.set_dropped_attributes_count(e.dropped_attributes_count() +
                                             l.Apply(e.mutable_attributes()));
            }
            for (auto& link : *span.mutable_links()) {
              link.set_dropped_attributes_count(link.dropped_attributes_count() +
                                                l.Apply(link.mutable_attributes()));
            }
          }
        }
      }
      break;
    case core::Signal::kLogs:
      for (auto& rl : *batch.mutable_logs().mutable_resource_logs()) {
        ApplyResource(l, &rl);
        for (auto& sl : *rl.mutable_scope_logs()) {
          ApplyScope(l, &sl);
          for (auto& log : *sl.mutable_log_records()) {
            log.set_dropped_attributes_count(log.dropped_attributes_count() +
                                             l.Apply(log.mutable_attributes()));
            // The body is a value like any attribute's, and as unbounded.
            if (log.has_body()) {
              Attributes wrapper;
              KeyValue* kv = wrapper.Add();
              kv->mutable_value()->Swap(log.mutable_body());
              l.Apply(&wrapper);
              log.mutable_body()->Swap(kv->mutable_value());
            }
          }
        }
      }
      break;
    case core::Signal::kMetrics:
      for (auto& rm : *batch.mutable_metrics().mutable_resource_metrics()) {
        ApplyResource(l, &rm);
        for (auto& sm : *rm.mutable_scope_metrics()) {
          ApplyScope(l, &sm);
          for (auto& m : *sm.mutable_metrics()) {
            switch (m.data_case()) {
              case opentelemetry::proto::metrics::v1::Metric::kGauge:
                ApplyPoints(l, m.mutable_gauge()->mutable_data_points());
                break;
              case opentelemetry::proto::metrics::v1::Metric::kSum:
                ApplyPoints(l, m.mutable_sum()->mutable_data_points());
                break;
              case opentelemetry::proto::metrics::v1::Metric::kHistogram:
                ApplyPoints(l, m.mutable_histogram()->mutable_data_points());
                break;
              case opentelemetry::proto::metrics::v1::Metric::kExponentialHistogram:
                ApplyPoints(l, m.mutable_exponential_histogram()->mutable_data_points());
                break;
              case opentelemetry::proto::metrics::v1::Metric::kSummary:
                ApplyPoints(l, m.mutable_summary()->mutable_data_points());
                break;
              default:
                break;
            }
          }
        }
      }
      break;
  }
  return l.result;
}

}  // namespace tributary::common::otlp
