#include "lcsim/model/dwell.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/lognormal.hpp>
#include <boost/math/distributions/weibull.hpp>
#include <boost/random/exponential_distribution.hpp>
#include <cmath>
#include <stdexcept>

#include "lcsim/rng/stream.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

/// Dwells sampled the way the engine does: E ~ Exp(1), d = H^{-1}(E).
std::vector<double> sample(const Dwell& dwell, int n, std::uint64_t seed = 11) {
  Stream rng(seed, 0, 0, Purpose::kPath);
  boost::random::exponential_distribution<double> exp1(1.0);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(dwell.inverse_cumulative_hazard(exp1(rng)));
  return out;
}

constexpr int kN = 20000;
constexpr double kAlpha = 1e-3;  // fixed seeds: a correct sampler passes; a wrong one fails by far

TEST(DwellTest, exponential_passes_ks_against_its_cdf) {
  const Dwell d = Dwell::exponential(7.0);
  EXPECT_GT(test::ks_pvalue(sample(d, kN), [](double x) { return 1.0 - std::exp(-x / 7.0); }),
            kAlpha);
}

TEST(DwellTest, weibull_passes_ks_against_boost) {
  const Dwell d = Dwell::weibull(1.7, 20.0);
  const boost::math::weibull_distribution<> ref(1.7, 20.0);
  EXPECT_GT(test::ks_pvalue(sample(d, kN), [&](double x) { return boost::math::cdf(ref, x); }),
            kAlpha);
}

TEST(DwellTest, lognormal_passes_ks_against_boost) {
  const Dwell d = Dwell::lognormal(2.0, 0.8);
  const boost::math::lognormal_distribution<> ref(2.0, 0.8);
  EXPECT_GT(test::ks_pvalue(sample(d, kN), [&](double x) { return boost::math::cdf(ref, x); }),
            kAlpha);
}

TEST(DwellTest, gamma_passes_ks_against_boost) {
  const Dwell d = Dwell::gamma(2.5, 4.0);
  const boost::math::gamma_distribution<> ref(2.5, 4.0);
  EXPECT_GT(test::ks_pvalue(sample(d, kN), [&](double x) { return boost::math::cdf(ref, x); }),
            kAlpha);
}

TEST(DwellTest, empirical_passes_ks_against_interpolated_cdf) {
  const Dwell d = Dwell::empirical({3.0, 1.0, 10.0, 4.0, 6.0});  // sorted: 1 3 4 6 10
  auto cdf = [](double x) {
    const double v[] = {1.0, 3.0, 4.0, 6.0, 10.0};
    if (x <= v[0]) return 0.0;
    if (x >= v[4]) return 1.0;
    int j = 1;
    while (x >= v[j]) ++j;
    return (j - 1 + (x - v[j - 1]) / (v[j] - v[j - 1])) / 4.0;
  };
  EXPECT_GT(test::ks_pvalue(sample(d, kN), cdf), kAlpha);
  EXPECT_NEAR(d.mean(), (2.0 + 3.5 + 5.0 + 8.0) / 4.0, 1e-12);
}

TEST(DwellTest, ks_detects_a_wrong_distribution) {
  // The test must be able to fail: exponential samples against a different mean.
  const Dwell d = Dwell::exponential(7.0);
  EXPECT_LT(test::ks_pvalue(sample(d, kN), [](double x) { return 1.0 - std::exp(-x / 7.5); }),
            kAlpha);
}

// The engine's tables for lognormal and gamma (tabulate): within 1e-9 relative of the Boost
// quantile (and cdf) over the tabulated range and across it, for shapes that bend the curve most.
const std::vector<Dwell> kTabulated = {Dwell::lognormal(1.5, 0.8), Dwell::lognormal(-2.0, 2.5),
                                       Dwell::gamma(2.0, 6.0), Dwell::gamma(0.3, 40.0),
                                       Dwell::gamma(25.0, 0.5)};

