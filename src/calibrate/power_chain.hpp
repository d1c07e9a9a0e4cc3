// Private to lcsim_calibrate: integer powers A^m of one matrix for a set of exponents, and the
// reverse (adjoint) pass that turns d f / d A^m for every exponent into d f / dA.
//
// The panel likelihoods need P(dt) = expm(Q dt) for every distinct gap dt between observations.
// Gaps are whole multiples m of a resolution u, so P(m u) = P(u)^m: one matrix exponential and a
// chain of products replace one exponential per gap, and the gradient needs a single Fréchet
// derivative of expm at Q u instead of one per gap. Exponents up to kDirect come from the chain
// X_k = X_{k-1} A; larger ones as Y_q X_r with Y_q = (A^kStride)^q, q = m / kStride, r = m % kStride,
// so a gap of years costs a few products, not thousands. Products of (sub)stochastic matrices are
// stable: relative errors grow like m eps.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Dense>

namespace lcsim::calibrate_chain {

class PowerChain {
 public:
  static constexpr std::int64_t kDirect = 128;
  static constexpr std::int64_t kStride = 64;

  /// Powers of `a` for `exponents` (each >= 1, any order, duplicates allowed).
  void build(const Eigen::MatrixXd& a, const std::vector<std::int64_t>& exponents);

  /// A^exponents[i].
  [[nodiscard]] const Eigen::MatrixXd& power(std::size_t i) const { return powers_[i]; }

  /// d f / dA from w[i] = d f / d A^exponents[i] (w.size() == exponents.size(); a zero matrix
  /// where f does not depend on that power).
  [[nodiscard]] Eigen::MatrixXd adjoint(const std::vector<Eigen::MatrixXd>& w) const;

 private:
  Eigen::MatrixXd a_;
  std::vector<std::int64_t> exponents_;
  std::vector<Eigen::MatrixXd> x_;  ///< A^k, k = 0 .. top of the short chain
  std::vector<Eigen::MatrixXd> y_;  ///< (A^kStride)^q, q = 0 .. top of the long chain
  std::vector<Eigen::MatrixXd> powers_;
};

}  // namespace lcsim::calibrate_chain
