#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "state.h"

namespace tributary::sdk {
namespace detail {
namespace {

constexpr double kDefaultBoundaries[] = {0,   5,   10,   25,   50,   75,   100,  250,
                                         500, 750, 1000, 2500, 5000, 7500, 10000};

// Stripe ownership: a bit per exclusive stripe.
std::mutex stripe_mu;
uint32_t stripes_taken = 0;
thread_local int tls_stripe __attribute__((tls_model("initial-exec"))) = -1;

struct StripeRelease {
  int index;
  ~StripeRelease() {
    std::lock_guard lock(stripe_mu);
    stripes_taken &= ~(1u << index);
  }
};

int AssignStripe() noexcept {
  int index = kSharedStripe;
  {
    std::lock_guard lock(stripe_mu);
    for (int i = 0; i < kExclusiveStripes; ++i) {
      if ((stripes_taken & (1u << i)) == 0) {
        stripes_taken |= 1u << i;
        index = i;
        break;
      }
    }
  }
  tls_stripe = index;
  if (index != kSharedStripe) static thread_local StripeRelease release{index};
  return index;
}

uint64_t HashValue(const AttributeValue& v) noexcept {
  switch (v.type()) {
    case AttributeValue::Type::kBool:
      return Mix64(static_cast<uint64_t>(v.int_value()) ^ 0x1b873593u);
    case AttributeValue::Type::kInt:
      return Mix64(static_cast<uint64_t>(v.int_value()) ^ 0x85ebca6bu);
    case AttributeValue::Type::kDouble:
      return Mix64(std::bit_cast<uint64_t>(v.double_value()) ^ 0xc2b2ae35u);
    case AttributeValue::Type::kString:
      return HashBytes(v.string_value());
  }
  return 0;
}

AttributeValue View(const OwnedValue& v) noexcept {
  switch (v.type) {
    case AttributeValue::Type::kBool:
      return AttributeValue(v.int_value != 0);
    case AttributeValue::Type::kInt:
      return AttributeValue(v.int_value);
    case AttributeValue::Type::kDouble:
      return AttributeValue(v.double_value);
    case AttributeValue::Type::kString:
      return AttributeValue(std::string_view(v.string_value));
  }
  return AttributeValue(false);
}

double LoadDouble(const std::atomic<uint64_t>& w) noexcept {
  return std::bit_cast<double>(w.load(std::memory_order_relaxed));
}

// Exclusive stripes: this thread is the only writer.
void AddDoubleExclusive(std::atomic<uint64_t>& w, double v) noexcept {
  w.store(std::bit_cast<uint64_t>(LoadDouble(w) + v), std::memory_order_relaxed);
}

template <class Update>
void UpdateDoubleShared(std::atomic<uint64_t>& w, Update update) noexcept {
  uint64_t old = w.load(std::memory_order_relaxed);
  for (;;) {
    double next;
    if (!update(std::bit_cast<double>(old), next)) return;
    if (w.compare_exchange_weak(old, std::bit_cast<uint64_t>(next), std::memory_order_relaxed))
      return;
  }
}

constexpr uint64_t kPosInf = 0x7ff0000000000000ull;
constexpr uint64_t kNegInf = 0xfff0000000000000ull;

// Histogram stripe layout: sum, min, max, then one count per bucket.
constexpr size_t kSumWord = 0, kMinWord = 1, kMaxWord = 2, kFirstBucketWord = 3;

}  // namespace

uint64_t HashBytes(std::string_view s) noexcept {
  // Samples the first, middle and last bytes: fast for the short keys and
  // values attributes hold; the series table compares in full, so a
  // collision costs a probe, never a wrong series.
  const char* p = s.data();
  size_t n = s.size();
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
    if (n > 16) {
      uint64_t m;
      std::memcpy(&m, p + n / 2 - 4, 8);
      a ^= std::rotl(m, 23);
    }
  } else if (n >= 4) {
    uint32_t x, y;
    std::memcpy(&x, p, 4);
    std::memcpy(&y, p + n - 4, 4);
    a = x;
    b = y;
  } else if (n > 0) {
    a = static_cast<uint8_t>(p[0]) | uint64_t{static_cast<uint8_t>(p[n / 2])} << 8 |
        uint64_t{static_cast<uint8_t>(p[n - 1])} << 16;
  }
  uint64_t h = (a ^ 0x243f6a8885a308d3ull) * 0x9e3779b97f4a7c15ull;
  h = (h ^ b ^ (uint64_t{n} << 56)) * 0xff51afd7ed558ccdull;
  return h ^ (h >> 32);
}

uint64_t HashAttributes(AttributeList list) noexcept {
  // Order-independent: the same set in any order finds the same series.
  uint64_t h = Mix64(list.size() + 0x9e3779b97f4a7c15ull);
  for (const Attribute& a : list) h += Mix64(HashBytes(a.key) * 31 + HashValue(a.value));
  return h;
}

std::vector<OwnedAttribute> CanonicalAttributes(AttributeList list, size_t length_limit) {
  std::vector<OwnedAttribute> out;
  out.reserve(list.size());
  for (const Attribute& a : list) {
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const OwnedAttribute& o) { return o.key == a.key; });
    if (it == out.end()) {
      out.emplace_back();
      it = out.end() - 1;
      it->key.assign(a.key.data(), a.key.size());
    }
    it->value.Assign(a.value, length_limit);
  }
  std::sort(out.begin(), out.end(),
            [](const OwnedAttribute& x, const OwnedAttribute& y) { return x.key < y.key; });
  return out;
}

