// Private to lcsim_calibrate: small text helpers for messages.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lcsim::calibrate_text {

/// Shortest round-trip decimal form of a number ("nan", "inf" for the special values).
std::string number(double value);

/// "a, b, c" (at most `limit` items, then ", ...").
std::string join(const std::vector<std::string>& items, std::size_t limit = 20);

/// "lines 3, 8, 12, ..." listing at most `limit` line numbers ("line 3" for one).
std::string lines(const std::vector<int>& line_numbers, std::size_t limit);

/// Removes blanks (space, tab, CR, LF) at both ends.
std::string trim(std::string_view s);

}  // namespace lcsim::calibrate_text
