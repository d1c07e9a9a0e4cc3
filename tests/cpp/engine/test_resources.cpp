// Resources (teams with limited capacity) and referrals against queueing theory and branching
// processes: Erlang C, Erlang A, Little's law, Cobham's priority formula, wait-decayed outcomes,
// staffing calendars, hand-off delays, referral growth; determinism and common random numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/engine/engine.hpp"
#include "lcsim/run/run.hpp"
#include "support/builders.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

double metric(const Model& model, const ReplicationResult& r, const std::string& name) {
  const auto names = metric_names(model.stage_names, model.resource_names);
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw std::out_of_range("no metric " + name);
  return r.metrics[static_cast<std::size_t>(it - names.begin())];
}

/// Mean and SE over replications 0..reps-1 of one metric.
test::MeanSe over_replications(const Model& model, int reps, const std::string& name) {
  std::vector<double> x;
  for (int r = 0; r < reps; ++r) x.push_back(metric(model, Engine(model).simulate(r), name));
  return test::mean_se(x);
}

/// Erlang C: probability that an arrival waits in M/M/c with offered load a = lambda / mu.
double erlang_c(int c, double a) {
  double term = 1.0;  // a^k / k!
  double sum = 1.0;
  for (int k = 1; k < c; ++k) {
    term *= a / k;
    sum += term;
  }
  term *= a / c;  // a^c / c!
  const double rho = a / c;
  const double top = term / (1.0 - rho);
  return top / (sum + top);
}

/// Stationary distribution of the M/M/c+M (Erlang A) birth-death chain, truncated far out.
std::vector<double> erlang_a_states(double lambda, double mu, int c, double theta) {
  std::vector<double> p = {1.0};
  for (int n = 1; n < 2000; ++n) {
    const double death = std::min(n, c) * mu + std::max(n - c, 0) * theta;
    p.push_back(p.back() * lambda / death);
  }
  double total = 0.0;
  for (double x : p) total += x;
  for (double& x : p) x /= total;
  return p;
}

std::string queue_scenario(double lambda, int servers, const std::string& extra,
                           double horizon = 3000) {
  return R"(
name: mmc
horizon: )" +
         std::to_string(horizon) + R"(
report_every: 100
seed: 11
won: done
stages:
  waiting: {next: {done: 1.0}}
  done: {absorbing: true}
  gaveup: {absorbing: true}
arrivals:
  streams: [{stage: waiting, rate_per_day: )" +
         std::to_string(lambda) + R"(}]
resources:
  team:
    servers: )" +
         std::to_string(servers) + R"(
    serves: [waiting]
    service: {dist: exponential, mean: 1.0}
)" + extra;
}

TEST(ResourceQueueingTest, mmc_reproduces_erlang_c) {
  const double lambda = 8.0;
  const int c = 10;
  const Model model = test::model_from_yaml(queue_scenario(lambda, c, ""));
  const int reps = 20;
  const double pw = erlang_c(c, lambda);
  const double wq = pw / (c * 1.0 - lambda);
  const auto util = over_replications(model, reps, "resource.team.utilisation");
  const auto waited = over_replications(model, reps, "resource.team.waited");
  const auto wait = over_replications(model, reps, "resource.team.wait_mean");
  const auto lq = over_replications(model, reps, "resource.team.queue_mean");
  EXPECT_NEAR(util.mean, lambda / c, 4 * util.se);
  EXPECT_NEAR(waited.mean, pw, 4 * waited.se);
  EXPECT_NEAR(wait.mean, wq, 4 * wait.se);
  EXPECT_NEAR(lq.mean, lambda * wq, 4 * lq.se);
  // The closed forms are not trivially met: a wrong number of servers misses by far.
  EXPECT_GT(std::fabs(waited.mean - erlang_c(c + 1, lambda)), 10 * waited.se);
}

