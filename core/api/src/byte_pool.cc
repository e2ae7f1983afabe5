#include "tributary/core/byte_pool.h"

#include <mutex>
#include <vector>

namespace tributary::core::byte_pool {

namespace {

struct Pool {
  std::mutex mu;
  std::vector<std::string> strings;
  size_t bytes = 0;  // capacity of `strings`
};

Pool& ThePool() {
  static Pool* pool = new Pool;  // never destroyed: Give may run during exit
  return *pool;
}

// The smallest pooled string with room for `capacity`, if any.
bool TakeFitting(size_t capacity, std::string* out) {
  if (capacity < kMinPooledCapacity) return false;
  Pool& pool = ThePool();
  std::lock_guard lock(pool.mu);
  size_t best = pool.strings.size();
  for (size_t i = 0; i < pool.strings.size(); ++i) {
    const size_t c = pool.strings[i].capacity();
    if (c >= capacity && (best == pool.strings.size() || c < pool.strings[best].capacity())) {
      best = i;
    }
  }
  if (best == pool.strings.size()) return false;
  pool.bytes -= pool.strings[best].capacity();
  *out = std::move(pool.strings[best]);
  pool.strings[best] = std::move(pool.strings.back());
  pool.strings.pop_back();
  return true;
}

}  // namespace

std::string Take(size_t size) {
  std::string s;
  TakeFitting(size, &s);
  s.resize(size);  // within a pooled string's capacity: writes only past its old size
  return s;
}

std::string TakeEmpty(size_t capacity) {
  std::string s;
  if (!TakeFitting(capacity, &s)) s.reserve(capacity);
  s.clear();
  return s;
}

void Give(std::string&& bytes) {
  const size_t capacity = bytes.capacity();
  if (capacity < kMinPooledCapacity) return;
  Pool& pool = ThePool();
  std::string taken = std::move(bytes);
  std::lock_guard lock(pool.mu);
  if (pool.bytes + capacity > kMaxPooledBytes) return;  // freed as `taken` goes
  pool.bytes += capacity;
  pool.strings.push_back(std::move(taken));
}

}  // namespace tributary::core::byte_pool
