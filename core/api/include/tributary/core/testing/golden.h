#ifndef TRIBUTARY_CORE_TESTING_GOLDEN_H_
#define TRIBUTARY_CORE_TESTING_GOLDEN_H_

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"

namespace tributary::core::testing {

// Checks `got` against the golden file at `path` byte for byte, showing the
// first difference; with TRIBUTARY_UPDATE_GOLDEN set in the environment it
// writes the file instead and marks the test skipped.
inline void ExpectGolden(const std::string& path, const std::string& got) {
  if (std::getenv("TRIBUTARY_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << got;
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << path;
  const std::string want((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  EXPECT_TRUE(g == got.end() && w == want.end())
      << path << ": first difference at byte " << (g - got.begin()) << ": got \""
      << std::string(g, g + std::min<ptrdiff_t>(120, got.end() - g)) << "\" want \""
      << std::string(w, w + std::min<ptrdiff_t>(120, want.end() - w)) << "\"";
}

}  // namespace tributary::core::testing

#endif  // TRIBUTARY_CORE_TESTING_GOLDEN_H_
