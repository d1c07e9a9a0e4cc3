/// @file format.hpp
/// Number and message formatting shared by messages, verdicts and the command line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lcsim {

/// |x| rounded to a whole number with thousands separators: 87027.4 -> "87,027" (no sign).
[[nodiscard]] std::string group_thousands(double x);

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// "; did you mean 'x'?" for the closest of `names` within distance 2 (and shorter than the word),
/// else "". @param names any range of strings or string views
template <class Names>
[[nodiscard]] std::string did_you_mean(std::string_view word, const Names& names) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (const auto& name : names) {
    const std::size_t distance = edit_distance(word, name);
    if (distance < best_distance && distance < word.size()) {
      best = name;
      best_distance = distance;
    }
  }
  return best.empty() ? std::string() : "; did you mean '" + std::string(best) + "'?";
}

}  // namespace lcsim
