#include "common/compress/zstd.h"

#include "gtest/gtest.h"

namespace tributary::common::compress {
namespace {

std::string Lines(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += "line " + std::to_string(i) + "\n";
  return text;
}

TEST(Zstd, RoundTrips) {
  const std::string text = Lines(50000);
  const std::string packed = Zstd(text);
  ASSERT_LT(packed.size(), text.size() / 4);
  ASSERT_EQ(static_cast<unsigned char>(packed[0]), 0x28);  // zstd magic, little-endian
  absl::StatusOr<std::string> back = Unzstd(packed, text.size());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);
}

TEST(Zstd, EmptyContentRoundTripsButNoFrameIsAnError) {
  absl::StatusOr<std::string> back = Unzstd(Zstd(""), 10);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "");
  EXPECT_EQ(Unzstd("", 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Zstd, ConcatenatedFramesAreOneContent) {
  absl::StatusOr<std::string> back = Unzstd(Zstd("first ") + Zstd("second"), 100);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "first second");
}

TEST(Unzstd, ContentOfExactlyTheLimitFitsAndOneByteMoreDoesNot) {
  const std::string text(100000, 'y');
  absl::StatusOr<std::string> back = Unzstd(Zstd(text), text.size());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->size(), text.size());
  EXPECT_EQ(Unzstd(Zstd(text), text.size() - 1).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Unzstd, BombStopsAtTheLimit) {
  // 64 MiB of zeros pack into a few KiB.
  const std::string bomb = Zstd(std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), 10000u);
  size_t reserved = 0;
  absl::StatusOr<std::string> back = Unzstd(bomb, 1 << 20, [&](size_t n) {
    reserved += n;
    return true;
  });
  EXPECT_EQ(back.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LE(reserved, size_t{1} << 20);
}

TEST(Unzstd, TruncatedAndGarbageAreInvalid) {
  const std::string packed = Zstd(Lines(1000));
  EXPECT_EQ(Unzstd(packed.substr(0, packed.size() / 2), 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Unzstd("this is not zstd at all", 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Unzstd, RefusedReservationIsUnavailable) {
  absl::StatusOr<std::string> back =
      Unzstd(Zstd(Lines(100)), 1 << 20, [](size_t) { return false; });
  EXPECT_EQ(back.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tributary::common::compress
