#include "common/compress/gzip.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "common/compress/pieces.h"

namespace tributary::common::compress {
namespace {

// A window of 15 bits plus 16 selects the gzip wrapper.
constexpr int kGzipWindow = 15 + 16;

}  // namespace

std::string Gzip(std::string_view in, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, kGzipWindow, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  // deflateBound covers one deflate(Z_FINISH) call over the whole input.
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

absl::StatusOr<std::string> Gunzip(std::string_view in, size_t max_size,
                                   const std::function<bool(size_t)>& reserve) {
  z_stream z{};
  if (inflateInit2(&z, kGzipWindow) != Z_OK) {
    return absl::InternalError("cannot start a gzip decoder");
  }
  Pieces pieces(in.size());
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (pieces.total() >= max_size) {
      // Full: the stream may still end here without another byte of content.
      Bytef probe;
      z.next_out = &probe;
      z.avail_out = 1;
      if (inflate(&z, Z_NO_FLUSH) == Z_STREAM_END && z.avail_out == 1) break;
      inflateEnd(&z);
      return absl::ResourceExhaustedError(
          absl::StrCat("gzip content exceeds ", max_size, " bytes"));
    }
    const size_t room = pieces.NextSize(max_size - pieces.total());
    if (reserve && !reserve(room)) {
      inflateEnd(&z);
      return absl::UnavailableError("the memory budget for requests in flight is spent");
    }
    z.next_out = reinterpret_cast<Bytef*>(pieces.Take(room));
    z.avail_out = static_cast<uInt>(room);
    rc = inflate(&z, Z_NO_FLUSH);
    pieces.Keep(room - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) rc = Z_DATA_ERROR;  // input ended early
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return absl::InvalidArgumentError("not a complete gzip stream");
    }
  }
  inflateEnd(&z);
  return pieces.Join();
}

}  // namespace tributary::common::compress
