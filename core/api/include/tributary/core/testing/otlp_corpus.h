#ifndef TRIBUTARY_CORE_TESTING_OTLP_CORPUS_H_
#define TRIBUTARY_CORE_TESTING_OTLP_CORPUS_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "tributary/core/batch.h"

// Deterministic OTLP export requests that use every field of every message
// the exporters encode: resources with Kubernetes and data stream
// attributes, scopes with and without names, every AnyValue kind nested,
// strings that need escaping, odd numbers, ids present and absent, every
// span kind and status, events, links, every metric type with exemplars and
// optional fields. The same seed gives the same requests on every machine,
// so an encoder's output on them can be kept as a golden file.
namespace tributary::core::testing {

class OtlpCorpus {
 public:
  explicit OtlpCorpus(uint64_t seed) : state_(seed) {}

  LogsRequest Logs(int resources, int records_per_scope) {
    LogsRequest request;
    for (int r = 0; r < resources; ++r) {
      auto* rl = request.add_resource_logs();
      if (r % 5 != 4) FillResource(rl->mutable_resource(), r);
      if (r % 3 == 1) rl->set_schema_url("https://opentelemetry.io/schemas/1.26.0");
      for (int s = 0; s < 2; ++s) {
        auto* sl = rl->add_scope_logs();
        FillScope(sl->mutable_scope(), s + r);
        for (int i = 0; i < records_per_scope; ++i) FillLog(sl->add_log_records());
      }
    }
    return request;
  }

  TracesRequest Traces(int resources, int spans_per_scope) {
    TracesRequest request;
    for (int r = 0; r < resources; ++r) {
      auto* rs = request.add_resource_spans();
      if (r % 5 != 4) FillResource(rs->mutable_resource(), r);
      for (int s = 0; s < 2; ++s) {
        auto* ss = rs->add_scope_spans();
        FillScope(ss->mutable_scope(), s + r);
        for (int i = 0; i < spans_per_scope; ++i) FillSpan(ss->add_spans());
      }
    }
    return request;
  }

  MetricsRequest Metrics(int resources, int metrics_per_scope) {
    MetricsRequest request;
    for (int r = 0; r < resources; ++r) {
      auto* rm = request.add_resource_metrics();
      if (r % 5 != 4) FillResource(rm->mutable_resource(), r);
      auto* sm = rm->add_scope_metrics();
      FillScope(sm->mutable_scope(), r);
      for (int i = 0; i < metrics_per_scope; ++i) FillMetric(sm->add_metrics(), i);
    }
    return request;
  }

 private:
  using AnyValue = opentelemetry::proto::common::v1::AnyValue;
  using KeyValues = google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>;

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
  bool OneIn(uint32_t n) { return Below(n) == 0; }

  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(Next() & 0xff);
    return s;
  }

  // Valid UTF-8 that needs every kind of JSON escaping now and then.
  std::string Text() {
    static const char* const kParts[] = {
        "GET /api/v1/items",
        "quote \" and backslash \\",
        "tab\tnewline\ncarriage\r",
        "control \x01\x1f end",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80",
        "slash / and <html>&amp;",
        "",
        "a much longer message with padding xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "\x7f del",
        "level=info seq=42",
    };
    std::string s = kParts[Below(10)];
    if (OneIn(3)) s += kParts[Below(10)];
    return s;
  }

  std::string Key() {
    static const char* const kKeys[] = {"http.method",     "retries",   "app.kubernetes.io/name",
                                        "user_id",         "db.system", "error",
                                        "k8s.pod.label.x", "a.b.c",     "quote\"key"};
    return kKeys[Below(9)];
  }

  double Double() {
    switch (Below(8)) {
      case 0:
        return std::numeric_limits<double>::quiet_NaN();
      case 1:
        return OneIn(2) ? std::numeric_limits<double>::infinity()
                        : -std::numeric_limits<double>::infinity();
      case 2:
        return 0.1;
      case 3:
        return -1e300;
      case 4:
        return 5e-324;
      case 5:
        return static_cast<double>(Below(1000));
      default:
        return static_cast<double>(Next() >> 11) / static_cast<double>(1ull << 40);
    }
  }

  void FillValue(AnyValue* v, int depth) {
    switch (Below(depth < 2 ? 9 : 6)) {
      case 0:
      case 1:
        v->set_string_value(Text());
        break;
      case 2:
        v->set_int_value(OneIn(2) ? -static_cast<int64_t>(Next() >> 2)
                                  : static_cast<int64_t>(Below(100000)));
        break;
      case 3:
        v->set_double_value(Double());
        break;
      case 4:
        v->set_bool_value(OneIn(2));
        break;
      case 5:
        if (OneIn(2)) v->set_bytes_value(Bytes(Below(12)));
        // else: no value at all
        break;
      case 6: {
        auto* a = v->mutable_array_value();
        for (uint32_t i = Below(4); i > 0; --i) FillValue(a->add_values(), depth + 1);
        break;
      }
      default:
        FillAttributes(v->mutable_kvlist_value()->mutable_values(), Below(4), depth + 1);
    }
  }