TEST(ResourceQueueingTest, exponential_patience_reproduces_erlang_a) {
  const double lambda = 10.0;
  const int c = 9;
  const double theta = 1.0 / 0.5;  // mean patience half a day
  const Model model = test::model_from_yaml(queue_scenario(
      lambda, c, "    patience: {dist: exponential, mean: 0.5}\n    abandon_to: gaveup\n", 2000));
  const auto p = erlang_a_states(lambda, 1.0, c, theta);
  double excess = 0.0;  // E[(N - c)+]: the mean queue
  double p_wait = 0.0;  // P(N >= c)
  for (std::size_t n = 0; n < p.size(); ++n) {
    if (static_cast<int>(n) >= c) p_wait += p[n];
    excess += std::max(static_cast<double>(n) - c, 0.0) * p[n];
  }
  const double p_abandon = theta * excess / lambda;

  const int reps = 20;
  std::vector<double> abandon_share;
  std::vector<double> waited;
  std::vector<double> queue_mean;
  for (int r = 0; r < reps; ++r) {
    const ReplicationResult res = Engine(model).simulate(r);
    abandon_share.push_back(metric(model, res, "resource.team.abandoned") /
                            metric(model, res, "resource.team.joined"));
    waited.push_back(metric(model, res, "resource.team.waited"));
    queue_mean.push_back(metric(model, res, "resource.team.queue_mean"));
    // Customers who gave up moved to `gaveup`, and only they did.
    EXPECT_EQ(static_cast<double>(res.transitions[0 * 3 + 2]),
              metric(model, res, "resource.team.abandoned"));
  }
  const auto ab = test::mean_se(abandon_share);
  const auto pw = test::mean_se(waited);
  const auto lq = test::mean_se(queue_mean);
  EXPECT_NEAR(ab.mean, p_abandon, 4 * ab.se);
  EXPECT_NEAR(pw.mean, p_wait, 4 * pw.se);
  EXPECT_NEAR(lq.mean, excess, 4 * lq.se);
  EXPECT_GT(p_abandon, 0.02);  // a regime where abandonment matters
}

TEST(ResourceQueueingTest, littles_law_holds_on_the_simulated_queue) {
  const Model model = test::model_from_yaml(queue_scenario(
      10.0, 9, "    patience: {dist: gamma, shape: 2, mean: 0.5}\n    abandon_to: gaveup\n"));
  for (int r = 0; r < 5; ++r) {
    const ReplicationResult res = Engine(model).simulate(r);
    const double lambda = metric(model, res, "resource.team.joined") / model.horizon;
    const double w = metric(model, res, "resource.team.queue_time_mean");
    const double l = metric(model, res, "resource.team.queue_mean");
    EXPECT_GT(l, 0.1);
    EXPECT_NEAR(l, lambda * w, 0.01 * l) << "replication " << r;
  }
}

