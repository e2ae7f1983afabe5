#include "tributary/core/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace tributary::core::utf8 {
namespace {

TEST(Utf8, ValidatesAsProtobufDoes) {
  EXPECT_TRUE(IsValid(""));
  EXPECT_TRUE(IsValid("plain ascii text, long enough for words"));
  EXPECT_TRUE(IsValid("\xc3\xa9\xf0\x9f\x98\x80"));
  EXPECT_TRUE(IsValid("ascii run of eight then \xe2\x82\xac then ascii again, long"));
  EXPECT_TRUE(IsValid("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(IsValid("\xff"));
  EXPECT_FALSE(IsValid("\xed\xa0\x80"));          // a surrogate
  EXPECT_FALSE(IsValid("\xc0\xaf"));              // overlong
  EXPECT_FALSE(IsValid("\xe0\x80\xaf"));          // overlong
  EXPECT_FALSE(IsValid("\xf0\x80\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValid("\xf4\x90\x80\x80"));      // beyond U+10FFFF
  EXPECT_FALSE(IsValid("twelve bytes\xe2\x82"));  // cut short after an ASCII run
}

TEST(Utf8, ReplacesInvalidSequences) {
  std::string out;
  AppendValid(
      "a\xff"
      "b\xe2\x82",
      &out);
  EXPECT_EQ(out,
            "a\xef\xbf\xbd"
            "b\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_TRUE(IsValid(out));
  out.clear();
  AppendValid("valid \xc3\xa9", &out);
  EXPECT_EQ(out, "valid \xc3\xa9");
}

}  // namespace
}  // namespace tributary::core::utf8
