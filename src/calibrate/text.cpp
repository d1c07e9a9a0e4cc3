#include "text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace lcsim::calibrate_text {
std::string number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string join(const std::vector<std::string>& items, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i == limit) {
      out += ", ...";
      break;
    }
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out;
}

std::string lines(const std::vector<int>& line_numbers, std::size_t limit) {
  std::string out = line_numbers.size() == 1 ? "line " : "lines ";
  for (std::size_t i = 0; i < line_numbers.size(); ++i) {
    if (i == limit) {
      out += ", ...";
      break;
    }
    if (i > 0) out += ", ";
    out += std::to_string(line_numbers[i]);
  }
  return out;
}

std::string trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace lcsim::calibrate_text