/// Two segments sharing one server: the first has priority (non-preemptive).
TEST(ResourceQueueingTest, priority_classes_follow_cobham) {
  const double l1 = 0.3;
  const double l2 = 0.4;
  const std::string yaml = R"(
name: prio
horizon: 20000
report_every: 1000
seed: 5
won: done
stages:
  waiting: {next: {done: 1.0}}
  done: {absorbing: true}
segments:
  gold: {share: 0.5}
  basic: {share: 0.5}
arrivals:
  streams:
    - {stage: waiting, rate_per_day: 0.3, segment: gold}
    - {stage: waiting, rate_per_day: 0.4, segment: basic}
resources:
  team:
    servers: 1
    serves: [waiting]
    service: {dist: exponential, mean: 1.0}
    discipline: priority
    priority: [gold, basic]
)";
  const Model model = test::model_from_yaml(yaml);
  // M/M/1 non-preemptive priority: W_k = W0 / ((1 - sigma_{k-1})(1 - sigma_k)), W0 = sum l_i E[S^2] / 2.
  const double w0 = (l1 + l2) * 2.0 / 2.0;
  const double w_gold = w0 / (1.0 - l1);
  const double w_basic = w0 / ((1.0 - l1) * (1.0 - l1 - l2));
  std::vector<double> gold;
  std::vector<double> basic;
  for (int r = 0; r < 20; ++r) {
    CustomerOutcomes outcomes;
    SimulationControl control;
    control.events = true;
    control.outcomes = &outcomes;
    const ReplicationResult res = Engine(model).simulate(r, control);
    std::map<std::int64_t, double> arrived;
    std::map<std::int64_t, int> segment;
    for (std::size_t i = 0; i < outcomes.customer.size(); ++i) {
      segment[static_cast<std::int64_t>(outcomes.customer[i])] = outcomes.segment[i];
    }
    double sum[2] = {0, 0};
    double n[2] = {0, 0};
    for (const Event& e : res.events) {
      if (e.from < 0) arrived[e.customer] = e.time;
      if (e.from == 0) {
        const int g = segment.at(e.customer);
        sum[g] += e.time - arrived.at(e.customer) - 1.0;  // sojourn minus the mean service
        n[g] += 1;
      }
    }
    gold.push_back(sum[0] / n[0]);
    basic.push_back(sum[1] / n[1]);
  }
  const auto g = test::mean_se(gold);
  const auto b = test::mean_se(basic);
  EXPECT_NEAR(g.mean, w_gold, 4 * g.se);
  EXPECT_NEAR(b.mean, w_basic, 4 * b.se);
  EXPECT_GT(b.mean - g.mean, 10 * std::hypot(g.se, b.se));  // priority makes a difference
}

/// One server, 200 customers all asking at day 0, fixed service 1/8 day: customer i waits i/8
/// (binary fractions: every time below is exact).
TEST(ResourceOutcomeTest, waits_are_exact_and_decay_halves_the_outcome_per_half_life) {
  const std::string yaml = R"(
name: decay
horizon: 100
report_every: 1
seed: 3
won: won
stages:
  call: {next: {won: 0.8, lost: 0.2}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals: {initial: [{stage: call, count: 200}]}
resources:
  rep:
    servers: 1
    serves: [call]
    service: {dist: fixed, days: 0.125}
    outcome: {decay: {stage: won, half_life: 2, to: lost}}
)";
  const Model model = test::model_from_yaml(yaml);
  double expected = 0.0;
  for (int i = 0; i < 200; ++i) expected += 0.8 * std::pow(2.0, -0.125 * i / 2.0);
  std::vector<double> conversions;
  for (int r = 0; r < 200; ++r) {
    const ReplicationResult res = Engine(model).simulate(r);
    conversions.push_back(res.metrics[kConversions]);
    if (r == 0) {
      EXPECT_EQ(metric(model, res, "resource.rep.wait_mean"), 0.125 * 99.5);
      EXPECT_NEAR(metric(model, res, "resource.rep.wait_p95"), 0.125 * 189.05,
                  1e-12);  // linear between order stats
      EXPECT_EQ(metric(model, res, "resource.rep.served"), 200.0);
      EXPECT_EQ(metric(model, res, "resource.rep.utilisation"), 25.0 / 100.0);
      EXPECT_EQ(metric(model, res, "resource.rep.waited"), 199.0 / 200.0);
      // Queue at report times (after the events at that time): day 0: 199 wait; by day 5 services
      // started at 0, 1/8, ..., 5 (41 customers); by day 25 all 200.
      EXPECT_EQ(res.queue_length[0], 199);
      EXPECT_EQ(res.queue_length[5], 200 - 41);
      EXPECT_EQ(res.queue_length[25], 0);
      // Mean wait of the services started in (4, 5]: customers 33..40 wait 4.125 .. 5.
      EXPECT_EQ(res.queue_wait[5], 4.5625);
      EXPECT_TRUE(std::isnan(res.queue_wait[30]));  // no service started in (29, 30]
    }
  }
  const auto m = test::mean_se(conversions);
  EXPECT_NEAR(m.mean, expected, 4 * m.se);
  EXPECT_GT(std::fabs(m.mean - 0.8 * 200), 10 * m.se);  // without decay it would be 160
}

