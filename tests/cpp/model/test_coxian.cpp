// The Coxian phase-type dwell: survival and density against closed forms (exponential,
// hypoexponential, Erlang through Boost's incomplete gamma) far into both tails, the exact mean,
// H^{-1} inverting H, the engine's tables against the exact values, and sampled dwells (the
// engine's way, H^{-1}(E)) against the distribution by Kolmogorov-Smirnov.
#include <gtest/gtest.h>

#include <boost/math/special_functions/gamma.hpp>
#include <boost/random/exponential_distribution.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "lcsim/model/coxian.hpp"
#include "lcsim/model/dwell.hpp"
#include "lcsim/rng/stream.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

std::vector<double> sample(const Dwell& dwell, int n, std::uint64_t seed = 23) {
  Stream rng(seed, 0, 0, Purpose::kPath);
  boost::random::exponential_distribution<double> exp1(1.0);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) out.push_back(dwell.inverse_cumulative_hazard(exp1(rng)));
  return out;
}

double relative(double got, double want) { return std::fabs(got - want) / std::fabs(want); }

const std::vector<double> kDays = {1e-8, 1e-5, 1e-3, 0.1, 0.5, 1.0, 3.0, 10.0, 30.0, 100.0, 400.0};

TEST(CoxianTest, one_phase_is_the_exponential) {
  const Coxian c({0.25}, {1.0});
  for (double d : kDays) {
    EXPECT_LT(relative(c.cumulative_hazard(d), 0.25 * d), 1e-13) << d;
    EXPECT_LT(relative(c.pdf(d), 0.25 * std::exp(-0.25 * d)), 1e-12) << d;
  }
  EXPECT_DOUBLE_EQ(c.mean(), 4.0);
}

TEST(CoxianTest, two_phases_in_a_row_are_the_hypoexponential) {
  const double r1 = 0.5;
  const double r2 = 0.2;
  const Coxian c({r1, r2}, {0.0, 1.0});
  for (double d : kDays) {
    // S(d) = (r2 e^{-r1 d} - r1 e^{-r2 d}) / (r2 - r1); in the far tail log S from the dominant term.
    const double log_s =
        -r2 * d + std::log(r1 / (r1 - r2)) + std::log1p(-(r2 / r1) * std::exp(-(r1 - r2) * d));
    const double f = r1 * r2 / (r1 - r2) * (std::exp(-r2 * d) - std::exp(-r1 * d));
    if (d >= 0.1) {
      EXPECT_LT(relative(-c.at(d).log_survival, -log_s), 1e-12) << d;
    }
    EXPECT_LT(relative(c.pdf(d), f), d < 1e-4 ? 1e-6 : 1e-11)
        << d;  // the reference cancels at tiny d
  }
  EXPECT_NEAR(c.mean(), 1.0 / r1 + 1.0 / r2, 1e-15);
}

TEST(CoxianTest, equal_rates_are_the_erlang_in_both_tails) {
  const Coxian c({0.3, 0.3, 0.3}, {0.0, 0.0, 1.0});
  for (double d : kDays) {
    // F(d) = P(3, 0.3 d) and S(d) = Q(3, 0.3 d): Boost's incomplete gamma, relative in both tails.
    const double cdf = boost::math::gamma_p(3.0, 0.3 * d);
    const double survival = boost::math::gamma_q(3.0, 0.3 * d);
    const double h = -c.at(d).log_survival;
    if (cdf < 0.5) {
      EXPECT_LT(relative(-std::expm1(-h), cdf), 1e-11) << d;  // H ~ (0.3 d)^3 / 6 near 0
    } else {
      EXPECT_LT(relative(h, -std::log(survival)), 1e-12) << d;  // S down to e^-110 at 400 days
    }
    const double x = 0.3 * d;
    EXPECT_LT(relative(c.pdf(d), 0.3 * x * x / 2.0 * std::exp(-x)), 1e-11) << d;
  }
}

