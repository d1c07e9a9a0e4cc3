#include "lcsim/calibrate/touchpoint_lift.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lcsim/calibrate/history.hpp"
#include "lcsim/core/error.hpp"

namespace lcsim {
namespace {

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

/// Stays whose exit hazard is h0(t) (Weibull: (t/scale)^shape cumulative; shape 1: exponential)
/// multiplied by k for `window` days after a contact at a uniform time in [0, contact_max) after
/// entry; the contact happens only if the stay is still open then. Stays are censored `censor`
/// days after entry.
struct LiftSim {
  double k = 1.5;
  double shape = 1.0;
  double scale = 20.0;
  double p_contact = 0.6;
  double contact_max = 40.0;
  double window = 7.0;
  double censor = 120.0;
  int stays = 4000;
};

struct Simulated {
  std::vector<Stay> stays;
  std::vector<TouchpointContact> contacts;
};

Simulated simulate(std::uint64_t seed, const LiftSim& sim) {
  std::mt19937_64 rng(seed);
  const auto cumulative = [&](double t) { return std::pow(t / sim.scale, sim.shape); };
  const auto inverse = [&](double h) { return sim.scale * std::pow(h, 1.0 / sim.shape); };
  Simulated out;
  for (int i = 0; i < sim.stays; ++i) {
    const double entry = 200.0 * uniform01(rng);
    const double e = -std::log1p(-uniform01(rng));
    const bool contacted = uniform01(rng) < sim.p_contact;
    const double c = sim.contact_max * uniform01(rng);
    double t = 0.0;
    if (!contacted || e <= cumulative(c)) {
      t = inverse(e);
    } else {
      const double hc = cumulative(c);
      const double hw = cumulative(c + sim.window);
      t = hc + sim.k * (hw - hc) >= e ? inverse(hc + (e - hc) / sim.k)
                                      : inverse(e - (sim.k - 1.0) * (hw - hc));
    }
    Stay stay;
    stay.customer = std::to_string(i);
    stay.customer.insert(stay.customer.begin(), 'c');
    stay.stage = "lead";
    stay.entry = entry;
    stay.ended = t < sim.censor;
    stay.exit = entry + std::min(t, sim.censor);
    stay.to = stay.ended ? "mql" : "";
    if (contacted && c < std::min(t, sim.censor)) {
      out.contacts.push_back(TouchpointContact{stay.customer, entry + c, "webinar", 0});
    }
    out.stays.push_back(std::move(stay));
  }
  return out;
}

LiftOptions webinar_options(LiftExposure exposure = LiftExposure::kWindow) {
  LiftOptions options;
  options.touchpoint = "webinar";
  options.stage = "lead";
  options.window = 7.0;
  options.exposure = exposure;
  return options;
}

bool covers(const TouchpointLift& fit, double k) { return fit.ci_low <= k && k <= fit.ci_high; }

TEST(TouchpointLiftTest, interval_covers_factor_with_exponential_baseline) {
  const Simulated data = simulate(42, LiftSim{});
  const TouchpointLift fit = fit_touchpoint_lift(data.stays, data.contacts, webinar_options());
  ASSERT_TRUE(fit.converged) << fit.note;
  EXPECT_TRUE(covers(fit, 1.5)) << fit.factor << " [" << fit.ci_low << ", " << fit.ci_high << "]";
  EXPECT_GT(fit.n_events_exposed, 200U);
  EXPECT_EQ(fit.n_stays, 4000U);
  EXPECT_LT(fit.se_log_factor, 0.1);
  EXPECT_NEAR(fit.factor, std::exp(fit.log_factor), 1e-12);
  EXPECT_NEAR(fit.ci_low, std::exp(fit.log_factor - 1.959963984540054 * fit.se_log_factor), 1e-9);
  EXPECT_GT(fit.partial_loglik, fit.partial_loglik_null);
  EXPECT_EQ(fit.row.parameter, "touchpoints.webinar.effect.hazard_factor");
  EXPECT_EQ(fit.row.estimate, fit.factor);
  EXPECT_EQ(fit.row.n, fit.n_exposed_stays);
}

TEST(TouchpointLiftTest, interval_covers_factor_with_weibull_baseline) {
  LiftSim sim;
  sim.shape = 1.6;
  sim.scale = 25.0;
  const Simulated data = simulate(43, sim);
  const TouchpointLift fit = fit_touchpoint_lift(data.stays, data.contacts, webinar_options());
  ASSERT_TRUE(fit.converged) << fit.note;
  EXPECT_TRUE(covers(fit, 1.5)) << fit.factor << " [" << fit.ci_low << ", " << fit.ci_high << "]";
  EXPECT_FALSE(covers(fit, 1.0));
}

TEST(TouchpointLiftTest, interval_covers_one_without_an_effect) {
  LiftSim sim;
  sim.k = 1.0;
  for (const double shape : {1.0, 0.7}) {
    sim.shape = shape;
    const Simulated data = simulate(44, sim);
    const TouchpointLift fit = fit_touchpoint_lift(data.stays, data.contacts, webinar_options());
    ASSERT_TRUE(fit.converged) << fit.note;
    EXPECT_TRUE(covers(fit, 1.0)) << "shape " << shape << ": " << fit.factor << " [" << fit.ci_low
                                  << ", " << fit.ci_high << "]";
  }
}

TEST(TouchpointLiftTest, whole_stay_exposure_is_biased) {
  // Treating a contacted stay as exposed from entry counts the time before the contact, which a
  // contacted stay survives by construction, as exposed: the factor is pushed far below k.
  const Simulated data = simulate(45, LiftSim{});
  const TouchpointLift right = fit_touchpoint_lift(data.stays, data.contacts, webinar_options());
  const TouchpointLift naive =
      fit_touchpoint_lift(data.stays, data.contacts, webinar_options(LiftExposure::kWholeStay));
  ASSERT_TRUE(right.converged);
  ASSERT_TRUE(naive.converged);
  EXPECT_TRUE(covers(right, 1.5));
  EXPECT_FALSE(covers(naive, 1.5));
  EXPECT_LT(naive.ci_high, 1.0);  // the naive analysis even reports a harmful touchpoint
  EXPECT_GT(std::abs(naive.log_factor - std::log(1.5)), 5.0 * naive.se_log_factor);
  EXPECT_EQ(naive.n_exposed_stays, right.n_exposed_stays);
  EXPECT_GT(naive.days_exposed, right.days_exposed);
}

TEST(TouchpointLiftTest, interval_coverage_over_seeds) {
  LiftSim sim;
  sim.stays = 1500;
  sim.shape = 1.3;
  int covered = 0;
  const int runs = 40;
  for (int seed = 0; seed < runs; ++seed) {
    const Simulated data = simulate(500 + static_cast<std::uint64_t>(seed), sim);
    const TouchpointLift fit = fit_touchpoint_lift(data.stays, data.contacts, webinar_options());
    ASSERT_TRUE(fit.converged) << fit.note;
    if (covers(fit, 1.5)) ++covered;
  }
  EXPECT_GE(covered, 34);  // 85%
}

TEST(TouchpointLiftTest, partial_likelihood_matches_a_hand_computation) {
  // A exposed throughout, exits at 10; B unexposed, exits at 5; C unexposed, exits at 20;
  // D exposed, censored at 15. Exits: t=5 (n0=2, n1=2, unexposed), t=10 (n0=1, n1=2, exposed),
  // t=20 (n0=1, n1=0). Score 1/(1+y) - 2y/(1+2y) = 0 gives y = exp(beta) = 1/sqrt(2).
  const std::vector<Stay> stays = {{"A", "lead", 0.0, 10.0, true, "mql"},
                                   {"B", "lead", 0.0, 5.0, true, "mql"},
                                   {"C", "lead", 0.0, 20.0, true, "mql"},
                                   {"D", "lead", 0.0, 15.0, false, ""}};
  const std::vector<TouchpointContact> contacts = {{"A", 0.0, "webinar", 0},
                                                   {"D", 0.0, "webinar", 0}};
  LiftOptions options = webinar_options();
  options.window = 100.0;
  const TouchpointLift fit = fit_touchpoint_lift(stays, contacts, options);
  ASSERT_TRUE(fit.converged) << fit.note;
  const double y = 1.0 / std::sqrt(2.0);
  EXPECT_NEAR(fit.factor, y, 1e-10);
  const double information =
      y / ((1.0 + y) * (1.0 + y)) + 2.0 * y / ((1.0 + 2.0 * y) * (1.0 + 2.0 * y));
  EXPECT_NEAR(fit.se_log_factor, 1.0 / std::sqrt(information), 1e-10);
  EXPECT_NEAR(fit.partial_loglik, std::log(y) - std::log(2.0 + 2.0 * y) - std::log(1.0 + 2.0 * y),
              1e-12);
  EXPECT_EQ(fit.n_events, 3U);
  EXPECT_EQ(fit.n_events_exposed, 1U);
  EXPECT_EQ(fit.n_exposed_stays, 2U);
  EXPECT_DOUBLE_EQ(fit.days_exposed, 25.0);
  EXPECT_DOUBLE_EQ(fit.days_at_risk, 50.0);
}

TEST(TouchpointLiftTest, overlapping_windows_merge_and_foreign_contacts_are_ignored) {
  const std::vector<Stay> stays = {{"a", "lead", 100.0, 120.0, true, "mql"},
                                   {"a", "mql", 120.0, 130.0, true, "sql"},
                                   {"b", "lead", 100.0, 140.0, false, ""}};
  const std::vector<TouchpointContact> contacts = {
      {"a", 102.0, "webinar", 2}, {"a", 105.0, "webinar", 3}, {"a", 90.0, "webinar", 4},
      {"a", 125.0, "webinar", 5}, {"a", 103.0, "email", 6},   {"z", 101.0, "webinar", 7}};
  TouchpointLift fit = fit_touchpoint_lift(stays, contacts, webinar_options());
  EXPECT_EQ(fit.n_contacts, 5U);
  EXPECT_EQ(fit.n_contacts_in_stays, 2U);
  EXPECT_EQ(fit.n_stays, 2U);
  EXPECT_EQ(fit.n_exposed_stays, 1U);
  EXPECT_DOUBLE_EQ(fit.days_exposed, 10.0);  // [102, 112) as the union of [102, 109), [105, 112)
  EXPECT_EQ(fit.n_events, 1U);
  EXPECT_EQ(fit.n_events_exposed, 0U);
  EXPECT_FALSE(fit.converged);
  EXPECT_NE(fit.note.find("no exit while exposed"), std::string::npos);
  EXPECT_TRUE(std::isnan(fit.factor));

  fit = fit_touchpoint_lift(stays, contacts, webinar_options(LiftExposure::kWholeStay));
  EXPECT_DOUBLE_EQ(fit.days_exposed, 20.0);
  EXPECT_EQ(fit.n_events_exposed, 1U);
}

// ---- from CSV logs ------------------------------------------------------------------------------

EventLog events() {
  std::istringstream in(
      "customer_id,timestamp,stage\n"
      "a,2026-01-05,lead\n"
      "a,2026-01-15,mql\n"
      "b,2026-01-05,lead\n"
      "b,2026-01-25,lost\n"
      "c,2026-01-06,lead\n"
      "d,2026-01-05,lead\n"
      "d,2026-01-08,mql\n");
  LogOptions options;
  options.absorbing = {"lost"};
  return parse_event_log(in, "events.csv", options);
}

TouchpointLog contacts(const EventLog& log, const std::string& text,
                       const TouchpointLogOptions& options = {}) {
  std::istringstream in(text);
  return parse_touchpoint_log(in, "contacts.csv", log, options);
}

TEST(TouchpointLiftTest, from_logs_with_a_target_stage) {
  const EventLog log = events();
  const TouchpointLog tp = contacts(log,
                                    "customer_id,timestamp,touchpoint\n"  // 1
                                    "a,2026-01-10,email\n"                // 2
                                    "b,2026-01-06,email\n"                // 3
                                    "x,2026-01-07,email\n"                // 4 unknown customer
                                    "c,2026-02-01T10:00,webinar\n");      // 5 after censor_at
  EXPECT_EQ(tp.rows, 4U);
  EXPECT_EQ(tp.contacts.size(), 4U);
  EXPECT_EQ(tp.touchpoints, (std::vector<std::string>{"email", "webinar"}));
  ASSERT_EQ(tp.warnings.size(), 2U);
  EXPECT_EQ(tp.warnings[0].line, 4);
  EXPECT_EQ(tp.warnings[1].line, 5);
  EXPECT_DOUBLE_EQ(tp.contacts[0].time, 5.0);  // the log's epoch is Monday 2026-01-05

  LiftOptions options;
  options.touchpoint = "email";
  options.stage = "lead";
  options.to = "mql";
  options.window = 7.0;
  const TouchpointLift fit = fit_touchpoint_lift(log, tp, options);
  // lead stays: a [0, 10] -> mql, exposed [5, 10]; b [0, 20] -> lost (censored for mql), exposed
  // [1, 8]; c [1, 20] open; d [0, 3] -> mql. Exits: t=3 (n0=3, n1=1), t=10 (n0=2, n1=1, exposed).
  // Score -y/(3+y) + 1 - y/(2+y) = 0 gives y^2 = 6.
  ASSERT_TRUE(fit.converged) << fit.note;
  EXPECT_NEAR(fit.factor, std::sqrt(6.0), 1e-9);
  EXPECT_EQ(fit.n_stays, 4U);
  EXPECT_EQ(fit.n_events, 2U);
  EXPECT_EQ(fit.n_events_exposed, 1U);
  EXPECT_EQ(fit.n_exposed_stays, 2U);
  EXPECT_DOUBLE_EQ(fit.days_exposed, 12.0);
  EXPECT_EQ(fit.n_contacts, 3U);
  EXPECT_EQ(fit.n_contacts_in_stays, 2U);

  const std::vector<Stay> stays = stays_of(log);
  ASSERT_EQ(stays.size(), 6U);  // a: lead, mql(open); b: lead; c: lead(open); d: lead, mql(open)
  EXPECT_TRUE(stays[0].ended);
  EXPECT_EQ(stays[0].to, "mql");
  EXPECT_FALSE(stays[1].ended);
  EXPECT_DOUBLE_EQ(stays[1].exit, log.censor_at);
}

TEST(TouchpointLiftTest, option_errors_name_the_field) {
  const EventLog log = events();
  const TouchpointLog tp = contacts(log, "customer_id,timestamp,touchpoint\na,2026-01-10,email\n");
  LiftOptions options;
  options.touchpoint = "emial";
  options.stage = "leed";
  options.to = "mql";
  options.window = 7.0;
  try {
    (void)fit_touchpoint_lift(log, tp, options);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    ASSERT_EQ(e.problems().size(), 2U);
    EXPECT_EQ(e.problems()[0].field, "stage");
    EXPECT_EQ(e.problems()[0].file, "events.csv");
    EXPECT_NE(e.problems()[0].message.find("did you mean 'lead'"), std::string::npos);
    EXPECT_EQ(e.problems()[1].field, "touchpoint");
    EXPECT_NE(e.problems()[1].message.find("did you mean 'email'"), std::string::npos);
  }
  options = webinar_options();
  options.window = 0.0;
  try {
    (void)fit_touchpoint_lift(std::vector<Stay>{}, std::vector<TouchpointContact>{}, options);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "window");
    EXPECT_NE(std::string(e.what()).find("expected a positive, finite number of days, got 0"),
              std::string::npos);
  }
  options.window = 7.0;
  options.level = 0.0;
  EXPECT_THROW(
      (void)fit_touchpoint_lift(std::vector<Stay>{}, std::vector<TouchpointContact>{}, options),
      InputError);
  // No data: not converged, with a note.
  options.level = 0.95;
  const TouchpointLift empty =
      fit_touchpoint_lift(std::vector<Stay>{}, std::vector<TouchpointContact>{}, options);
  EXPECT_FALSE(empty.converged);
  EXPECT_NE(empty.note.find("no exit"), std::string::npos);
}

TEST(TouchpointLogTest, bad_rows_name_line_column_and_value) {
  const EventLog log = events();
  TouchpointLogOptions options;
  options.touchpoints = {"email", "webinar"};
  try {
    (void)contacts(log,
                   "customer_id,timestamp,touchpoint\n"  // 1
                   "a,2026-01-32,email\n"                // 2 bad date
                   "a,2026-01-10,\n"                     // 3 empty touchpoint
                   "a,2026-01-10,webnar\n"               // 4 unknown touchpoint
                   ",2026-01-10,email\n"                 // 5 empty id
                   "a,2026-01-10\n",                     // 6 wrong field count
                   options);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    const auto& p = e.problems();
    ASSERT_EQ(p.size(), 5U);
    EXPECT_EQ(p[0].line, 2);
    EXPECT_EQ(p[0].field, "timestamp");
    EXPECT_NE(p[0].message.find("'2026-01-32'"), std::string::npos);
    EXPECT_EQ(p[1].line, 3);
    EXPECT_EQ(p[1].field, "touchpoint");
    EXPECT_EQ(p[2].line, 4);
    EXPECT_NE(p[2].message.find("did you mean 'webinar'"), std::string::npos);
    EXPECT_EQ(p[3].field, "customer_id");
    EXPECT_EQ(p[4].line, 6);
  }
  EXPECT_THROW((void)contacts(log, "customer_id,time,touchpoint\na,2026-01-10,email\n"),
               InputError);
  EXPECT_THROW((void)contacts(log, ""), InputError);
  EXPECT_THROW((void)read_touchpoint_log("/nonexistent/contacts.csv", log), IoError);
}

}  // namespace
}  // namespace lcsim