TEST(ResourceStaffingTest, weekday_calendar_serves_on_weekdays_only) {
  const std::string yaml = R"(
name: weekdays
horizon: 70
report_every: 7
seed: 9
won: done
stages:
  waiting: {next: {done: 1.0}}
  done: {absorbing: true}
arrivals: {streams: [{stage: waiting, rate_per_day: 5}]}
resources:
  team:
    weekdays: [2, 2, 2, 2, 2, 0, 0]
    serves: [waiting]
    service: {dist: fixed, days: 0.05}
)";
  const Model model = test::model_from_yaml(yaml);
  SimulationControl control;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  int weekend_arrivals = 0;
  int served = 0;
  for (const Event& e : res.events) {
    if (e.from < 0 && std::fmod(e.time, 7.0) >= 5.0) ++weekend_arrivals;
    if (e.from == 0) {
      ++served;
      EXPECT_LT(std::fmod(e.time, 7.0), 5.0 + 0.05 + 1e-9)
          << "served on a weekend at day " << e.time;
    }
  }
  EXPECT_GT(weekend_arrivals, 50);  // weekend customers wait for Monday
  EXPECT_GT(served, 300);
  // Utilisation counts staffed server-days only: 10 weeks * 5 days * 2 servers.
  EXPECT_NEAR(metric(model, res, "resource.team.utilisation"), served * 0.05 / 100.0, 0.01);
}

TEST(ResourceStaffingTest, a_change_to_zero_servers_stops_service_and_costs_stop_too) {
  const std::string yaml = R"(
name: changes
horizon: 100
report_every: 10
seed: 9
won: done
stages:
  waiting: {next: {done: 1.0}}
  done: {absorbing: true}
arrivals: {streams: [{stage: waiting, rate_per_day: 5}]}
resources:
  team:
    servers: 3
    changes: [{day: 50, servers: 0}]
    serves: [waiting]
    service: {dist: fixed, days: 0.1}
    cost_per_server_day: 100
)";
  const Model model = test::model_from_yaml(yaml);
  SimulationControl control;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  for (const Event& e : res.events) {
    if (e.from == 0) {
      EXPECT_LE(e.time, 50.1 + 1e-9);
    }
  }
  EXPECT_NEAR(metric(model, res, "resource.team.staff_cost"), 3 * 50 * 100.0, 1e-6);
  EXPECT_NEAR(res.metrics[kTouchpointCost], 3 * 50 * 100.0, 1e-6);  // staffing counts as cost
  EXPECT_GT(res.queue_length[9], 150);  // day 90: about 200 have arrived since day 50, all wait
}

TEST(ResourceHandoffTest, time_in_served_stage_is_handoff_plus_service_without_waiting) {
  const std::string yaml = R"(
name: handoff
horizon: 1000000
report_every: 100000
seed: 2
won: done
stages:
  waiting: {next: {done: 1.0}}
  done: {absorbing: true}
arrivals: {initial: [{stage: waiting, count: 20000}]}
resources:
  team:
    servers: 100000
    serves: [waiting]
    handoff: {dist: fixed, days: 2}
    service: {dist: exponential, mean: 1.0}
)";
  const Model model = test::model_from_yaml(yaml);
  SimulationControl control;
  control.events = true;
  const ReplicationResult res = Engine(model).simulate(0, control);
  std::vector<double> service;
  for (const Event& e : res.events) {
    if (e.from == 0) service.push_back(e.time - 2.0);
  }
  ASSERT_EQ(service.size(), 20000U);
  EXPECT_GE(*std::min_element(service.begin(), service.end()), 0.0);
  EXPECT_GT(test::ks_pvalue(service, [](double x) { return 1.0 - std::exp(-x); }), 1e-3);
  EXPECT_LT(test::ks_pvalue(service, [](double x) { return 1.0 - std::exp(-x / 1.1); }), 1e-3);
  EXPECT_EQ(metric(model, res, "resource.team.waited"), 0.0);
}

