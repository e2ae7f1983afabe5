#ifndef TRIBUTARY_EXPORTERS_PROMETHEUS_SHARED_TEXT_H_
#define TRIBUTARY_EXPORTERS_PROMETHEUS_SHARED_TEXT_H_

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace tributary::exporters::prometheus {

// An immutable string shared by reference count, in one allocation (a
// 4-byte count and a 4-byte length before the characters). The rendered
// labels of a series are held once, by the store and by every scrape
// snapshot that still renders them; a copy costs one atomic increment.
class SharedText {
 public:
  SharedText() = default;
  explicit SharedText(std::string_view text) {
    void* memory = ::operator new(sizeof(Header) + text.size());
    header_ = new (memory) Header{{1}, static_cast<uint32_t>(text.size())};
    if (!text.empty())
      std::memcpy(static_cast<char*>(memory) + sizeof(Header), text.data(), text.size());
  }
  SharedText(const SharedText& other) noexcept : header_(other.header_) {
    if (header_ != nullptr) header_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedText(SharedText&& other) noexcept : header_(std::exchange(other.header_, nullptr)) {}
  SharedText& operator=(SharedText other) noexcept {
    std::swap(header_, other.header_);
    return *this;
  }
  ~SharedText() {
    if (header_ != nullptr && header_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      header_->~Header();
      ::operator delete(header_);
    }
  }

  std::string_view view() const {
    if (header_ == nullptr) return {};
    return {reinterpret_cast<const char*>(header_ + 1), header_->size};
  }

 private:
  struct Header {
    std::atomic<uint32_t> refs;
    uint32_t size;
  };
  Header* header_ = nullptr;
};

// Hash and equality of SharedText keys by content, so that a map keyed by
// them is searched with a std::string_view.
struct SharedTextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  size_t operator()(const SharedText& s) const { return (*this)(s.view()); }
};
struct SharedTextEq {
  using is_transparent = void;
  static std::string_view View(std::string_view s) { return s; }
  static std::string_view View(const SharedText& s) { return s.view(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return View(a) == View(b);
  }
};

}  // namespace tributary::exporters::prometheus

#endif  // TRIBUTARY_EXPORTERS_PROMETHEUS_SHARED_TEXT_H_
