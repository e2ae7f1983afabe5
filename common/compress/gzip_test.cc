#include "common/compress/gzip.h"

#include "gtest/gtest.h"

namespace tributary::common::compress {
namespace {

TEST(Gzip, RoundTripsAtEitherLevel) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + "\n";
  for (int level : {kGzipFastest, kGzipBest}) {
    const std::string zipped = Gzip(text, level);
    ASSERT_LT(zipped.size(), text.size());
    ASSERT_EQ(static_cast<unsigned char>(zipped[0]), 0x1f);  // gzip magic
    ASSERT_EQ(static_cast<unsigned char>(zipped[1]), 0x8b);
    absl::StatusOr<std::string> back = Gunzip(zipped, text.size());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, text);
  }
}

TEST(Gzip, EmptyInputRoundTrips) {
  absl::StatusOr<std::string> back = Gunzip(Gzip(""), 10);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "");
}

TEST(Gunzip, ContentOfExactlyTheLimitFits) {
  const std::string text(100000, 'y');
  absl::StatusOr<std::string> back = Gunzip(Gzip(text), text.size());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, text);
  EXPECT_EQ(Gunzip(Gzip(text), text.size() - 1).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Gunzip, StopsABombAtTheLimit) {
  const std::string bomb = Gzip(std::string(64 << 20, '\0'));
  absl::StatusOr<std::string> out = Gunzip(bomb, 1 << 20);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(Gunzip, RefusesGarbageAndTruncation) {
  EXPECT_EQ(Gunzip("not gzip at all", 1024).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string zipped = Gzip(std::string(10000, 'x'));
  EXPECT_EQ(Gunzip(zipped.substr(0, zipped.size() / 2), 1 << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tributary::common::compress
