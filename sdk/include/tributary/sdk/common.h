// Attribute values, attribute lists and the export macro shared by the
// metrics, tracing and logging APIs. No third-party includes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#define TRIBUTARY_SDK_API __attribute__((visibility("default")))

namespace tributary::sdk {

// One attribute value. String values are views: the SDK copies what it keeps
// before the call returns.
class AttributeValue {
 public:
  enum class Type : uint8_t { kBool, kInt, kDouble, kString };

  constexpr AttributeValue(bool v) noexcept : type_(Type::kBool), int_(v ? 1 : 0) {}
  template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) constexpr AttributeValue(T v) noexcept
      : type_(Type::kInt), int_(static_cast<int64_t>(v)) {}
  template <class T>
  requires std::is_floating_point_v<T>
  constexpr AttributeValue(T v) noexcept : type_(Type::kDouble), double_(static_cast<double>(v)) {}
  constexpr AttributeValue(std::string_view v) noexcept : type_(Type::kString), string_(v) {}
  constexpr AttributeValue(const char* v) noexcept
      : type_(Type::kString), string_(v == nullptr ? std::string_view() : std::string_view(v)) {}
  AttributeValue(const std::string& v) noexcept : type_(Type::kString), string_(v) {}

  Type type() const noexcept { return type_; }
  bool bool_value() const noexcept { return int_ != 0; }
  int64_t int_value() const noexcept { return int_; }
  double double_value() const noexcept { return double_; }
  std::string_view string_value() const noexcept { return string_; }

 private:
  Type type_;
  int64_t int_ = 0;
  double double_ = 0;
  std::string_view string_;
};

struct Attribute {
  std::string_view key;
  AttributeValue value;
};

// A view of attributes for the duration of one call:
//   counter.Add(1, {{"route", "/cart"}, {"code", 200}});
class AttributeList {
 public:
  constexpr AttributeList() noexcept = default;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored \
    "-Winit-list-lifetime"  // a view for the duration of the call, by design
#endif
  constexpr AttributeList(std::initializer_list<Attribute> list) noexcept
      : data_(list.begin()), size_(list.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  constexpr AttributeList(std::span<const Attribute> list) noexcept
      : data_(list.data()), size_(list.size()) {}

  const Attribute* begin() const noexcept { return data_; }
  const Attribute* end() const noexcept { return data_ + size_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const Attribute& operator[](size_t i) const noexcept { return data_[i]; }

 private:
  const Attribute* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tributary::sdk
