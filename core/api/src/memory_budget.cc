#include "tributary/core/memory_budget.h"

#include "tributary/core/telemetry.h"

namespace tributary::core {
namespace {

const struct {
  MetricFamily<::prometheus::Gauge> bytes{
      "tributary_memory_budget_bytes",
      "Request data held in flight (state=\"used\") and the budget for it (state=\"limit\", 0: "
      "none)"};
  MetricFamily<::prometheus::Counter> refused{
      "tributary_memory_budget_refused_total",
      "Requests refused with a retryable error because the memory budget was spent"};
} kFamilies;

::prometheus::Gauge& UsedGauge() {
  static ::prometheus::Gauge& g = kFamilies.bytes.Add({{"state", "used"}});
  return g;
}

}  // namespace

MemoryBudget& MemoryBudget::Process() {
  static MemoryBudget* budget = new MemoryBudget();
  return *budget;
}

void MemoryBudget::SetLimit(uint64_t bytes) {
  limit_.store(bytes, std::memory_order_relaxed);
  kFamilies.bytes.Add({{"state", "limit"}}).Set(static_cast<double>(bytes));
}

bool MemoryBudget::Take(uint64_t bytes) {
  const uint64_t limit = limit_.load(std::memory_order_relaxed);
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (limit != 0 && used + bytes > limit) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  UsedGauge().Increment(static_cast<double>(bytes));
  return true;
}

void MemoryBudget::Give(uint64_t bytes) {
  used_.fetch_sub(bytes, std::memory_order_relaxed);
  UsedGauge().Decrement(static_cast<double>(bytes));
}

bool MemoryBudget::Reserve(uint64_t bytes, Reservation* out) {
  *out = Reservation();
  out->budget_ = this;
  return out->Grow(bytes);
}

void MemoryBudget::CountRefused(const std::string& receiver) {
  kFamilies.refused.Add({{"receiver", receiver}}).Increment();
}

MemoryBudget::Reservation::Reservation(Reservation&& other) noexcept
    : budget_(other.budget_), bytes_(other.bytes_) {
  other.bytes_ = 0;
}

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (budget_ != nullptr && bytes_ > 0) budget_->Give(bytes_);
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.bytes_ = 0;
  }
  return *this;
}

MemoryBudget::Reservation::~Reservation() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Give(bytes_);
}

bool MemoryBudget::Reservation::Grow(uint64_t bytes) {
  if (budget_ == nullptr) budget_ = &MemoryBudget::Process();
  if (!budget_->Take(bytes)) return false;
  bytes_ += bytes;
  return true;
}

}  // namespace tributary::core
