// Internals shared by the SDK's signals: owned attribute storage, clocks,
// random ids and the per-thread record queues.
#pragma once

#include <time.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tributary/sdk/common.h"

namespace tributary::sdk::detail {

inline uint64_t NowNanos() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A fast per-thread generator (xoshiro256++) seeded from the kernel, the
// clock and the thread; used for trace and span ids.
uint64_t RandomU64() noexcept;

inline uint64_t Mix64(uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

uint64_t HashBytes(std::string_view s) noexcept;

// An attribute the SDK owns. Records are reused, so the strings keep their
// capacity and a steady workload allocates nothing.
struct OwnedValue {
  AttributeValue::Type type = AttributeValue::Type::kString;
  int64_t int_value = 0;
  double double_value = 0;
  std::string string_value;

  void Assign(const AttributeValue& v, size_t length_limit) {
    type = v.type();
    switch (type) {
      case AttributeValue::Type::kBool:
      case AttributeValue::Type::kInt:
        int_value = v.int_value();
        break;
      case AttributeValue::Type::kDouble:
        double_value = v.double_value();
        break;
      case AttributeValue::Type::kString: {
        std::string_view s = v.string_value();
        if (length_limit != 0 && s.size() > length_limit) s = s.substr(0, length_limit);
        string_value.assign(s.data(), s.size());
        break;
      }
    }
  }
  bool Equals(const AttributeValue& v) const noexcept {
    if (type != v.type()) return false;
    switch (type) {
      case AttributeValue::Type::kBool:
      case AttributeValue::Type::kInt:
        return int_value == v.int_value();
      case AttributeValue::Type::kDouble:
        return std::bit_cast<uint64_t>(double_value) == std::bit_cast<uint64_t>(v.double_value());
      case AttributeValue::Type::kString:
        return string_value == v.string_value();
    }
    return false;
  }
};

struct OwnedAttribute {
  std::string key;
  OwnedValue value;
};

// A list of owned attributes whose elements are kept for reuse: size is the
// count in use.
struct AttributeStore {
  std::vector<OwnedAttribute> items;
  uint32_t size = 0;
  uint32_t dropped = 0;

  void Clear() noexcept {
    size = 0;
    dropped = 0;
  }
  // Replaces the value of an existing key; appends otherwise, unless the
  // count limit is reached (then counts it as dropped).
  void Set(std::string_view key, const AttributeValue& v, size_t count_limit, size_t length_limit) {
    for (uint32_t i = 0; i < size; ++i) {
      if (items[i].key == key) {
        items[i].value.Assign(v, length_limit);
        return;
      }
    }
    if (size >= count_limit) {
      ++dropped;
      return;
    }
    if (size == items.size()) items.emplace_back();
    items[size].key.assign(key.data(), key.size());
    items[size].value.Assign(v, length_limit);
    ++size;
  }
  void SetAll(AttributeList list, size_t count_limit, size_t length_limit) {
    for (const Attribute& a : list) Set(a.key, a.value, count_limit, length_limit);
  }
};

// A bounded single-producer single-consumer ring.
template <class V>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity) {
    size_t c = 1;
    while (c < capacity) c <<= 1;
    slots_ = std::make_unique<V[]>(c);
    mask_ = c - 1;
  }
  bool Push(V v) noexcept {
    size_t t = tail_.load(std::memory_order_relaxed);
    if (t - cached_head_ > mask_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (t - cached_head_ > mask_) return false;
    }
    slots_[t & mask_] = v;
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }
  // Producer side: entries at most this many (it may count some already taken).
  size_t ProducerSize() const noexcept {
    return tail_.load(std::memory_order_relaxed) - cached_head_;
  }
  // Producer side: the entries now.
  size_t RefreshedProducerSize() noexcept {
    cached_head_ = head_.load(std::memory_order_acquire);
    return tail_.load(std::memory_order_relaxed) - cached_head_;
  }
  // Either side.
  size_t Size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  bool Pop(V& v) noexcept {
    size_t h = head_.load(std::memory_order_relaxed);
    if (h == cached_tail_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (h == cached_tail_) return false;
    }
    v = slots_[h & mask_];
    head_.store(h + 1, std::memory_order_release);
    return true;
  }
  bool Empty() const noexcept { return Size() == 0; }

