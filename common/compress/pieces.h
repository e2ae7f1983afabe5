#ifndef TRIBUTARY_COMMON_COMPRESS_PIECES_H_
#define TRIBUTARY_COMMON_COMPRESS_PIECES_H_

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace tributary::common::compress {

// Decoded content gathered in pieces, each written once and never moved, and
// joined at the end piece by piece: memory stays near the content's size (a
// string grown in place would hold an old and a new copy while it moves).
// Pieces start at four times the input's size and double up to 4 MiB.
class Pieces {
 public:
  explicit Pieces(size_t input_size) : next_(std::max<size_t>(input_size * 4, 16384)) {}

  // The size of the next piece, at most `room`.
  size_t NextSize(size_t room) {
    const size_t size = std::min(room, next_);
    next_ = std::min<size_t>(next_ * 2, 4 << 20);
    return size;
  }
  // A piece of `size` bytes to decode into; Keep(n) then keeps its first n.
  char* Take(size_t size) {
    current_ = std::make_unique_for_overwrite<char[]>(size);
    return current_.get();
  }
  void Keep(size_t n) {
    if (n > 0) pieces_.push_back({std::move(current_), n});
    current_.reset();
    total_ += n;
  }
  size_t total() const { return total_; }
  std::string Join() {
    std::string out;
    out.reserve(total_);
    for (Piece& piece : pieces_) {
      out.append(piece.data.get(), piece.size);
      piece.data.reset();
    }
    return out;
  }

 private:
  struct Piece {
    std::unique_ptr<char[]> data;
    size_t size;
  };
  std::vector<Piece> pieces_;
  std::unique_ptr<char[]> current_;
  size_t total_ = 0;
  size_t next_;
};

}  // namespace tributary::common::compress

#endif  // TRIBUTARY_COMMON_COMPRESS_PIECES_H_
