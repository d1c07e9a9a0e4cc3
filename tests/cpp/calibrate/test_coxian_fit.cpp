// The two-phase Coxian in the exact-time dwell fit: its closed-form log survival and density against
// Coxian::at, recovery of a known Coxian with censoring, the AIC choice, and what an exponential
// truth gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "lcsim/calibrate/dwell_fit.hpp"
#include "lcsim/model/coxian.hpp"

namespace lcsim {
namespace {

double u01(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; }

TEST(CoxianDwellFit, closed_form_matches_the_general_phase_type_computation) {
  for (const auto& [r1, r2] :
       {std::pair{0.5, 0.02}, std::pair{0.1, 0.1}, std::pair{0.1, 0.1 + 1e-10},
        std::pair{0.03, 0.3}, std::pair{2.0, 1.999}}) {
    for (const double p1 : {0.0, 0.3, 0.99}) {
      const Coxian c({r1, r2}, {p1, 1.0});
      for (double d = 1e-6; d < 3000.0; d *= 1.7) {
        const auto [log_s, log_f] = coxian2_log(r1, r2, p1, d);
        const Coxian::LogSurvival want = c.at(d);
        EXPECT_NEAR(log_s, want.log_survival, 1e-10 * std::max(1.0, std::abs(want.log_survival)))
            << r1 << " " << r2 << " " << p1 << " d " << d;
        EXPECT_NEAR(log_f, want.log_density, 1e-9 * std::max(1.0, std::abs(want.log_density)))
            << r1 << " " << r2 << " " << p1 << " d " << d;
      }
    }
  }
}

TEST(CoxianDwellFit, the_fits_one_sided_term_is_bit_for_bit_the_matching_half_of_the_gradient) {
  // The fit's pass computes only log S (censored) or log f (ended) and their gradients, with one
  // exp: the estimates stay what coxian2_log_gradient gave, so every bit must agree.
  const auto bits = [](double x) {
    std::uint64_t u = 0;
    std::memcpy(&u, &x, sizeof x);
    return u;
  };
  std::mt19937_64 rng(35);
  std::size_t checked = 0;
  for (const auto& [r1, r2] :
       {std::pair{0.5, 0.02}, std::pair{0.1, 0.1}, std::pair{0.1, 0.1 + 1e-7}, std::pair{0.03, 0.3},
        std::pair{2.0, 1.99}, std::pair{0.2, 0.2004}, std::pair{7.0, 1e-3}, std::pair{1e-3, 7.0}}) {
    for (const double p1 : {1e-6, 0.01, 0.3, 0.99}) {
      for (int k = 0; k < 400; ++k) {
        const double d = std::exp(-12.0 + 20.0 * u01(rng));  // 6e-6 to 3e3 days
        std::array<double, 3> gs{};
        std::array<double, 3> gf{};
        const auto [log_s, log_f] = coxian2_log_gradient(r1, r2, p1, d, gs, gf);
        for (const bool censored : {true, false}) {
          std::array<double, 3> g{};
          const double v = coxian2_term_gradient(r1, r2, p1, d, censored, g);
          const double want = censored ? log_s : log_f;
          const std::array<double, 3>& want_g = censored ? gs : gf;
          ASSERT_EQ(bits(v), bits(want))
              << r1 << " " << r2 << " " << p1 << " " << d << " " << censored;
          for (std::size_t j = 0; j < 3; ++j) {
            ASSERT_EQ(bits(g[j]), bits(want_g[j]))
                << j << ": " << r1 << " " << r2 << " " << p1 << " " << d;
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 8U * 4U * 400U * 2U);
}

TEST(CoxianDwellFit, analytic_gradient_matches_the_closed_form_and_its_differences) {
  for (const auto& [r1, r2] :
       {std::pair{0.5, 0.02}, std::pair{0.1, 0.1}, std::pair{0.1, 0.1 + 1e-7}, std::pair{0.03, 0.3},
        std::pair{2.0, 1.99}, std::pair{0.2, 0.2004}}) {
    for (const double p1 : {0.01, 0.3, 0.99}) {
      for (double d = 1e-4; d < 3000.0; d *= 2.3) {
        std::array<double, 3> gs{};
        std::array<double, 3> gf{};
        const auto [log_s, log_f] = coxian2_log_gradient(r1, r2, p1, d, gs, gf);
        const auto [want_s, want_f] = coxian2_log(r1, r2, p1, d);
        EXPECT_NEAR(log_s, want_s, 1e-10 * std::max(1.0, std::abs(want_s)))
            << r1 << " " << r2 << " " << p1 << " " << d;
        EXPECT_NEAR(log_f, want_f, 1e-9 * std::max(1.0, std::abs(want_f)))
            << r1 << " " << r2 << " " << p1 << " " << d;
        // Central differences in (log r1, log r2, logit p1).
        const double h = 1e-5;
        const double l1 = std::log(r1), l2 = std::log(r2), lp = std::log(p1 / (1.0 - p1));
        const auto at = [&](double a, double b, double c) {
          return coxian2_log(std::exp(a), std::exp(b), 1.0 / (1.0 + std::exp(-c)), d);
        };
        const std::array<std::pair<std::pair<double, double>, std::pair<double, double>>, 3> diffs =
            {std::pair{at(l1 + h, l2, lp), at(l1 - h, l2, lp)},
             std::pair{at(l1, l2 + h, lp), at(l1, l2 - h, lp)},
             std::pair{at(l1, l2, lp + h), at(l1, l2, lp - h)}};
        for (std::size_t k = 0; k < 3; ++k) {
          const double ds = (diffs[k].first.first - diffs[k].second.first) / (2.0 * h);
          const double df = (diffs[k].first.second - diffs[k].second.second) / (2.0 * h);
          const double scale = 1.0 + std::abs(want_s) + std::abs(want_f);
          EXPECT_NEAR(gs[k], ds, 1e-5 * scale)
              << "dlogS/dphi" << k << " r " << r1 << " " << r2 << " p " << p1 << " d " << d;
          EXPECT_NEAR(gf[k], df, 1e-5 * scale)
              << "dlogf/dphi" << k << " r " << r1 << " " << r2 << " p " << p1 << " d " << d;
        }
      }
    }
  }
}

/// The default families and the coxian.
DwellFitOptions with_coxian() {
  DwellFitOptions o;
  o.families = {DwellFamily::kExponential, DwellFamily::kWeibull, DwellFamily::kLognormal,
                DwellFamily::kGamma, DwellFamily::kCoxian};
  return o;
}

/// n stays from a Coxian-2, those longer than `censor` censored there.
void sample(double r1, double r2, double p1, int n, double censor, std::uint64_t seed,
            std::vector<double>& d, std::vector<bool>& open) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < n; ++i) {
    double x = -std::log(u01(rng)) / r1;
    if (u01(rng) >= p1) x += -std::log(u01(rng)) / r2;
    open.push_back(x > censor);
    d.push_back(std::min(x, censor));
  }
}

TEST(CoxianDwellFit, recovers_a_coxian_with_censoring_and_aic_chooses_it) {
  std::vector<double> d;
  std::vector<bool> open;
  sample(0.5, 0.02, 0.6, 4000, 150.0, 7, d, open);
  const DwellComparison all = fit_dwell_all(d, open, with_coxian());
  const DwellFit* cox = all.fit(DwellFamily::kCoxian);
  ASSERT_NE(cox, nullptr);
  ASSERT_TRUE(cox->fitted) << cox->reason;
  EXPECT_TRUE(cox->reason.empty()) << cox->reason;
  const double truth[] = {0.5, 0.02, 0.6};
  const char* names[] = {"rates[0]", "rates[1]", "exit[0]"};
  for (int i = 0; i < 3; ++i) {
    const DwellParameter* p = cox->param(names[i]);
    ASSERT_NE(p, nullptr) << names[i];
    EXPECT_LE(p->ci_low, truth[i]) << names[i] << " = " << p->estimate;
    EXPECT_GE(p->ci_high, truth[i]) << names[i] << " = " << p->estimate;
  }
  ASSERT_NE(all.best(), nullptr);
  EXPECT_EQ(all.best()->family, DwellFamily::kCoxian);
  // As a scenario dwell: dist coxian with the fitted rates and exits, whose mean is exact.
  const DwellSpec spec = cox->spec();
  EXPECT_EQ(spec.dist, "coxian");
  ASSERT_EQ(spec.rates.size(), 2U);
  EXPECT_EQ(spec.exit.back(), 1.0);
  const Dwell dwell = cox->dwell();
  ASSERT_NE(dwell.phase_type(), nullptr);
  EXPECT_NEAR(dwell.phase_type()->mean(), 0.6 / 0.5 + 0.4 * (1 / 0.5 + 1 / 0.02), 2.0);
}

TEST(CoxianDwellFit, an_exponential_truth_is_not_taken_for_a_coxian) {
  int chosen = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    std::vector<double> d;
    std::vector<bool> open;
    sample(0.05, 0.05, 1.0, 1500, 1e9, seed, d, open);  // p1 = 1: exponential, mean 20
    const DwellComparison all = fit_dwell_all(d, open, with_coxian());
    ASSERT_NE(all.best(), nullptr);
    chosen += all.best()->family == DwellFamily::kCoxian ? 1 : 0;
    const DwellFit* cox = all.fit(DwellFamily::kCoxian);
    ASSERT_NE(cox, nullptr);
    // Either no interior maximum (said in words) or no better than the exponential by more than
    // its two extra parameters.
    if (cox->fitted) {
      EXPECT_LT(cox->loglik - all.fit(DwellFamily::kExponential)->loglik, 8.0);
    } else {
      EXPECT_FALSE(cox->reason.empty());
    }
  }
  EXPECT_LE(chosen, 1);
}

TEST(CoxianDwellFit, customers_who_never_leave_are_not_taken_for_a_slow_phase) {
  // 30% of the stays never end (rate 1e-12) and every stay is censored at a year: the second
  // rate's likelihood keeps growing towards 0 (its bound), which compiled into a scenario took
  // minutes to tabulate. Not fitted, said in words; the families with a maximum still are.
  std::vector<double> d;
  std::vector<bool> open;
  sample(0.05, 1e-12, 0.7, 3000, 365.0, 11, d, open);
  const DwellComparison all = fit_dwell_all(d, open, with_coxian());
  const DwellFit* cox = all.fit(DwellFamily::kCoxian);
  ASSERT_NE(cox, nullptr);
  EXPECT_FALSE(cox->fitted);
  EXPECT_NE(cox->reason.find("phase 2's rate went to its bound"), std::string::npos) << cox->reason;
  ASSERT_NE(all.best(), nullptr);
  EXPECT_NE(all.best()->family, DwellFamily::kCoxian);
}

TEST(CoxianDwellFit, too_few_distinct_stays_are_not_fitted) {
  const DwellFit fit =
      fit_dwell(DwellFamily::kCoxian, {1.0, 2.0, 2.0, 1.0}, {false, false, false, false});
  EXPECT_FALSE(fit.fitted);
  EXPECT_NE(fit.reason.find("three distinct"), std::string::npos) << fit.reason;
}

}  // namespace
}  // namespace lcsim
