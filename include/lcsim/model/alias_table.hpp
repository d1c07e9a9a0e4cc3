/// @file alias_table.hpp
/// Walker/Vose alias table: O(1) sampling from a discrete distribution with one 64-bit draw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lcsim {

class AliasTable {
 public:
  AliasTable() = default;
  /// @param weights non-negative, positive sum (need not be normalised)
  /// @throws std::invalid_argument on an empty, negative or all-zero vector
  explicit AliasTable(const std::vector<double>& weights);

  /// Index drawn with probability weights[i] / sum, from one uniform 64-bit word.
  [[nodiscard]] std::uint32_t sample(std::uint64_t bits) const noexcept {
    const auto n = static_cast<std::uint64_t>(threshold_.size());
    const auto i = static_cast<std::uint32_t>(((bits >> 32U) * n) >> 32U);
    const auto frac = static_cast<std::uint32_t>(bits);
    // Keep or alias without a branch: the choice is random, a branch would miss often (the
    // raw-limit loop of benches/ ran 3% faster so).
    const std::uint32_t alias = alias_[i];
    const std::uint32_t kept = 0U - static_cast<std::uint32_t>(frac < threshold_[i]);
    return alias ^ ((i ^ alias) & kept);
  }
  [[nodiscard]] std::size_t size() const noexcept { return threshold_.size(); }
  /// P(keep i) * 2^32 in [0, 2^32]: sample() keeps i when the low 32 bits are below it.
  [[nodiscard]] std::uint64_t threshold(std::size_t i) const noexcept { return threshold_[i]; }
  /// The index sample() returns for column i when it does not keep i.
  [[nodiscard]] std::uint32_t alias(std::size_t i) const noexcept { return alias_[i]; }
  [[nodiscard]] bool empty() const noexcept { return threshold_.empty(); }

 private:
  std::vector<std::uint64_t> threshold_;  // P(keep i) * 2^32, in [0, 2^32]
  std::vector<std::uint32_t> alias_;
};

}  // namespace lcsim
