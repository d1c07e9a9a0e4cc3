#include "lcsim/model/alias_table.hpp"

#include <cmath>
#include <stdexcept>

namespace lcsim {

AliasTable::AliasTable(const std::vector<double>& weights) {
  const std::size_t n = weights.size();
  if (n == 0) throw std::invalid_argument("alias table: no weights");
  double sum = 0.0;
  for (double w : weights) {
    if (!(w >= 0.0) || !std::isfinite(w)) throw std::invalid_argument("alias table: bad weight");
    sum += w;
  }
  if (!(sum > 0.0)) throw std::invalid_argument("alias table: weights sum to zero");

  // Vose's method on scaled probabilities p_i * n.
  std::vector<double> scaled(n);
  std::vector<std::uint32_t> small;
  std::vector<std::uint32_t> large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] / sum * static_cast<double>(n);
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
  }
  threshold_.assign(n, 0);
  alias_.resize(n);
  for (std::size_t i = 0; i < n; ++i) alias_[i] = static_cast<std::uint32_t>(i);
  constexpr double kOne = 4294967296.0;  // 2^32
  while (!small.empty() && !large.empty()) {
    const std::uint32_t s = small.back();
    small.pop_back();
    const std::uint32_t l = large.back();
    threshold_[s] = static_cast<std::uint64_t>(std::llround(scaled[s] * kOne));
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What remains has probability 1 up to rounding: always keep it.
  for (std::uint32_t i : large) threshold_[i] = static_cast<std::uint64_t>(kOne);
  for (std::uint32_t i : small) threshold_[i] = static_cast<std::uint64_t>(kOne);
  // Entries with zero weight must never be returned, not even through rounding.
  for (std::size_t i = 0; i < n; ++i) {
    if (weights[i] == 0.0) threshold_[i] = 0;
  }
}

}  // namespace lcsim
