// The public headers, one translation unit each (tests/CMakeLists.txt generates them from
// include/lcsim/**/*.hpp): that this program compiled is the test; this counts what it compiled.
#include <gtest/gtest.h>

TEST(HeadersTest, every_public_header_compiles_alone_in_its_own_translation_unit) {
  // 41 headers under include/lcsim/ and the generated lcsim/core/version.hpp on 2026-12-07.
  EXPECT_GE(LCSIM_PUBLIC_HEADER_COUNT, 42);
}
