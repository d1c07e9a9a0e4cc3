#include "support/stats.hpp"

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lcsim::test {

double ks_pvalue(std::vector<double> samples, const std::function<double(double)>& cdf) {
  std::sort(samples.begin(), samples.end());
  const auto n = static_cast<double>(samples.size());
  double d = 0.0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const double f = cdf(samples[i]);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  const double x = d * (std::sqrt(n) + 0.12 + 0.11 / std::sqrt(n));
  double p = 0.0;
  for (int k = 1; k <= 100; ++k) {
    const double term = std::exp(-2.0 * k * k * x * x);
    p += (k % 2 == 1 ? 2.0 : -2.0) * term;
    if (term < 1e-12) break;
  }
  return std::clamp(p, 0.0, 1.0);
}

double chi_square_pvalue(const std::vector<double>& observed, const std::vector<double>& expected,
                         int fitted_parameters) {
  if (observed.size() != expected.size() || observed.size() < 2) {
    throw std::invalid_argument("chi_square_pvalue: sizes");
  }
  double stat = 0.0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    stat += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  }
  const double dof = static_cast<double>(observed.size()) - 1.0 - fitted_parameters;
  return boost::math::cdf(boost::math::complement(boost::math::chi_squared(dof), stat));
}

AbsorbingChain solve_absorbing(const Eigen::MatrixXd& jump, const Eigen::VectorXd& mean_dwell,
                               const std::vector<bool>& absorbing) {
  std::vector<Eigen::Index> tr;
  std::vector<Eigen::Index> ab;
  for (Eigen::Index i = 0; i < jump.rows(); ++i)
    (absorbing[static_cast<std::size_t>(i)] ? ab : tr).push_back(i);
  const auto nt = static_cast<Eigen::Index>(tr.size());
  const auto na = static_cast<Eigen::Index>(ab.size());
  Eigen::MatrixXd q(nt, nt);
  Eigen::MatrixXd r(nt, na);
  Eigen::VectorXd m(nt);
  for (Eigen::Index i = 0; i < nt; ++i) {
    m(i) = mean_dwell(tr[static_cast<std::size_t>(i)]);
    for (Eigen::Index j = 0; j < nt; ++j)
      q(i, j) = jump(tr[static_cast<std::size_t>(i)], tr[static_cast<std::size_t>(j)]);
    for (Eigen::Index j = 0; j < na; ++j)
      r(i, j) = jump(tr[static_cast<std::size_t>(i)], ab[static_cast<std::size_t>(j)]);
  }
  AbsorbingChain out;
  const Eigen::MatrixXd eye = Eigen::MatrixXd::Identity(nt, nt);
  out.visits = (eye - q).inverse();
  out.absorption = out.visits * r;
  out.time_to_absorb = out.visits * m;
  return out;
}

MeanSe mean_se(const std::vector<double>& x) {
  MeanSe out;
  const auto n = static_cast<double>(x.size());
  for (double v : x) out.mean += v;
  out.mean /= n;
  double ss = 0.0;
  for (double v : x) ss += (v - out.mean) * (v - out.mean);
  out.se = std::sqrt(ss / (n - 1.0) / n);
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace lcsim::test