int ThisThreadStripe() noexcept {
  int s = tls_stripe;
  return s >= 0 ? s : AssignStripe();
}

bool Series::Matches(AttributeList list) const noexcept {
  if (list.size() != attributes.size()) return false;
  for (size_t i = 0; i < list.size(); ++i) {
    const Attribute& a = list[i];
    // Callers usually pass a set in the same order each time: try the same position first.
    if (attributes[i].key == a.key) {
      if (!attributes[i].value.Equals(a.value)) return false;
      continue;
    }
    bool found = false;
    for (const OwnedAttribute& o : attributes) {
      if (o.key == a.key) {
        if (!o.value.Equals(a.value)) return false;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

Instrument::Instrument(MeterState* meter, InstrumentKind kind, std::string name,
                       const InstrumentOptions& options, ObservableCallback callback)
    : meter(meter),
      kind(kind),
      name(std::move(name)),
      unit(options.unit),
      description(options.description),
      boundaries(kind != InstrumentKind::kHistogram ? std::vector<double>()
                 : options.boundaries.empty() ? std::vector<double>(std::begin(kDefaultBoundaries),
                                                                    std::end(kDefaultBoundaries))
                                              : options.boundaries),
      callback(std::move(callback)),
      created_ns_(NowNanos()),
      limit_(std::max<size_t>(meter->sdk->options.cardinality_limit, 1)) {
  size_t slots = 16;
  while (slots < 2 * (limit_ + 1)) slots <<= 1;
  slot_mask_ = slots - 1;
  slots_ = std::make_unique<std::atomic<Series*>[]>(slots);
  // Made up front, so that running out of memory later still has a series to count in.
  std::vector<OwnedAttribute> attrs(1);
  attrs[0].key = "otel.metric.overflow";
  attrs[0].value.Assign(AttributeValue(true), 0);
  overflow_ = NewSeries(std::move(attrs), 0);
}

size_t Instrument::WordsPerStripe() const noexcept {
  if (kind == InstrumentKind::kHistogram) return kFirstBucketWord + boundaries.size() + 1;
  return 2;  // value, and for gauges whether one was recorded
}

std::unique_ptr<Series> Instrument::NewSeries(std::vector<OwnedAttribute> attributes,
                                              uint64_t hash) {
  auto s = std::make_unique<Series>();
  s->instrument = this;
  s->hash = hash;
  s->attributes = std::move(attributes);
  s->start_ns = NowNanos();
  s->last_collect_ns = s->start_ns;
  size_t words = WordsPerStripe();
  s->lines_per_stripe = (words + 7) / 8;
  s->cells = std::make_unique<CellLine[]>(s->lines_per_stripe * kStripes);
  if (kind == InstrumentKind::kHistogram) {
    for (int st = 0; st < kStripes; ++st) {
      s->Word(st, kMinWord).store(kPosInf, std::memory_order_relaxed);
      s->Word(st, kMaxWord).store(kNegInf, std::memory_order_relaxed);
    }
  }
  return s;
}

Series* Instrument::Find(AttributeList attributes) noexcept {
  uint64_t h = HashAttributes(attributes);
  for (size_t i = h & slot_mask_;; i = (i + 1) & slot_mask_) {
    Series* s = slots_[i].load(std::memory_order_acquire);
    if (s == nullptr) break;
    if (s->hash == h && s->Matches(attributes)) return s;
  }
  return Insert(attributes);
}

Series* Instrument::Insert(AttributeList attributes) noexcept {
  try {
    auto canonical =
        CanonicalAttributes(attributes, meter->sdk->options.attribute_value_length_limit);
    std::vector<Attribute> view;
    view.reserve(canonical.size());
    for (const OwnedAttribute& o : canonical) view.push_back({o.key, View(o.value)});
    AttributeList canonical_list{std::span<const Attribute>(view)};
    uint64_t h = HashAttributes(canonical_list);
    std::lock_guard lock(mu_);
    size_t i = h & slot_mask_;
    for (;; i = (i + 1) & slot_mask_) {
      Series* s = slots_[i].load(std::memory_order_acquire);
      if (s == nullptr) break;
      if (s->hash == h && s->Matches(canonical_list)) return s;  // found under its canonical form
    }
    if (series_.size() >= limit_) return Overflow();
    series_.push_back(NewSeries(std::move(canonical), h));
    Series* s = series_.back().get();
    slots_[i].store(s, std::memory_order_release);
    return s;
  } catch (...) {
    return Overflow();  // out of memory
  }
}

Series* Instrument::Overflow() noexcept {
  overflow_used_.store(true, std::memory_order_relaxed);
  return overflow_.get();
}

void Instrument::Add(Series* s, int64_t v) noexcept {
  int stripe = ThisThreadStripe();
  auto& w = s->Word(stripe, 0);
  if (stripe != kSharedStripe) {
    w.store(w.load(std::memory_order_relaxed) + static_cast<uint64_t>(v),
            std::memory_order_relaxed);
  } else {
    w.fetch_add(static_cast<uint64_t>(v), std::memory_order_relaxed);
  }
}

void Instrument::Record(Series* s, double v) noexcept {
  if (std::isnan(v)) return;
  size_t bucket = static_cast<size_t>(std::lower_bound(boundaries.begin(), boundaries.end(), v) -
                                      boundaries.begin());
  int stripe = ThisThreadStripe();
  auto& count = s->Word(stripe, kFirstBucketWord + bucket);
  auto& sum = s->Word(stripe, kSumWord);
  auto& min = s->Word(stripe, kMinWord);
  auto& max = s->Word(stripe, kMaxWord);
  if (stripe != kSharedStripe) {
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    AddDoubleExclusive(sum, v);
    if (v < LoadDouble(min)) min.store(std::bit_cast<uint64_t>(v), std::memory_order_relaxed);
    if (v > LoadDouble(max)) max.store(std::bit_cast<uint64_t>(v), std::memory_order_relaxed);
    return;
  }
  count.fetch_add(1, std::memory_order_relaxed);
  UpdateDoubleShared(sum, [v](double old, double& next) {
    next = old + v;
    return true;
  });
  UpdateDoubleShared(min, [v](double old, double& next) {
    next = v;
    return v < old;
  });
  UpdateDoubleShared(max, [v](double old, double& next) {
    next = v;
    return v > old;
  });
}

void Instrument::Set(Series* s, double v) noexcept {
  s->Word(0, 0).store(std::bit_cast<uint64_t>(v), std::memory_order_relaxed);
  s->Word(0, 1).store(1, std::memory_order_release);
}

namespace {

// Collects observations of an observable instrument's callback.
class Observations final : public ObserverResult {
 public:
  explicit Observations(size_t length_limit, size_t limit)
      : length_limit_(length_limit), limit_(limit) {}
  void Observe(double value, AttributeList attributes) noexcept override {
    try {
      if (points.size() >= limit_) {
        ++overflowed;
        return;
      }
      points.push_back({CanonicalAttributes(attributes, length_limit_), value});
    } catch (...) {
    }
  }
  struct Point {
    std::vector<OwnedAttribute> attributes;
    double value;
  };
  std::vector<Point> points;
  size_t overflowed = 0;

 private:
  size_t length_limit_;
  size_t limit_;
};

}  // namespace

void WriteNumberPoint(WireWriter& w, const std::vector<OwnedAttribute>& attributes,
                      uint64_t start_ns, uint64_t now_ns, bool is_int, int64_t int_value,
                      double double_value) {
  size_t p = w.Open(1);
  WriteAttributes(w, 7, attributes);
  w.Fixed64(2, start_ns);
  w.Fixed64(3, now_ns);
  if (is_int) {
    w.Tag(6, 1);
    w.RawFixed64(static_cast<uint64_t>(int_value));
  } else {
    w.DoubleAlways(4, double_value);
  }
  w.Close(p);
}

size_t Instrument::Collect(WireWriter& w, uint64_t now_ns, Temporality temporality) {
  std::vector<Series*> all;
  {
    std::lock_guard lock(mu_);
    all.reserve(series_.size() + 1);
    for (auto& s : series_) all.push_back(s.get());
    if (overflow_used_.load(std::memory_order_relaxed)) all.push_back(overflow_.get());
  }
  bool observable = kind == InstrumentKind::kObservableCounter ||
                    kind == InstrumentKind::kObservableUpDownCounter ||
                    kind == InstrumentKind::kObservableGauge;
  Observations observations(meter->sdk->options.attribute_value_length_limit, limit_);
  if (observable) {
    if (!callback) return 0;
    try {
      callback(observations);
    } catch (...) {
      return 0;  // the host's callback threw; nothing to report this time
    }
    if (observations.points.empty()) return 0;
  } else if (all.empty()) {
    return 0;
  }

  size_t points = 0;
  size_t metric = w.Open(2);
  w.Bytes(1, name);
  w.Bytes(2, description);
  w.Bytes(3, unit);
  bool delta = temporality == Temporality::kDelta &&
               (kind == InstrumentKind::kCounter || kind == InstrumentKind::kHistogram);
  switch (kind) {
    case InstrumentKind::kCounter:
    case InstrumentKind::kUpDownCounter: {
      size_t sum = w.Open(7);
      for (Series* s : all) {
        uint64_t total = 0;
        for (int st = 0; st < kStripes; ++st)
          total += s->Word(st, 0).load(std::memory_order_relaxed);
        if (s->last.empty()) s->last.assign(1, 0);
        uint64_t start = s->start_ns;
        int64_t value = static_cast<int64_t>(total);
        if (delta) {
          value = static_cast<int64_t>(total - s->last[0]);
          start = s->last_collect_ns;
          s->last[0] = total;
          s->last_collect_ns = now_ns;
          if (value == 0) continue;
        }
        WriteNumberPoint(w, s->attributes, start, now_ns, true, value, 0);
        ++points;
      }
      w.UInt64(2, delta ? 1 : 2);
      w.Bool(3, kind == InstrumentKind::kCounter);
      w.Close(sum);
      break;
    }
    case InstrumentKind::kGauge: {
      size_t gauge = w.Open(5);
      for (Series* s : all) {
        if (s->Word(0, 1).load(std::memory_order_acquire) == 0) continue;
        WriteNumberPoint(w, s->attributes, 0, now_ns, false, 0, LoadDouble(s->Word(0, 0)));
        ++points;
      }
      w.Close(gauge);
      break;
    }
    case InstrumentKind::kHistogram: {
      size_t hist = w.Open(9);
      size_t nb = boundaries.size() + 1;
      std::vector<uint64_t> buckets(nb);
      for (Series* s : all) {
        std::fill(buckets.begin(), buckets.end(), 0);
        double sum = 0, min = std::numeric_limits<double>::infinity(), max = -min;
        for (int st = 0; st < kStripes; ++st) {
          for (size_t b = 0; b < nb; ++b)
            buckets[b] += s->Word(st, kFirstBucketWord + b).load(std::memory_order_relaxed);
          sum += LoadDouble(s->Word(st, kSumWord));
          min = std::min(min, LoadDouble(s->Word(st, kMinWord)));
          max = std::max(max, LoadDouble(s->Word(st, kMaxWord)));
        }
        uint64_t start = s->start_ns;
        if (s->last.empty()) s->last.assign(nb + 1, 0);
        if (delta) {
          double last_sum = std::bit_cast<double>(s->last[nb]);
          uint64_t changed = 0;
          for (size_t b = 0; b < nb; ++b) {
            uint64_t total = buckets[b];
            buckets[b] = total - s->last[b];
            changed |= buckets[b];
            s->last[b] = total;
          }
          s->last[nb] = std::bit_cast<uint64_t>(sum);
          sum -= last_sum;
          start = s->last_collect_ns;
          s->last_collect_ns = now_ns;
          if (changed == 0) continue;
        }
        uint64_t count = 0;
        for (uint64_t c : buckets) count += c;
        if (count == 0) continue;
        size_t p = w.Open(1);
        WriteAttributes(w, 9, s->attributes);
        w.Fixed64(2, start);
        w.Fixed64(3, now_ns);
        w.Fixed64(4, count);
        w.DoubleAlways(5, sum);
        size_t bc = w.Open(6);
        for (uint64_t c : buckets) w.RawFixed64(c);
        w.Close(bc);
        if (!boundaries.empty()) {
          size_t eb = w.Open(7);
          for (double b : boundaries) w.RawFixed64(std::bit_cast<uint64_t>(b));
          w.Close(eb);
        }
        if (!delta) {  // min and max are since the start; a delta has none
          w.DoubleAlways(11, min);
          w.DoubleAlways(12, max);
        }
        w.Close(p);
        ++points;
      }
      w.UInt64(2, delta ? 1 : 2);
      w.Close(hist);
      break;
    }
    case InstrumentKind::kObservableCounter:
    case InstrumentKind::kObservableUpDownCounter:
    case InstrumentKind::kObservableGauge: {
      bool is_gauge = kind == InstrumentKind::kObservableGauge;
      size_t data = w.Open(is_gauge ? 5 : 7);
      uint64_t start = created_ns_;
      for (const auto& p : observations.points) {
        WriteNumberPoint(w, p.attributes, is_gauge ? 0 : start, now_ns, false, 0, p.value);
        ++points;
      }
      if (!is_gauge) {
        w.UInt64(2, 2);
        w.Bool(3, kind == InstrumentKind::kObservableCounter);
      }
      w.Close(data);
      break;
    }
  }
  w.Close(metric);
  return points;
}

Instrument* MeterState::GetOrCreate(InstrumentKind kind, std::string_view name,
                                    const InstrumentOptions& options, ObservableCallback callback) {
  std::lock_guard lock(mu_);
  for (auto& i : instruments_)
    if (i->kind == kind && i->name == name) return i.get();
  instruments_.push_back(
      std::make_unique<Instrument>(this, kind, std::string(name), options, std::move(callback)));
  return instruments_.back().get();
}

size_t MeterState::Collect(WireWriter& w, uint64_t now_ns, Temporality temporality) {
  std::vector<Instrument*> all;
  {
    std::lock_guard lock(mu_);
    for (auto& i : instruments_) all.push_back(i.get());
  }
  if (all.empty()) return 0;
  size_t start = w.out().size();
  size_t scope_metrics = w.Open(2);
  WriteScope(w, 1, scope);
  size_t points = 0;
  for (Instrument* i : all) {
    size_t before = w.out().size();
    size_t n = i->Collect(w, now_ns, temporality);
    if (n == 0) w.out().resize(before);  // no point: no Metric message
    points += n;
  }
  if (points == 0) {
    w.out().resize(start);
    return 0;
  }
  w.Close(scope_metrics);
  return points;
}

}  // namespace detail

// ---- Public API ------------------------------------------------------------

void BoundCounter::Add(int64_t value) const noexcept {
  if (series_ != nullptr && value >= 0) series_->instrument->Add(series_, value);
}
void Counter::Add(int64_t value, AttributeList attributes) const noexcept {
  if (instrument_ != nullptr && value >= 0) instrument_->Add(instrument_->Find(attributes), value);
}
BoundCounter Counter::Bind(AttributeList attributes) const noexcept {
  return instrument_ == nullptr ? BoundCounter() : BoundCounter(instrument_->Find(attributes));
}
void BoundUpDownCounter::Add(int64_t value) const noexcept {
  if (series_ != nullptr) series_->instrument->Add(series_, value);
}
void UpDownCounter::Add(int64_t value, AttributeList attributes) const noexcept {
  if (instrument_ != nullptr) instrument_->Add(instrument_->Find(attributes), value);
}
BoundUpDownCounter UpDownCounter::Bind(AttributeList attributes) const noexcept {
  return instrument_ == nullptr ? BoundUpDownCounter()
                                : BoundUpDownCounter(instrument_->Find(attributes));
}
void BoundHistogram::Record(double value) const noexcept {
  if (series_ != nullptr) series_->instrument->Record(series_, value);
}
void Histogram::Record(double value, AttributeList attributes) const noexcept {
  if (instrument_ != nullptr) instrument_->Record(instrument_->Find(attributes), value);
}
BoundHistogram Histogram::Bind(AttributeList attributes) const noexcept {
  return instrument_ == nullptr ? BoundHistogram() : BoundHistogram(instrument_->Find(attributes));
}
void Gauge::Record(double value, AttributeList attributes) const noexcept {
  if (instrument_ != nullptr) instrument_->Set(instrument_->Find(attributes), value);
}

namespace {
detail::Instrument* Create(detail::MeterState* state, detail::InstrumentKind kind,
                           std::string_view name, const detail::InstrumentOptions& options,
                           ObservableCallback callback = {}) noexcept {
  if (state == nullptr || name.empty()) return nullptr;
  try {
    return state->GetOrCreate(kind, name, options, std::move(callback));
  } catch (...) {
    return nullptr;
  }
}
}  // namespace

Counter Meter::CreateCounter(std::string_view name, std::string_view unit,
                             std::string_view description) noexcept {
  return Counter(Create(state_, detail::InstrumentKind::kCounter, name, {unit, description, {}}));
}
UpDownCounter Meter::CreateUpDownCounter(std::string_view name, std::string_view unit,
                                         std::string_view description) noexcept {
  return UpDownCounter(
      Create(state_, detail::InstrumentKind::kUpDownCounter, name, {unit, description, {}}));
}
Histogram Meter::CreateHistogram(std::string_view name, std::string_view unit,
                                 std::string_view description,
                                 std::vector<double> boundaries) noexcept {
  if (!std::is_sorted(boundaries.begin(), boundaries.end()) ||
      std::adjacent_find(boundaries.begin(), boundaries.end()) != boundaries.end()) {
    std::fprintf(stderr,
                 "tributary-sdk: histogram %.*s: boundaries must increase; using the defaults\n",
                 static_cast<int>(name.size()), name.data());
    boundaries.clear();
  }
  return Histogram(Create(state_, detail::InstrumentKind::kHistogram, name,
                          {unit, description, std::move(boundaries)}));
}
Gauge Meter::CreateGauge(std::string_view name, std::string_view unit,
                         std::string_view description) noexcept {
  return Gauge(Create(state_, detail::InstrumentKind::kGauge, name, {unit, description, {}}));
}
void Meter::CreateObservableCounter(std::string_view name, ObservableCallback callback,
                                    std::string_view unit, std::string_view description) noexcept {
  Create(state_, detail::InstrumentKind::kObservableCounter, name, {unit, description, {}},
         std::move(callback));
}
void Meter::CreateObservableUpDownCounter(std::string_view name, ObservableCallback callback,
                                          std::string_view unit,
                                          std::string_view description) noexcept {
  Create(state_, detail::InstrumentKind::kObservableUpDownCounter, name, {unit, description, {}},
         std::move(callback));
}
void Meter::CreateObservableGauge(std::string_view name, ObservableCallback callback,
                                  std::string_view unit, std::string_view description) noexcept {
  Create(state_, detail::InstrumentKind::kObservableGauge, name, {unit, description, {}},
         std::move(callback));
}

}  // namespace tributary::sdk
