#include "common/aggregation/aggregation.h"

#include <algorithm>
#include <cstring>

#include "tributary/core/wire.h"

namespace tributary::common::aggregation {

using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;

const AnyValue* FindAttribute(const Attributes& attributes, std::string_view key) {
  for (const KeyValue& kv : attributes) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

std::string_view FindString(const Attributes& attributes, std::string_view key) {
  const AnyValue* v = FindAttribute(attributes, key);
  return v != nullptr && v->value_case() == AnyValue::kStringValue
             ? std::string_view(v->string_value())
             : std::string_view();
}

const core::MetricFamily<prometheus::Counter> kConnectorFlushes{
    "tributary_connector_flushes_total",
    "Emissions of a connector's metrics, by whether the next pipeline took them"};

namespace {

void AppendString(std::string* key, std::string_view s) {
  key->push_back('s');
  key->append(s);
  key->push_back('\0');
}
void AppendBool(std::string* key, bool b) {
  key->push_back(b ? 'T' : 'F');
  key->push_back('\0');
}
void AppendInt(std::string* key, int64_t i) {
  key->push_back('i');
  key->append(reinterpret_cast<const char*>(&i), sizeof(i));
  key->push_back('\0');
}
void AppendDouble(std::string* key, double d) {
  key->push_back('d');
  key->append(reinterpret_cast<const char*>(&d), sizeof(d));
  key->push_back('\0');
}

}  // namespace

void AppendValueKey(std::string* key, const AnyValue& v) {
  switch (v.value_case()) {
    case AnyValue::kStringValue:
      return AppendString(key, v.string_value());
    case AnyValue::kBoolValue:
      return AppendBool(key, v.bool_value());
    case AnyValue::kIntValue:
      return AppendInt(key, v.int_value());
    case AnyValue::kDoubleValue:
      return AppendDouble(key, v.double_value());
    default:
      key->push_back('o');
      key->append(v.SerializeAsString());
      key->push_back('\0');
  }
}

bool AppendValueKey(std::string* key, std::string_view bytes) {
  namespace wire = core::wire;
  wire::AnyValue any;
  if (!wire::ReadAnyValue(bytes, &any)) return false;
  switch (any.member) {
    case wire::AnyValue::kString:
      AppendString(key, any.bytes.bytes());
      return true;
    case wire::AnyValue::kBool:
      AppendBool(key, any.value != 0);
      return true;
    case wire::AnyValue::kInt:
      AppendInt(key, static_cast<int64_t>(any.value));
      return true;
    case wire::AnyValue::kDouble: {
      double d;
      memcpy(&d, &any.value, sizeof(d));
      AppendDouble(key, d);
      return true;
    }
    default: {
      // Arrays, lists and bytes: keyed by their canonical serialization.
      AnyValue v;
      if (!v.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
      AppendValueKey(key, v);
      return true;
    }
  }
}

void AppendAttributesKey(std::string* key, const Attributes& attributes,
                         const std::vector<std::string>& skip,
                         std::vector<const KeyValue*>* scratch) {
  scratch->clear();
  for (const KeyValue& kv : attributes) {
    if (std::find(skip.begin(), skip.end(), kv.key()) == skip.end()) scratch->push_back(&kv);
  }
  std::sort(scratch->begin(), scratch->end(),
            [](const KeyValue* a, const KeyValue* b) { return a->key() < b->key(); });
  for (const KeyValue* kv : *scratch) {
    key->append(kv->key());
    key->push_back('\0');
    AppendValueKey(key, kv->value());
  }
}

uint64_t Hash64(std::string_view a, std::string_view b) {
  uint64_t h = 1469598103934665603ull;
  for (std::string_view part : {a, b}) {
    for (unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

uint64_t UnixNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void ExplicitHistogram::Observe(const std::vector<double>& bounds, double value) {
  ++buckets_[std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin()];
  ++count_;
  sum_ += value;
}

void ExplicitHistogram::Reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  sum_ = 0;
}

void ExplicitHistogram::Fill(const std::vector<double>& bounds,
                             opentelemetry::proto::metrics::v1::HistogramDataPoint* point) const {
  point->set_count(count_);
  point->set_sum(sum_);
  point->mutable_bucket_counts()->Assign(buckets_.begin(), buckets_.end());
  point->mutable_explicit_bounds()->Assign(bounds.begin(), bounds.end());
}

void PeriodicTask::Start(std::chrono::nanoseconds interval, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || thread_.joinable()) return;
  thread_ = std::thread([this, interval, fn = std::move(fn)] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval, [&] { return stopping_; })) {
      lock.unlock();
      fn();
      lock.lock();
    }
  });
}

bool PeriodicTask::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return true;
}

}  // namespace tributary::common::aggregation
