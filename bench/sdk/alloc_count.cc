// Replaces the global operator new to count the calling thread's heap
// allocations (the dynamic linker makes the SDK's shared library use it too).
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {
thread_local uint64_t tls_allocations = 0;
}  // namespace

uint64_t ThreadAllocations() noexcept { return tls_allocations; }

void* operator new(size_t n) {
  ++tls_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) {
  ++tls_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
