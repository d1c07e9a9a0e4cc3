/// @file stats.hpp
/// Statistical helpers for tests: goodness-of-fit p-values and closed forms to compare with.
#pragma once

#include <Eigen/Dense>
#include <functional>
#include <string>
#include <vector>

namespace lcsim::test {

/// Two-sided one-sample Kolmogorov-Smirnov p-value of `samples` against a continuous `cdf`
/// (Stephens' small-sample correction of the asymptotic Kolmogorov distribution).
double ks_pvalue(std::vector<double> samples, const std::function<double(double)>& cdf);

/// Pearson chi-square p-value of observed counts against expected counts (same length, > 0).
double chi_square_pvalue(const std::vector<double>& observed, const std::vector<double>& expected,
                         int fitted_parameters = 0);

/// Closed form of an absorbing continuous-time Markov chain with exponential dwells.
struct AbsorbingChain {
  Eigen::MatrixXd absorption;      ///< [transient, absorbing]: P(absorbed in j | start in i)
  Eigen::VectorXd time_to_absorb;  ///< expected days until absorption from each transient state
  Eigen::MatrixXd visits;          ///< fundamental matrix N = (I - Q)^-1: expected visits
};

/// @param jump [n, n] jump-chain probabilities among all states (rows of absorbing states ignored)
/// @param mean_dwell [n] mean dwell of each state (ignored for absorbing)
/// @param absorbing [n] flags
AbsorbingChain solve_absorbing(const Eigen::MatrixXd& jump, const Eigen::VectorXd& mean_dwell,
                               const std::vector<bool>& absorbing);

/// Mean and standard error of a sample.
struct MeanSe {
  double mean = 0.0;
  double se = 0.0;
};
MeanSe mean_se(const std::vector<double>& x);

/// Reads a whole file (for tests on bundled scenarios).
std::string read_text(const std::string& path);

}  // namespace lcsim::test
