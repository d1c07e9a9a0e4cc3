// The umbrella header: every public header together, and the API it exposes. Each header alone, in
// its own translation unit, is checked by test_headers (tests/CMakeLists.txt, test_public_headers.cpp).
#include "lcsim/lcsim.hpp"

#include <gtest/gtest.h>

TEST(HeadersTest, umbrella_header_exposes_the_public_api) {
  EXPECT_STRNE(lcsim::kVersion, "");
  EXPECT_EQ(lcsim::to_string(lcsim::DwellFamily::kGamma), std::string("gamma"));
}
