#include "common/compress/zstd.h"

#include <zstd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/compress/pieces.h"

namespace tributary::common::compress {

namespace {

// A context per thread, kept: making one costs more than compressing a
// small request.
struct CompressContext {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ~CompressContext() { ZSTD_freeCCtx(ctx); }
};

}  // namespace

std::string Zstd(std::string_view in, int level) {
  thread_local CompressContext context;
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const size_t n =
      context.ctx == nullptr
          ? ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level)
          : ZSTD_compressCCtx(context.ctx, out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) return {};
  out.resize(n);
  return out;
}

// As Gunzip; a frame header's content size is not trusted for the size of
// the first piece.
absl::StatusOr<std::string> Unzstd(std::string_view in, size_t max_size,
                                   const std::function<bool(size_t)>& reserve) {
  // A decoder per thread, kept with its buffers, reset for each stream.
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(),
                                                                        ZSTD_freeDCtx);
  if (ctx == nullptr) return absl::InternalError("cannot start a zstd decoder");
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_and_parameters);
  // Frames that ask for a window above 8 MiB are refused, as browsers and
  // the Go Collector do, so a small body cannot claim a large decoder buffer.
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 23);
  Pieces pieces(in.size());
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  // 0 once a frame is complete and flushed; the input may hold another.
  size_t hint = 1;
  while (input.pos < input.size || hint != 0) {
    if (pieces.total() >= max_size) {
      // Full: the frame may still end here without another byte of content.
      char probe;
      ZSTD_outBuffer out{&probe, 1, 0};
      const size_t rc = ZSTD_decompressStream(ctx.get(), &out, &input);
      if (!ZSTD_isError(rc) && out.pos == 0 && rc == 0 && input.pos == input.size) break;
      return absl::ResourceExhaustedError(
          absl::StrCat("zstd content exceeds ", max_size, " bytes"));
    }
    const size_t room = pieces.NextSize(max_size - pieces.total());
    if (reserve && !reserve(room)) {
      return absl::UnavailableError("the memory budget for requests in flight is spent");
    }
    ZSTD_outBuffer out{pieces.Take(room), room, 0};
    // Fills the piece, or takes all the input.
    while (out.pos < out.size) {
      const size_t before = input.pos;
      hint = ZSTD_decompressStream(ctx.get(), &out, &input);
      if (ZSTD_isError(hint)) {
        return absl::InvalidArgumentError(
            absl::StrCat("not a valid zstd stream: ", ZSTD_getErrorName(hint)));
      }
      if (input.pos == input.size && (hint == 0 || (before == input.pos && out.pos < out.size))) {
        break;
      }
    }
    pieces.Keep(out.pos);
    if (input.pos == input.size && hint != 0 && out.pos < out.size) {
      return absl::InvalidArgumentError("not a complete zstd stream");
    }
  }
  return pieces.Join();
}

}  // namespace tributary::common::compress