TEST(CoxianTest, stiff_rates_keep_both_tails_and_their_tables) {
  // A fitted "some never leave" dwell: rates eight orders apart (the uniformization series this
  // replaced needed ~lambda d terms, 1e7 at the median, and tabulating it took minutes).
  const double r1 = 0.37;
  const double r2 = 3e-8;
  const double p1 = 0.19;
  const Coxian c({r1, r2}, {p1, 1.0});
  // The accuracy the header states: uniformized at lambda = r1, s ~ log2(4 lambda d) squarings
  // double the rounding error each, so F is relative to ~4 lambda d eps and H, in the tail where
  // H ~ r2 d, to ~4 (r1 / r2) eps (lambda - r2 loses r2's low digits); 4x margin on both.
  const double eps = std::numeric_limits<double>::epsilon();
  const double tail_tolerance = 16.0 * r1 / r2 * eps;  // 2.7e-8
  for (double d : {1e-3, 0.1, 1.0, 10.0, 100.0, 1e4, 1e6, 3e7, 1e8, 1e9}) {
    // F = p1 F1 + (1 - p1) F_hypo, F_hypo = (r1 F2 - r2 F1) / (r1 - r2), F_i = 1 - e^{-r_i d};
    // S = e^{-r1 d} + (1 - p1) r1 / (r1 - r2) (e^{-r2 d} - e^{-r1 d}).
    const double f1 = -std::expm1(-r1 * d);
    const double f2 = -std::expm1(-r2 * d);
    const double cdf = p1 * f1 + (1.0 - p1) * (r1 * f2 - r2 * f1) / (r1 - r2);
    const double survival =
        std::exp(-r1 * d) + (1.0 - p1) * r1 / (r1 - r2) * (std::exp(-r2 * d) - std::exp(-r1 * d));
    const double h = -c.at(d).log_survival;
    if (cdf < 0.5) {
      EXPECT_LT(relative(-std::expm1(-h), cdf), std::max(1e-11, 16.0 * r1 * d * eps)) << d;
    } else {
      EXPECT_LT(relative(h, -std::log(survival)), tail_tolerance) << d;
    }
  }
  EXPECT_NEAR(c.mean(), 1.0 / r1 + (1.0 - p1) / r2, 1e-6);
  for (double h = 1e-12; h < 30.0; h *= 3.1) {
    EXPECT_LT(relative(c.cumulative_hazard(c.inverse_cumulative_hazard(h)), h), tail_tolerance)
        << h;
  }
  Dwell exact = Dwell::coxian({r1, r2}, {p1, 1.0});
  Dwell fast = exact;
  fast.tabulate();
  ASSERT_TRUE(fast.has_tables());
  for (double h = 1e-9; h < 20.0; h *= 1.9) {
    EXPECT_LT(relative(fast.inverse_cumulative_hazard(h), exact.inverse_cumulative_hazard(h)),
              tail_tolerance)
        << h;
  }
}

TEST(CoxianTest, the_mean_is_exact_and_matches_the_integral_of_the_survival) {
  const Coxian c({1.0 / 3.0, 0.05, 0.4}, {0.6, 0.3, 1.0});
  const double exact = 3.0 + 0.4 / 0.05 + 0.4 * 0.7 / 0.4;
  EXPECT_NEAR(c.mean(), exact, 1e-12);
  // Simpson's rule on S over [0, 1500] (S(1500) < 1e-30).
  const int n = 300000;
  const double step = 1500.0 / n;
  double sum = 0.0;
  for (int i = 0; i <= n; ++i) {
    const double w = (i == 0 || i == n) ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0);
    sum += w * std::exp(c.at(i * step).log_survival);
  }
  EXPECT_NEAR(sum * step / 3.0, exact, 1e-7);
  Dwell d = Dwell::coxian({1.0 / 3.0, 0.05, 0.4}, {0.6, 0.3, 1.0});
  EXPECT_NEAR(d.mean(), exact, 1e-12);
  EXPECT_EQ(d.family(), DwellFamily::kCoxian);
  EXPECT_STREQ(to_string(d.family()), "coxian");
}

