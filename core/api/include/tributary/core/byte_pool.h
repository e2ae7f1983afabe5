#ifndef TRIBUTARY_CORE_BYTE_POOL_H_
#define TRIBUTARY_CORE_BYTE_POOL_H_

#include <cstddef>
#include <string>

// Large byte strings kept for reuse. Memory past malloc's mmap threshold
// comes fresh from the kernel on every allocation and goes back on every
// free, so filling a megabyte costs 256 page faults each time; a string
// given back here keeps its pages for the next taker. The pool keeps a few
// strings (at most kMaxPooledBytes of capacity in all), so that what it
// holds stays small beside the data in flight it saves faults for.
namespace tributary::core::byte_pool {

// Strings smaller than this come from malloc's heap anyway: not pooled.
inline constexpr size_t kMinPooledCapacity = 128 << 10;
inline constexpr size_t kMaxPooledBytes = 8 << 20;

// A string of `size` bytes whose contents are unspecified (the previous
// user's bytes, or zeros): for a caller that overwrites them all.
std::string Take(size_t size);

// An empty string with room for `capacity` bytes.
std::string TakeEmpty(size_t capacity);

// Keeps `bytes`' memory for a later Take when it is large enough and the
// pool has room; frees it otherwise.
void Give(std::string&& bytes);

}  // namespace tributary::core::byte_pool

#endif  // TRIBUTARY_CORE_BYTE_POOL_H_