  void FillAttributes(KeyValues* attrs, uint32_t n, int depth = 0) {
    for (uint32_t i = 0; i < n; ++i) {
      auto* kv = attrs->Add();
      kv->set_key(Key());
      FillValue(kv->mutable_value(), depth);
    }
  }

  void StringAttr(KeyValues* attrs, const char* key, std::string value) {
    auto* kv = attrs->Add();
    kv->set_key(key);
    kv->mutable_value()->set_string_value(std::move(value));
  }

  void FillResource(opentelemetry::proto::resource::v1::Resource* r, int n) {
    auto* a = r->mutable_attributes();
    StringAttr(a, "service.name", n % 2 ? "checkout" : "cart \"v2\"");
    if (n % 2 == 0) StringAttr(a, "service.version", "1.4.2");
    if (n % 3 == 0) StringAttr(a, "service.instance.id", "i-0042");
    if (n % 4 == 1) StringAttr(a, "deployment.environment.name", "prod");
    StringAttr(a, "host.name", "node-" + std::to_string(n));
    StringAttr(a, "k8s.namespace.name", "shop");
    StringAttr(a, "k8s.pod.name", "checkout-7d9-" + std::to_string(n));
    StringAttr(a, "k8s.pod.uid", "0b7f-" + std::to_string(n));
    StringAttr(a, "k8s.container.name", "app");
    StringAttr(a, "k8s.node.name", "node-1");
    if (n % 2) StringAttr(a, "k8s.deployment.name", "checkout");
    StringAttr(a, "container.id", "c0ffee");
    StringAttr(a, "k8s.pod.label.app", "checkout");
    StringAttr(a, "k8s.pod.label.app.kubernetes.io/name", "checkout");
    if (n % 3 == 2) StringAttr(a, "data_stream.dataset", "Nginx-Access/Web");
    if (n % 3 == 2) StringAttr(a, "data_stream.namespace", "Prod Env");
    if (n % 4 == 3) {
      auto* kv = a->Add();
      kv->set_key("data_stream.dataset");
      kv->mutable_value()->set_int_value(7);
    }
    StringAttr(a, "cloud.region", "eu-west-1");
    FillAttributes(a, Below(3));
    if (n % 3 == 0) r->set_dropped_attributes_count(2);
  }

  void FillScope(opentelemetry::proto::common::v1::InstrumentationScope* s, int n) {
    switch (n % 3) {
      case 0:
        break;
      case 1:
        s->set_name("io.opentelemetry.http");
        break;
      default:
        s->set_name("app.logger");
        s->set_version("2.0.1");
        FillAttributes(s->mutable_attributes(), 1 + Below(2));
    }
  }

  uint64_t Time() {
    // Between 2001 and 2033, now and then 0.
    return OneIn(8) ? 0 : 1000000000000000000ull + (Next() % 1000000000000000000ull);
  }

  void FillLog(opentelemetry::proto::logs::v1::LogRecord* rec) {
    rec->set_time_unix_nano(Time());
    rec->set_observed_time_unix_nano(Time());
    if (!OneIn(4)) {
      rec->set_severity_number(
          static_cast<opentelemetry::proto::logs::v1::SeverityNumber>(Below(25)));
    }
    if (OneIn(3)) rec->set_severity_text(OneIn(2) ? "warning" : "E");
    if (!OneIn(6)) FillValue(rec->mutable_body(), OneIn(3) ? 0 : 2);
    FillAttributes(rec->mutable_attributes(), Below(5));
    if (OneIn(4)) rec->set_dropped_attributes_count(Below(5));
    if (OneIn(2)) rec->set_flags(Below(2));
    if (OneIn(2)) rec->set_trace_id(Bytes(16));
    if (OneIn(2)) rec->set_span_id(Bytes(8));
    if (OneIn(5)) rec->set_event_name("session.start");
  }

  void FillSpan(opentelemetry::proto::trace::v1::Span* span) {
    using Span = opentelemetry::proto::trace::v1::Span;
    span->set_trace_id(Bytes(16));
    span->set_span_id(Bytes(8));
    if (OneIn(3)) span->set_trace_state("rojo=00f067aa0ba902b7");
    if (!OneIn(3)) span->set_parent_span_id(Bytes(8));
    if (OneIn(2)) span->set_flags(0x301);
    span->set_name(Text());
    span->set_kind(static_cast<Span::SpanKind>(Below(7)));
    const uint64_t start = Time();
    span->set_start_time_unix_nano(start);
    span->set_end_time_unix_nano(OneIn(5) ? start / 2 : start + Below(1000000000));
    FillAttributes(span->mutable_attributes(), Below(5));
    if (OneIn(4)) span->set_dropped_attributes_count(1);
    for (uint32_t i = Below(3); i > 0; --i) {
      auto* e = span->add_events();
      e->set_time_unix_nano(Time());
      e->set_name(OneIn(2) ? "exception" : Text());
      FillAttributes(e->mutable_attributes(), Below(3));
    }
    if (OneIn(5)) span->set_dropped_events_count(3);
    for (uint32_t i = Below(3); i > 0; --i) {
      auto* l = span->add_links();
      l->set_trace_id(Bytes(16));
      l->set_span_id(Bytes(8));
      if (OneIn(2)) l->set_trace_state("k=v");
      FillAttributes(l->mutable_attributes(), Below(3));
      if (OneIn(2)) l->set_flags(0x100);
    }
    if (!OneIn(3)) {
      auto* st = span->mutable_status();
      st->set_code(static_cast<opentelemetry::proto::trace::v1::Status::StatusCode>(Below(3)));
      if (OneIn(2)) st->set_message(Text());
    }
  }

