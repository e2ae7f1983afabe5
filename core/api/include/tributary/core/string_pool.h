#ifndef TRIBUTARY_CORE_STRING_POOL_H_
#define TRIBUTARY_CORE_STRING_POOL_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace tributary::core {

// A few large byte buffers kept between uses (serialised batches, lines of
// JSON), so that resident memory stays at what the work needs instead of
// going to the system and back for every batch. Thread-safe.
class StringPool {
 public:
  // Keeps at most `kept` buffers, none larger than `largest` bytes.
  StringPool(size_t kept, size_t largest) : kept_(kept), largest_(largest) {}

  // An empty buffer, with the capacity of one used before when there is one.
  std::string Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (spare_.empty()) return std::string();
    std::string s = std::move(spare_.back());
    spare_.pop_back();
    s.clear();
    return s;
  }

  void Return(std::string s) {
    if (s.capacity() > largest_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (spare_.size() < kept_) spare_.push_back(std::move(s));
  }

 private:
  const size_t kept_;
  const size_t largest_;
  std::mutex mu_;
  std::vector<std::string> spare_;
};

}  // namespace tributary::core

#endif  // TRIBUTARY_CORE_STRING_POOL_H_
