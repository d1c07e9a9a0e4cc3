// Engine throughput: customer transitions per second on the bundled B2B scenario, plus the pieces
// of the hot path (random streams, dwell sampling, next-stage choice).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <boost/random/exponential_distribution.hpp>
#include <fstream>
#include <sstream>
#include <vector>

#include "lcsim/lcsim.hpp"
#include "lcsim/model/coxian.hpp"

#ifdef LCSIM_HAVE_RANDOM123
#include <Random123/philox.h>
#endif

namespace {

lcsim::Model load(const std::string& relative) {
  return lcsim::compile(lcsim::load_scenario(std::string(LCSIM_SOURCE_DIR) + "/" + relative));
}

/// One replication of the B2B baseline on one thread; items = stage transitions.
void BM_Engine_B2bReplication(benchmark::State& state) {
  const lcsim::Model model = load("scenarios/b2b_saas/baseline.yaml");
  const lcsim::Engine engine(model);
  double transitions = 0.0;
  int rep = 0;
  for (auto _ : state) {
    const auto result = engine.simulate(rep++);
    transitions += result.metrics[lcsim::kTransitions];
    benchmark::DoNotOptimize(result.occupancy.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transitions));
  state.counters["transitions_per_s"] =
      benchmark::Counter(transitions, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Engine_B2bReplication)->Unit(benchmark::kMillisecond);

/// Same, each variant, to see what touchpoints cost.
void BM_Engine_B2bVariant(benchmark::State& state, const char* file) {
  const lcsim::Model model = load(file);
  const lcsim::Engine engine(model);
  double transitions = 0.0;
  int rep = 0;
  for (auto _ : state) {
    const auto result = engine.simulate(rep++);
    transitions += result.metrics[lcsim::kTransitions];
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transitions));
}
BENCHMARK_CAPTURE(BM_Engine_B2bVariant, webinar, "scenarios/b2b_saas/webinar_for_mqls.yaml")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Engine_B2bVariant, loyalty, "scenarios/b2b_saas/loyalty_programme.yaml")
    ->Unit(benchmark::kMillisecond);

/// The sales-team scenario (issue 7) with its team, and the same scenario without one: `sql` then
/// has a plain exponential dwell of the hand-off + service mean and the team's outcome as its next
/// (no queue, no decay). Items = stage transitions; the ratio of the two rates is what a team costs
/// (target: within 2x).
lcsim::Model sales_team(bool with_team) {
  lcsim::Scenario scenario =
      lcsim::load_scenario(std::string(LCSIM_SOURCE_DIR) + "/scenarios/sales_team/baseline.yaml");
  if (with_team) return lcsim::compile(scenario);
  const lcsim::Model team = lcsim::compile(scenario);
  for (std::size_t r = 0; r < scenario.resources.size(); ++r) {
    const lcsim::Resource& res = team.resources[r];
    const double mean = res.service.mean() + (res.has_handoff ? res.handoff.mean() : 0.0);
    for (auto& stage : scenario.stages) {
      const auto& serves = scenario.resources[r].serves;
      if (std::find(serves.begin(), serves.end(), stage.name) == serves.end()) continue;
      stage.dwell = lcsim::DwellSpec{};
      stage.dwell->params["mean"] = mean;
      if (scenario.resources[r].outcome) stage.next = scenario.resources[r].outcome;
    }
  }
  scenario.resources.clear();
  return lcsim::compile(scenario);
}

void BM_Engine_SalesTeam(benchmark::State& state, bool with_team) {
  const lcsim::Model model = sales_team(with_team);
  const lcsim::Engine engine(model);
  double transitions = 0.0;
  int rep = 0;
  for (auto _ : state) {
    const auto result = engine.simulate(rep++);
    transitions += result.metrics[lcsim::kTransitions];
    benchmark::DoNotOptimize(result.occupancy.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transitions));
}
BENCHMARK_CAPTURE(BM_Engine_SalesTeam, with_team, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Engine_SalesTeam, without_team, false)->Unit(benchmark::kMillisecond);