 private:
  std::unique_ptr<V[]> slots_;
  size_t mask_ = 0;
  alignas(64) std::atomic<size_t> tail_{0};
  size_t cached_head_ = 0;
  alignas(64) std::atomic<size_t> head_{0};
  size_t cached_tail_ = 0;
};

// Records travel from the threads that make them to one export thread through
// a ring per producing thread, so producers never share a cache line or lock;
// the export thread hands used records back through a second ring for reuse.
// The number of records in existence is capped: when none is free, the record
// is not made and the drop counted.
//
// T needs a member `void* owner` and a default constructor.
template <class T>
class RecordQueue {
 public:
  struct Local {
    explicit Local(size_t capacity) : out(capacity), back(capacity) {}
    ~Local() { delete spare; }  // the last owner; the rings' records are the queue's to free
    SpscRing<T*> out;
    SpscRing<T*> back;
    T* spare = nullptr;  // producer thread only
    std::atomic<bool> orphaned{false};
    // Drops counted here by the producer thread alone: no shared cache line
    // on the drop path, which is hot when the exporter cannot keep up.
    std::atomic<uint64_t> dropped{0};
    // Records made by this thread that still exist; a Local whose thread has
    // gone is freed only once they are all gone.
    std::atomic<size_t> records{0};
  };

  RecordQueue(size_t capacity, size_t batch_size)
      : uid_(NextUid()),
        capacity_(std::max<size_t>(capacity, 1)),
        ring_capacity_(capacity_),
        batch_size_(batch_size) {}
  ~RecordQueue() {
    std::lock_guard lock(mu_);
    for (auto& l : locals_) {
      l->orphaned.store(true);  // the thread may still hold it; it will not be found again
      T* r;
      while (l->out.Pop(r)) delete r;
      while (l->back.Pop(r)) delete r;
    }
    for (T* r : released_) delete r;
  }

  // Producer: a record to fill, or nullptr (counted as dropped).
  T* Acquire() noexcept {
    Local* l = ThisThread();
    if (l == nullptr) return Drop(nullptr);
    T* r = l->spare;
    if (r != nullptr) {
      l->spare = nullptr;
      return r;
    }
    if (l->back.Pop(r)) return r;
    if (allocated_.load(std::memory_order_relaxed) >= capacity_) return Drop(l);
    if (allocated_.fetch_add(1, std::memory_order_relaxed) >= capacity_) {
      allocated_.fetch_sub(1, std::memory_order_relaxed);
      return Drop(l);
    }
    try {
      r = new T();
    } catch (...) {
      allocated_.fetch_sub(1, std::memory_order_relaxed);
      return Drop(l);
    }
    r->owner = l;
    l->records.fetch_add(1, std::memory_order_relaxed);
    return r;
  }
  // Producer: hands a filled record to the export thread. Returns true when
  // the export thread should be woken (a batch is ready).
  bool Submit(T* r) noexcept {
    Local* l = ThisThread();
    if (l == nullptr || !l->out.Push(r)) {
      Drop(l);
      Release(r, l);
      return false;
    }
    if (l->out.ProducerSize() < batch_size_ || l->out.RefreshedProducerSize() < batch_size_)
      return false;
    // Pairs with the fence in HasBatch: either this thread sees the export
    // thread asleep and wakes it, or the export thread sees this batch.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return true;
  }
  // Producer: gives back a record that was not submitted.
  void Release(T* r, Local* l = nullptr) noexcept {
    if (l == nullptr) l = ThisThread();
    if (l != nullptr && l->spare == nullptr && r->owner == l) {
      l->spare = r;
      return;
    }
    // Another thread's record: return it through the export thread.
    std::lock_guard lock(mu_);
    released_.push_back(r);
  }