TEST(DwellTest, inverse_tables_match_boost_quantiles_within_1e_9) {
  std::vector<Dwell> all = kTabulated;
  all.insert(all.end(), {Dwell::weibull(1.3, 6.0), Dwell::weibull(0.5, 3.0),
                         Dwell::weibull(4.0, 10.0), Dwell::weibull(0.15, 1.0)});
  for (const Dwell& exact : all) {
    Dwell fast = exact;
    fast.tabulate();
    ASSERT_TRUE(fast.has_tables());
    ASSERT_FALSE(exact.has_tables());
    double worst = 0.0;
    // log-uniform over [1e-11, 100]: both ends of the tables and beyond them
    for (int i = 0; i <= 20000; ++i) {
      const double h =
          std::exp(std::log(1e-11) + (std::log(100.0) - std::log(1e-11)) * i / 20000.0);
      const double want = exact.inverse_cumulative_hazard(h);
      const double got = fast.inverse_cumulative_hazard(h);
      ASSERT_TRUE(std::isfinite(got)) << h;
      worst = std::max(worst, std::fabs(got - want) / want);
    }
    EXPECT_LT(worst, 1e-9) << to_string(exact.family()) << " " << exact.a() << " " << exact.b();
    EXPECT_GT(fast.cumulative_hazard(fast.inverse_cumulative_hazard(0.7)), 0.7 - 1e-9);
  }
  Dwell exponential = Dwell::exponential(3.0);
  exponential.tabulate();  // closed form: no table
  EXPECT_FALSE(exponential.has_tables());
}

// The tables by the bits of the argument (no log, exp or pow) take what the engine asks most: H^{-1}
// of every Exp(1) draw from 2^-34 up to 32 at least (64 where the tolerance holds to the end), H
// over the stay lengths of days to years. The extreme lognormal (sigma 2.5) keeps its tolerance
// in H^{-1} only up to h = 2 and leaves the rest to the log-log table (tested above).
TEST(DwellTest, binade_tables_take_the_bulk_of_the_arguments) {
  const std::pair<Dwell, double> inverse[] = {
      {Dwell::lognormal(1.5, 0.8), 32.0}, {Dwell::gamma(2.0, 6.0), 64.0},
      {Dwell::gamma(0.3, 40.0), 64.0},    {Dwell::weibull(1.3, 6.0), 64.0},
      {Dwell::weibull(0.5, 3.0), 64.0},   {Dwell::lognormal(-2.0, 2.5), 2.0}};
  for (auto [dwell, up_to] : inverse) {
    EXPECT_EQ(dwell.binade_inverse_range(), (std::pair{0.0, 0.0}));
    dwell.tabulate();
    const auto [low, high] = dwell.binade_inverse_range();
    EXPECT_EQ(low, std::ldexp(1.0, -34)) << to_string(dwell.family()) << " " << dwell.a();
    EXPECT_GE(high, up_to) << to_string(dwell.family()) << " " << dwell.a();
  }
  Dwell ln = Dwell::lognormal(1.5, 0.8);
  ln.tabulate();
  EXPECT_LE(ln.binade_forward_range().first, 0.25);
  EXPECT_GE(ln.binade_forward_range().second, 10000.0);
  Dwell ga = Dwell::gamma(2.0, 6.0);
  ga.tabulate();
  EXPECT_LE(ga.binade_forward_range().first, 0.01);
  EXPECT_GE(ga.binade_forward_range().second, 256.0);
  Dwell wb = Dwell::weibull(1.3, 6.0);
  wb.tabulate();
  EXPECT_EQ(wb.binade_forward_range(), (std::pair{0.0, 0.0}));  // H in closed form
}

// The forward table (H for a stay's hazard clock when a touchpoint changes the factor): within
// 1e-9 relative of Boost's cdf-based H over d from far below the table (H = 1e-12) to far above it
// (H = 200), and the exact H is itself accurate for tiny H (log1p of the cdf, not log of 1 - cdf).
TEST(DwellTest, forward_tables_match_boost_cumulative_hazard_within_1e_9) {
  for (const Dwell& exact : kTabulated) {
    Dwell fast = exact;
    fast.tabulate();
    const double d_lo = exact.inverse_cumulative_hazard(1e-12);
    const double d_hi = exact.inverse_cumulative_hazard(200.0);
    double worst = 0.0;
    for (int i = 0; i <= 20000; ++i) {
      const double d = std::exp(std::log(d_lo) + (std::log(d_hi) - std::log(d_lo)) * i / 20000.0);
      const double want = exact.cumulative_hazard(d);
      const double got = fast.cumulative_hazard(d);
      ASSERT_TRUE(std::isfinite(got) && got > 0.0) << d;
      worst = std::max(worst, std::fabs(got - want) / want);
    }
    EXPECT_LT(worst, 1e-9) << to_string(exact.family()) << " " << exact.a() << " " << exact.b();
    EXPECT_NEAR(exact.cumulative_hazard(d_lo), 1e-12, 1e-18) << to_string(exact.family());
    EXPECT_EQ(fast.cumulative_hazard(0.0), 0.0);
  }
}