TEST(ReferralTest, early_growth_matches_the_branching_process) {
  // Each advocate refers at rate b and leaves at rate d: E N(t) = N0 exp((b - d) t).
  const std::string yaml = R"(
name: referrals
horizon: 100
report_every: 20
seed: 4
won: won
stages:
  advocate: {dwell: {dist: exponential, mean: 100}, next: {churned: 1.0}}
  churned: {absorbing: true}
  won: {absorbing: true}
arrivals: {initial: [{stage: advocate, count: 2000}]}
referrals:
  word_of_mouth: {from: advocate, rate_per_day: 0.02, to: advocate}
)";
  const Model model = test::model_from_yaml(yaml);
  const int reps = 30;
  const double b = 0.02;
  const double g = 0.02 - 0.01;
  std::vector<std::vector<double>> occupancy(model.report_times.size());
  std::vector<double> referrals;
  for (int r = 0; r < reps; ++r) {
    const ReplicationResult res = Engine(model).simulate(r);
    for (std::size_t k = 0; k < model.report_times.size(); ++k) {
      occupancy[k].push_back(static_cast<double>(res.occupancy[k * 3 + 0]));
    }
    referrals.push_back(res.metrics[kReferrals]);
    EXPECT_EQ(res.metrics[kCustomers], 2000 + res.metrics[kReferrals]);
  }
  for (std::size_t k = 0; k < model.report_times.size(); ++k) {
    const auto m = test::mean_se(occupancy[k]);
    EXPECT_NEAR(m.mean, 2000 * std::exp(g * model.report_times[k]), 4 * m.se + 1e-9)
        << "day " << model.report_times[k];
  }
  const auto m = test::mean_se(referrals);
  EXPECT_NEAR(m.mean, b * 2000 * std::expm1(g * 100) / g, 4 * m.se);
  EXPECT_GT(m.mean,
            2000 * (std::exp(g * 100) - 1.0) * 1.5);  // referrals beyond net growth: churn happens
}

TEST(ReferralTest, runaway_growth_stops_with_a_clear_error) {
  const std::string yaml = R"(
name: runaway
horizon: 1000
report_every: 100
won: won
max_customers: 50000
stages:
  advocate: {dwell: {dist: exponential, mean: 100}, next: {churned: 1.0}}
  churned: {absorbing: true}
  won: {absorbing: true}
arrivals: {initial: [{stage: advocate, count: 10}]}
referrals:
  word_of_mouth: {from: advocate, rate_per_day: 0.5, to: advocate}
)";
  const Model model = test::model_from_yaml(yaml);
  try {
    (void)Engine(model).simulate(0);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "max_customers");
    EXPECT_NE(std::string(e.what()).find("rate_per_day"), std::string::npos) << e.what();
  }
}

const char* const kFunnelWithTeam = R"(
name: team_funnel
horizon: 365
report_every: 7
seed: 21
replications: 4
won: customer
stages:
  lead: {dwell: {dist: exponential, mean: 5}, next: {sql: 0.5, lost: 0.5}}
  sql: {next: {customer: 0.4, lead: 0.2, lost: 0.4}}
  customer: {dwell: {dist: exponential, mean: 60}, next: {advocate: 0.5, churned: 0.5}}
  advocate: {dwell: {dist: exponential, mean: 90}, next: {churned: 1.0}}
  nurture: {dwell: {dist: exponential, mean: 10}, next: {lost: 1.0}}
  lost: {absorbing: true}
  churned: {absorbing: true}
segments:
  big: {share: 0.3}
  small: {share: 0.7}
arrivals:
  initial: [{stage: lead, count: 500}, {stage: nurture, count: 300}]
  streams: [{stage: lead, rate_per_day: 12}, {stage: nurture, rate_per_day: 5}]
resources:
  sales:
    servers: SERVERS
    serves: [sql]
    handoff: {dist: exponential, mean: 1}
    service: {dist: exponential, mean: 0.9}
    patience: {dist: exponential, mean: 4}
    abandon_to: lead
    outcome: {decay: {stage: customer, half_life: 3, to: lost}}