  template <class Point>
  void FillPoint(Point* p) {
    FillAttributes(p->mutable_attributes(), Below(3));
    if (!OneIn(4)) p->set_start_time_unix_nano(Time());
    p->set_time_unix_nano(Time());
    if (OneIn(4)) p->set_flags(1);
  }

  template <class Point>
  void FillExemplars(Point* p) {
    for (uint32_t i = Below(3); i > 0; --i) {
      auto* e = p->add_exemplars();
      FillAttributes(e->mutable_filtered_attributes(), Below(2));
      e->set_time_unix_nano(Time());
      if (OneIn(2)) {
        e->set_as_double(Double());
      } else {
        e->set_as_int(static_cast<int64_t>(Next() >> 1));
      }
      if (OneIn(2)) e->set_trace_id(Bytes(16));
      if (OneIn(2)) e->set_span_id(Bytes(8));
    }
  }

  template <class Points>
  void FillNumberPoints(Points* points) {
    for (uint32_t i = 1 + Below(3); i > 0; --i) {
      auto* p = points->Add();
      FillPoint(p);
      if (OneIn(2)) {
        p->set_as_int(OneIn(2) ? -static_cast<int64_t>(Below(9)) : static_cast<int64_t>(Next()));
      } else {
        p->set_as_double(Double());
      }
      FillExemplars(p);
    }
  }

  void FillMetric(opentelemetry::proto::metrics::v1::Metric* m, int i) {
    m->set_name("metric." + std::to_string(i));
    if (!OneIn(3)) m->set_description(Text());
    if (!OneIn(3)) m->set_unit(OneIn(2) ? "ms" : "{request}");
    if (OneIn(4)) FillAttributes(m->mutable_metadata(), 1);
    using Temporality = opentelemetry::proto::metrics::v1::AggregationTemporality;
    switch (i % 5) {
      case 0:
        FillNumberPoints(m->mutable_gauge()->mutable_data_points());
        break;
      case 1: {
        auto* sum = m->mutable_sum();
        sum->set_aggregation_temporality(static_cast<Temporality>(Below(3)));
        sum->set_is_monotonic(OneIn(2));
        FillNumberPoints(sum->mutable_data_points());
        break;
      }
      case 2: {
        auto* h = m->mutable_histogram();
        h->set_aggregation_temporality(static_cast<Temporality>(1 + Below(2)));
        for (uint32_t k = 1 + Below(2); k > 0; --k) {
          auto* p = h->add_data_points();
          FillPoint(p);
          p->set_count(Below(1000));
          if (!OneIn(3)) p->set_sum(Double());
          for (uint32_t b = Below(5); b > 0; --b) p->add_explicit_bounds(Double());
          for (int b = 0; b <= p->explicit_bounds_size(); ++b) p->add_bucket_counts(Below(100));
          if (OneIn(2)) p->set_min(OneIn(2) ? 0.0 : Double());
          if (OneIn(2)) p->set_max(Double());
          FillExemplars(p);
        }
        break;
      }
      case 3: {
        auto* h = m->mutable_exponential_histogram();
        h->set_aggregation_temporality(static_cast<Temporality>(1 + Below(2)));
        auto* p = h->add_data_points();
        FillPoint(p);
        p->set_count(Below(1000));
        if (OneIn(2)) p->set_sum(Double());
        p->set_scale(static_cast<int32_t>(Below(20)) - 10);
        p->set_zero_count(Below(3));
        if (OneIn(2)) p->set_zero_threshold(1e-9);
        p->mutable_positive()->set_offset(static_cast<int32_t>(Below(10)) - 5);
        for (uint32_t b = Below(4); b > 0; --b) p->mutable_positive()->add_bucket_counts(Below(50));
        if (OneIn(2)) {
          p->mutable_negative()->set_offset(-3);
          p->mutable_negative()->add_bucket_counts(Below(50));
        }
        if (OneIn(2)) p->set_min(Double());
        if (OneIn(2)) p->set_max(Double());
        FillExemplars(p);
        break;
      }
      default: {
        auto* p = m->mutable_summary()->add_data_points();
        FillPoint(p);
        p->set_count(Below(1000));
        p->set_sum(Double());
        for (double q : {0.0, 0.5, 0.99, 1.0}) {
          auto* v = p->add_quantile_values();
          v->set_quantile(q);
          v->set_value(Double());
        }
      }
    }
  }

  uint64_t state_;
};

}  // namespace tributary::core::testing

#endif  // TRIBUTARY_CORE_TESTING_OTLP_CORPUS_H_
