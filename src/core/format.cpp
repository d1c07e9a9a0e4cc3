#include "lcsim/core/format.hpp"

#include <cmath>
#include <cstdio>

namespace lcsim {

std::string group_thousands(double x) {
  char digits[64];
  const int n = std::snprintf(digits, sizeof digits, "%.0f", std::fabs(x));
  std::string out;
  out.reserve(static_cast<std::size_t>(n + n / 3));
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0 && digits[i - 1] >= '0' && digits[i - 1] <= '9') out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

}  // namespace lcsim