referrals:
  word_of_mouth: {from: advocate, rate_per_day: 0.01, to: lead}
)";

Model team_funnel(int servers) {
  std::string yaml = kFunnelWithTeam;
  yaml.replace(yaml.find("SERVERS"), 7, std::to_string(servers));
  return test::model_from_yaml(yaml);
}

TEST(ResourceDeterminismTest, results_are_identical_at_one_and_two_threads) {
  const Model model = team_funnel(3);
  RunOptions one;
  one.threads = 1;
  one.events = true;
  RunOptions two = one;
  two.threads = 2;
  const lcsim::Run a = simulate(model, one);
  const lcsim::Run b = simulate(model, two);
  ASSERT_EQ(a.replications.size(), b.replications.size());
  for (std::size_t r = 0; r < a.replications.size(); ++r) {
    EXPECT_EQ(a.replications[r].metrics, b.replications[r].metrics);
    EXPECT_EQ(a.replications[r].occupancy, b.replications[r].occupancy);
    EXPECT_EQ(a.replications[r].queue_length, b.replications[r].queue_length);
    EXPECT_EQ(a.replications[r].events.size(), b.replications[r].events.size());
  }
  EXPECT_GT(a.summary[kReferrals].mean, 0.0);
  EXPECT_GT(metric(model, a.replications[0], "resource.sales.abandoned"), 0.0);
}

TEST(ResourceDeterminismTest, more_reps_keep_every_customers_own_draws) {
  // Without waiting, capacity is not binding: 1000 or 2000 reps give the very same customers.
  const Model wide = team_funnel(1000);
  const Model wider = team_funnel(2000);
  SimulationControl control;
  control.events = true;
  const ReplicationResult a = Engine(wide).simulate(1, control);
  const ReplicationResult b = Engine(wider).simulate(1, control);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    ASSERT_EQ(a.events[i].customer, b.events[i].customer);
    ASSERT_EQ(a.events[i].time, b.events[i].time);
    ASSERT_EQ(a.events[i].to, b.events[i].to);
  }
  EXPECT_EQ(a.occupancy, b.occupancy);

  // With a binding team, customers who never enter the served stage keep their exact paths.
  const Model two = team_funnel(2);
  const Model four = team_funnel(4);
  const ReplicationResult few = Engine(two).simulate(1, control);
  const ReplicationResult more = Engine(four).simulate(1, control);
  auto untouched = [&](const ReplicationResult& res) {
    std::map<std::int64_t, std::vector<std::pair<double, int>>> paths;
    std::map<std::int64_t, bool> served;
    for (const Event& e : res.events) {
      paths[e.customer].emplace_back(e.time, e.to);
      if (e.to == 1) served[e.customer] = true;
    }
    for (auto it = paths.begin(); it != paths.end();)
      it = served.count(it->first) != 0U ? paths.erase(it) : std::next(it);
    return paths;
  };
  const auto pf = untouched(few);
  const auto pm = untouched(more);
  std::size_t same = 0;
  for (const auto& [customer, path] : pf) {
    auto it = pm.find(customer);
    if (it != pm.end() && it->second == path) ++same;
  }
  // Every customer who never asked for the team in either arm (initial and stream arrivals; a
  // referred customer exists only if its referrer's path allowed it) has the same path.
  std::size_t comparable = 0;
  for (const auto& [customer, path] : pf) {
    if (pm.count(customer) != 0U && (static_cast<std::uint64_t>(customer) >> 63U) == 0U)
      ++comparable;
  }
  EXPECT_GT(comparable, 1000U);
  EXPECT_GE(same, comparable);
  EXPECT_LT(metric(team_funnel(4), more, "resource.sales.wait_mean"),
            metric(team_funnel(2), few, "resource.sales.wait_mean"));
}

}  // namespace
}  // namespace lcsim