TEST(DwellTest, tabulated_samplers_pass_ks_against_boost) {
  Dwell ln = Dwell::lognormal(1.5, 0.8);
  ln.tabulate();
  const boost::math::lognormal_distribution<> ln_ref(1.5, 0.8);
  EXPECT_GT(test::ks_pvalue(sample(ln, kN), [&](double x) { return boost::math::cdf(ln_ref, x); }),
            kAlpha);
  Dwell ga = Dwell::gamma(2.0, 6.0);
  ga.tabulate();
  const boost::math::gamma_distribution<> ga_ref(2.0, 6.0);
  EXPECT_GT(test::ks_pvalue(sample(ga, kN), [&](double x) { return boost::math::cdf(ga_ref, x); }),
            kAlpha);
  Dwell wb = Dwell::weibull(1.3, 6.0);
  wb.tabulate();
  const boost::math::weibull_distribution<> wb_ref(1.3, 6.0);
  EXPECT_GT(test::ks_pvalue(sample(wb, kN), [&](double x) { return boost::math::cdf(wb_ref, x); }),
            kAlpha);
}

TEST(DwellTest, fixed_is_always_its_days) {
  const Dwell d = Dwell::fixed(4.5);
  for (double x : sample(d, 100)) EXPECT_EQ(x, 4.5);
  EXPECT_EQ(d.inverse_cumulative_hazard(123.0), 4.5);
  EXPECT_EQ(d.cdf(4.4), 0.0);
  EXPECT_EQ(d.cdf(4.5), 1.0);
}

TEST(DwellTest, cumulative_hazard_inverts) {
  const std::vector<Dwell> all = {Dwell::exponential(3.0), Dwell::weibull(0.7, 5.0),
                                  Dwell::lognormal(1.0, 0.5), Dwell::gamma(3.0, 2.0),
                                  Dwell::empirical({1.0, 2.0, 8.0})};
  for (const auto& d : all) {
    for (double h : {0.01, 0.3, 1.0, 2.5, 6.0}) {
      const double x = d.inverse_cumulative_hazard(h);
      EXPECT_NEAR(d.cumulative_hazard(x), h, 1e-8 * std::max(1.0, h)) << to_string(d.family());
    }
  }
}

TEST(DwellTest, means_and_medians_match_closed_forms) {
  EXPECT_NEAR(Dwell::exponential(7.0).median(), 7.0 * std::log(2.0), 1e-12);
  EXPECT_NEAR(Dwell::weibull(2.0, 10.0).mean(), 10.0 * std::tgamma(1.5), 1e-12);
  EXPECT_NEAR(Dwell::lognormal(1.0, 0.5).median(), std::exp(1.0), 1e-9);
  EXPECT_NEAR(Dwell::gamma(3.0, 2.0).mean(), 6.0, 1e-12);
}

TEST(DwellTest, factories_reject_out_of_domain_parameters) {
  EXPECT_THROW(Dwell::exponential(0.0), std::invalid_argument);
  EXPECT_THROW(Dwell::weibull(-1.0, 2.0), std::invalid_argument);
  EXPECT_THROW(Dwell::lognormal(std::nan(""), 1.0), std::invalid_argument);
  EXPECT_THROW(Dwell::gamma(1.0, INFINITY), std::invalid_argument);
  EXPECT_THROW(Dwell::fixed(-1.0), std::invalid_argument);
  EXPECT_THROW(Dwell::empirical({1.0}), std::invalid_argument);
}

}  // namespace
}  // namespace lcsim
