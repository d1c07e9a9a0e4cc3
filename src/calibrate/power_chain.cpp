#include "power_chain.hpp"

#include <algorithm>
#include <cstddef>
#include <stdexcept>

namespace lcsim::calibrate_chain {

using Matrix = Eigen::MatrixXd;

void PowerChain::build(const Matrix& a, const std::vector<std::int64_t>& exponents) {
  a_ = a;
  exponents_ = exponents;
  const Eigen::Index n = a.rows();
  std::int64_t short_top = 0;
  std::int64_t long_top = 0;
  for (const std::int64_t m : exponents) {
    if (m < 1) throw std::invalid_argument("PowerChain: exponents must be >= 1");
    if (m <= kDirect) {
      short_top = std::max(short_top, m);
    } else {
      short_top = std::max(short_top, kStride);
      long_top = std::max(long_top, m / kStride);
    }
  }
  x_.resize(static_cast<std::size_t>(short_top) + 1);
  x_[0] = Matrix::Identity(n, n);
  for (std::size_t k = 1; k < x_.size(); ++k) x_[k].noalias() = x_[k - 1] * a;
  y_.resize(static_cast<std::size_t>(long_top) + 1);
  if (long_top > 0) {
    y_[0] = Matrix::Identity(n, n);
    const Matrix& base = x_[static_cast<std::size_t>(kStride)];
    for (std::size_t q = 1; q < y_.size(); ++q) y_[q].noalias() = y_[q - 1] * base;
  }
  powers_.resize(exponents.size());
  for (std::size_t i = 0; i < exponents.size(); ++i) {
    const std::int64_t m = exponents[i];
    if (m <= kDirect) {
      powers_[i] = x_[static_cast<std::size_t>(m)];
    } else {
      powers_[i].noalias() =
          y_[static_cast<std::size_t>(m / kStride)] * x_[static_cast<std::size_t>(m % kStride)];
    }
  }
}

Matrix PowerChain::adjoint(const std::vector<Matrix>& w) const {
  const Eigen::Index n = a_.rows();
  // Adjoints of the short chain's X_k and the long chain's Y_q.
  std::vector<Matrix> wx(x_.size());
  std::vector<Matrix> wy(y_.size());
  const auto add = [n](std::vector<Matrix>& to, std::size_t k, const Matrix& v) {
    if (to[k].size() == 0) to[k] = Matrix::Zero(n, n);
    to[k] += v;
  };
  for (std::size_t i = 0; i < exponents_.size(); ++i) {
    if (w[i].size() == 0) continue;
    const std::int64_t m = exponents_[i];
    if (m <= kDirect) {
      add(wx, static_cast<std::size_t>(m), w[i]);
      continue;
    }
    const auto q = static_cast<std::size_t>(m / kStride);
    const auto r = static_cast<std::size_t>(m % kStride);
    add(wy, q, w[i] * x_[r].transpose());  // P = Y_q X_r
    if (r > 0) add(wx, r, y_[q].transpose() * w[i]);
  }
  // The long chain: Y_q = Y_{q-1} B with B = X_kStride.
  if (y_.size() > 1) {
    const Matrix& base = x_[static_cast<std::size_t>(kStride)];
    Matrix back = Matrix::Zero(n, n);
    Matrix g = Matrix::Zero(n, n);
    for (std::size_t q = y_.size() - 1; q >= 1; --q) {
      if (wy[q].size() != 0) back += wy[q];
      g.noalias() += y_[q - 1].transpose() * back;
      back = back * base.transpose();
    }
    add(wx, static_cast<std::size_t>(kStride), g);
  }
  // The short chain: X_k = X_{k-1} A.
  Matrix back = Matrix::Zero(n, n);
  Matrix g = Matrix::Zero(n, n);
  bool started = false;
  for (std::size_t k = x_.size() - 1; k >= 1; --k) {
    if (wx[k].size() != 0) {
      back += wx[k];
      started = true;
    }
    if (!started) continue;
    g.noalias() += x_[k - 1].transpose() * back;
    if (k > 1) back = back * a_.transpose();
  }
  return g;
}

}  // namespace lcsim::calibrate_chain