/// Seeding a stream and drawing one word: the per-customer set-up cost.
void BM_Stream_SeedAndDraw(benchmark::State& state) {
  std::uint64_t customer = 0;
  for (auto _ : state) {
    lcsim::Stream s(42, 0, customer++, lcsim::Purpose::kPath);
    benchmark::DoNotOptimize(s());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stream_SeedAndDraw);

/// A customer's typical use: a stream per customer (from the replication's family), five words.
void BM_Stream_Customer5Words(benchmark::State& state) {
  const lcsim::StreamFamily family(42, 0);
  std::uint64_t customer = 0;
  for (auto _ : state) {
    lcsim::Stream s(family, customer++, lcsim::Purpose::kPath);
    std::uint64_t acc = 0;
    for (int i = 0; i < 5; ++i) acc ^= s();
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stream_Customer5Words);

#ifdef LCSIM_HAVE_RANDOM123
/// The same with the streams of lcsim 0.1: Random123's Philox4x64-10 over the counter
/// {customer, purpose, block, epoch} with key {seed, replication}, four words per block.
void BM_StreamPhilox_Customer5Words(benchmark::State& state) {
  std::uint64_t customer = 0;
  for (auto _ : state) {
    r123::Philox4x64::ctr_type ctr{{customer++, std::uint64_t{1} << 32U, 0, 0}};
    const r123::Philox4x64::key_type key{{42, 0}};
    std::uint64_t acc = 0;
    r123::Philox4x64::ctr_type block = r123::Philox4x64()(ctr, key);
    for (int i = 0; i < 5; ++i) {
      if (i == 4) {
        ++ctr.v[2];
        block = r123::Philox4x64()(ctr, key);
      }
      acc ^= block.v[static_cast<std::size_t>(i % 4)];
    }
    benchmark::DoNotOptimize(acc);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StreamPhilox_Customer5Words);
#endif

void BM_Stream_Draw(benchmark::State& state) {
  lcsim::Stream s(42, 0, 0, lcsim::Purpose::kPath);
  for (auto _ : state) benchmark::DoNotOptimize(s());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stream_Draw);

/// Dwell sampling through the hazard clock, per family.
void BM_Dwell_Sample(benchmark::State& state, lcsim::Dwell dwell) {
  lcsim::Stream s(42, 0, 0, lcsim::Purpose::kPath);
  boost::random::exponential_distribution<double> exp1(1.0);
  for (auto _ : state) benchmark::DoNotOptimize(dwell.inverse_cumulative_hazard(exp1(s)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Dwell_Sample, exponential, lcsim::Dwell::exponential(7.0));
BENCHMARK_CAPTURE(BM_Dwell_Sample, weibull, lcsim::Dwell::weibull(1.5, 10.0));
BENCHMARK_CAPTURE(BM_Dwell_Sample, lognormal, lcsim::Dwell::lognormal(1.5, 0.8));
BENCHMARK_CAPTURE(BM_Dwell_Sample, gamma, lcsim::Dwell::gamma(2.0, 6.0));

/// The same with the sampling tables compile() builds (Dwell::tabulate).
lcsim::Dwell tabulated(lcsim::Dwell d) {
  d.tabulate();
  return d;
}
BENCHMARK_CAPTURE(BM_Dwell_Sample, lognormal_table, tabulated(lcsim::Dwell::lognormal(1.5, 0.8)));
BENCHMARK_CAPTURE(BM_Dwell_Sample, gamma_table, tabulated(lcsim::Dwell::gamma(2.0, 6.0)));
BENCHMARK_CAPTURE(BM_Dwell_Sample, weibull_table, tabulated(lcsim::Dwell::weibull(1.5, 10.0)));

BENCHMARK_CAPTURE(BM_Dwell_Sample, coxian_table,
                  tabulated(lcsim::Dwell::coxian({0.5, 0.08}, {0.3, 1.0})));

/// Coxian::at (log S and log f) over stays from 1e-3 to 1e3 days; the stiff one has rates eight
/// orders apart (what a fit on censored data can give).
void BM_Coxian_At(benchmark::State& state, std::vector<double> rates, std::vector<double> exit) {
  const lcsim::Coxian c(std::move(rates), std::move(exit));
  double d = 1e-3;
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.at(d));
    d = d < 1e3 ? d * 1.37 : 1e-3;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Coxian_At, two_phases, std::vector<double>{0.5, 0.08},
                  std::vector<double>{0.3, 1.0});
BENCHMARK_CAPTURE(BM_Coxian_At, stiff, std::vector<double>{0.37, 3e-8},
                  std::vector<double>{0.19, 1.0});

/// Building a coxian's sampling tables (what compile does once per parameter set; the rate is
/// nudged each time so that Dwell's cache does not answer).
void BM_Coxian_Tabulate(benchmark::State& state, std::vector<double> rates,
                        std::vector<double> exit) {
  static double nudge = 1.0;  // across repetitions too
  for (auto _ : state) {
    std::vector<double> r = rates;
    r[0] *= nudge;
    nudge += 1e-9;
    lcsim::Dwell dwell = lcsim::Dwell::coxian(r, exit);
    dwell.tabulate();
    benchmark::DoNotOptimize(dwell.has_tables());
  }
}
BENCHMARK_CAPTURE(BM_Coxian_Tabulate, two_phases, std::vector<double>{0.5, 0.08},
                  std::vector<double>{0.3, 1.0})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Coxian_Tabulate, stiff, std::vector<double>{0.37, 3e-8},
                  std::vector<double>{0.19, 1.0})
    ->Unit(benchmark::kMillisecond);

void BM_AliasTable_Sample(benchmark::State& state) {
  const lcsim::AliasTable table({0.4, 0.15, 0.25, 0.2});
  lcsim::Stream s(42, 0, 0, lcsim::Purpose::kPath);
  for (auto _ : state) benchmark::DoNotOptimize(table.sample(s()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AliasTable_Sample);

}  // namespace
