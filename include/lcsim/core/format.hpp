/// @file format.hpp
/// Number formatting shared by messages, verdicts and the command line.
#pragma once

#include <string>

namespace lcsim {

/// |x| rounded to a whole number with thousands separators: 87027.4 -> "87,027" (no sign).
[[nodiscard]] std::string group_thousands(double x);

}  // namespace lcsim