  // Export thread: takes up to max records.
  size_t Drain(std::vector<T*>& into, size_t max) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (size_t i = 0; i < locals_.size() && n < max;) {
      Local& l = *locals_[i];
      bool orphaned = l.orphaned.load(std::memory_order_acquire);
      T* r;
      while (n < max && l.out.Pop(r)) {
        into.push_back(r);
        ++n;
      }
      if (orphaned && l.out.Empty()) {
        dropped_.fetch_add(l.dropped.load(std::memory_order_relaxed), std::memory_order_relaxed);
        while (l.back.Pop(r)) Delete(r);
        if (l.spare != nullptr) Delete(std::exchange(l.spare, nullptr));
        retired_.push_back(std::move(locals_[i]));
        locals_.erase(locals_.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      ++i;
    }
    for (T* r : released_) Recycle(r);
    released_.clear();
    // Records drained by an earlier call have been recycled by now.
    std::erase_if(retired_, [](const std::shared_ptr<Local>& l) {
      return l->records.load(std::memory_order_relaxed) == 0;
    });
    return n;
  }
  // Export thread, after announcing it will sleep: is a whole batch waiting?
  bool HasBatch() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::lock_guard lock(mu_);
    for (auto& l : locals_)
      if (l->out.Size() >= batch_size_) return true;
    return false;
  }
  bool Empty() {
    std::lock_guard lock(mu_);
    for (auto& l : locals_)
      if (!l->out.Empty()) return false;
    return true;
  }
  // Export thread: returns a used record to the thread that made it.
  void Recycle(T* r) noexcept {
    auto* owner = static_cast<Local*>(r->owner);
    if (owner->orphaned.load(std::memory_order_acquire) || !owner->back.Push(r)) Delete(r);
  }

  uint64_t dropped() noexcept {
    std::lock_guard lock(mu_);
    uint64_t n = dropped_.load(std::memory_order_relaxed);
    for (auto& l : locals_) n += l->dropped.load(std::memory_order_relaxed);
    return n;
  }
  size_t allocated() const noexcept { return allocated_.load(std::memory_order_relaxed); }

 private:
  struct CacheEntry {
    uint64_t uid;
    Local* local;
  };
  static constexpr int kCacheSlots = 4;
  // Keeps this thread's Locals alive and marks them orphaned at thread exit.
  struct ThreadHolder {
    std::vector<std::shared_ptr<Local>> locals;
    ~ThreadHolder() {
      for (auto& l : locals) l->orphaned.store(true, std::memory_order_release);
    }
  };

  static uint64_t NextUid() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }
  static CacheEntry* Cache() noexcept {
    static thread_local CacheEntry cache[kCacheSlots]
        __attribute__((tls_model("initial-exec"))) = {};
    return cache;
  }

  Local* ThisThread() noexcept {
    CacheEntry* cache = Cache();
    for (int i = 0; i < kCacheSlots; ++i)
      if (cache[i].uid == uid_) return cache[i].local;
    return Register(cache);
  }
  Local* Register(CacheEntry* cache) noexcept {
    try {
      static thread_local ThreadHolder holder;
      auto l = std::make_shared<Local>(ring_capacity_);
      {
        std::lock_guard lock(mu_);
        locals_.push_back(l);
      }
      // Forget Locals of queues this thread no longer finds.
      std::erase_if(holder.locals, [](const std::shared_ptr<Local>& x) {
        return x->orphaned.load(std::memory_order_relaxed) && x.use_count() == 1;
      });
      holder.locals.push_back(l);
      int slot = 0;
      for (int i = 0; i < kCacheSlots; ++i) {
        if (cache[i].uid == 0) {
          slot = i;
          break;
        }
        slot = static_cast<int>(uid_ % kCacheSlots);
      }
      cache[slot] = {uid_, l.get()};
      return l.get();
    } catch (...) {
      return nullptr;
    }
  }
  T* Drop(Local* l) noexcept {
    if (l != nullptr) {
      l->dropped.store(l->dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(1, std::memory_order_relaxed);
    }
    return nullptr;
  }
  void Delete(T* r) noexcept {
    static_cast<Local*>(r->owner)->records.fetch_sub(1, std::memory_order_relaxed);
    delete r;
    allocated_.fetch_sub(1, std::memory_order_relaxed);
  }

  const uint64_t uid_;
  const size_t capacity_;
  const size_t ring_capacity_;
  const size_t batch_size_;
  std::atomic<size_t> allocated_{0};
  std::atomic<uint64_t> dropped_{0};  // by threads without a Local, and by Locals gone
  std::mutex mu_;
  std::vector<std::shared_ptr<Local>> locals_;   // guarded by mu_
  std::vector<T*> released_;                     // guarded by mu_
  std::vector<std::shared_ptr<Local>> retired_;  // guarded by mu_; thread gone, records remain
};

}  // namespace tributary::sdk::detail
