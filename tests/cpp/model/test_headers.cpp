// Each public header must compile on its own (included first in its own translation unit is
// checked by the one-file-per-header tests; here all together for the umbrella).
#include "lcsim/lcsim.hpp"

#include <gtest/gtest.h>

TEST(HeadersTest, umbrella_header_exposes_the_public_api) {
  EXPECT_STRNE(lcsim::kVersion, "");
  EXPECT_EQ(lcsim::to_string(lcsim::DwellFamily::kGamma), std::string("gamma"));
}