TEST(CoxianTest, inverse_cumulative_hazard_inverts_from_1e_12_to_80) {
  const Coxian c({2.0, 0.1, 0.7, 0.05}, {0.1, 0.5, 0.2, 1.0});
  for (double h = 1e-12; h < 80.0; h *= 1.7) {
    const double d = c.inverse_cumulative_hazard(h);
    EXPECT_LT(relative(c.cumulative_hazard(d), h), 1e-11) << h;
  }
  EXPECT_EQ(c.inverse_cumulative_hazard(0.0), 0.0);
  EXPECT_TRUE(std::isinf(c.inverse_cumulative_hazard(std::numeric_limits<double>::infinity())));
}

TEST(CoxianTest, tables_match_the_exact_hazard_within_1e_9) {
  Dwell exact = Dwell::coxian({0.5, 0.08}, {0.3, 1.0});
  Dwell fast = exact;
  fast.tabulate();
  ASSERT_TRUE(fast.has_tables());
  EXPECT_LT(fast.binade_inverse_range().first, 1e-9);
  EXPECT_GT(fast.binade_inverse_range().second, 40.0);
  double worst = 0.0;
  for (double h = 1e-10; h < 50.0; h *= 1.013) {
    worst = std::max(
        worst, relative(fast.inverse_cumulative_hazard(h), exact.inverse_cumulative_hazard(h)));
  }
  EXPECT_LT(worst, 1e-9);
  worst = 0.0;
  for (double d = 1e-6; d < 500.0; d *= 1.011) {
    worst = std::max(worst, relative(fast.cumulative_hazard(d), exact.cumulative_hazard(d)));
  }
  EXPECT_LT(worst, 1e-9);
}

TEST(CoxianTest, sampled_dwells_pass_ks_and_a_wrong_cdf_fails) {
  Dwell d = Dwell::coxian({0.5, 0.08, 0.3}, {0.3, 0.5, 1.0});
  d.tabulate();
  const Coxian& c = *d.phase_type();
  const auto cdf = [&](double x) { return -std::expm1(c.at(x).log_survival); };
  const std::vector<double> draws = sample(d, 20000);
  EXPECT_GT(test::ks_pvalue(draws, cdf), 1e-3);
  const double mean =
      std::accumulate(draws.begin(), draws.end(), 0.0) / static_cast<double>(draws.size());
  EXPECT_NEAR(mean, c.mean(),
              4.0 * 14.0 / std::sqrt(20000.0));  // sd of this dwell is about 14 days
  const Coxian other({0.5, 0.08, 0.3},
                     {0.35, 0.5, 1.0});  // a 5-point change of one exit probability
  EXPECT_LT(test::ks_pvalue(draws, [&](double x) { return -std::expm1(other.at(x).log_survival); }),
            1e-6);
}

TEST(CoxianTest, bad_parameters_are_rejected) {
  EXPECT_THROW(Coxian({}, {}), std::invalid_argument);
  EXPECT_THROW(Coxian({1, 1, 1, 1, 1}, {0, 0, 0, 0, 1}), std::invalid_argument);
  EXPECT_THROW(Coxian({1, 2}, {1}), std::invalid_argument);
  EXPECT_THROW(Coxian({1, -2}, {0.5, 1}), std::invalid_argument);
  EXPECT_THROW(Coxian({1, 2}, {1.5, 1}), std::invalid_argument);
  EXPECT_THROW(Coxian({1, 2}, {0.5, 0.9}), std::invalid_argument);
  EXPECT_THROW(Dwell::coxian({1, std::nan("")}, {0.5, 1}), std::invalid_argument);
}

}  // namespace
}  // namespace lcsim
