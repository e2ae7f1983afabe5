#ifndef TRIBUTARY_CORE_MEMORY_BUDGET_H_
#define TRIBUTARY_CORE_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace tributary::core {

// The bytes of request data this process holds in flight (bodies read,
// decompressed and decoded, not yet answered), under one budget for all
// receivers: a receiver reserves before it allocates in proportion to a
// request, and refuses what does not fit with a retryable error (HTTP 429,
// RESOURCE_EXHAUSTED) instead of growing towards the OOM killer.
class MemoryBudget {
 public:
  // The process's budget (service.memory_budget).
  static MemoryBudget& Process();

  // 0: no limit (reservations are still counted).
  void SetLimit(uint64_t bytes);
  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }

  // Bytes held until the reservation goes (or is moved from). Empty when
  // the budget refused it.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();

    // Adds `bytes` if the budget has them; false (and nothing added) if not.
    bool Grow(uint64_t bytes);
    uint64_t bytes() const { return bytes_; }

   private:
    friend class MemoryBudget;
    MemoryBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // Makes `out` a reservation of `bytes` on this budget; false (and `out`
  // empty) when they do not fit.
  bool Reserve(uint64_t bytes, Reservation* out);
  // Counts a request `receiver` refused for want of budget
  // (tributary_memory_budget_refused_total).
  void CountRefused(const std::string& receiver);

 private:
  bool Take(uint64_t bytes);
  void Give(uint64_t bytes);

  std::atomic<uint64_t> limit_{0};
  std::atomic<uint64_t> used_{0};
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_MEMORY_BUDGET_H_
