// The 'raw limit' of funnel-10: a bare, hand-written per-customer loop of the reference workload
// (benches/funnel10/funnel10.yaml), with no lcsim engine, model, touchpoints or bookkeeping, to
// measure how much the engine costs on top of the simulation itself (target: engine <= 2x this).
//
// What the loop contains, and nothing more:
//   - per customer, one lcsim::Stream (counter-based SplitMix64, keyed by seed, replication, customer and
//     purpose kPath), the stream the engine opens for that customer's path;
//   - per stage visit, one Exp(1) draw from it (lcsim::exp1: Boost's exponential_distribution<double>(1)
//     bit for bit, its first try inline; until 2026-12-07 the distribution itself, whose division by
//     its rate 1 was a third of the loop's time) times the stage's mean dwell (the engine's hazard
//     clock for an exponential dwell is the same product);
//   - per exit before the horizon, the next 64-bit word of the same stream into an lcsim::AliasTable
//     over the stage's next-probabilities in the scenario's written order (the engine's choice);
//   - a count of customers per stage at day 730 and of transitions.
// With these choices the loop reproduces lcsim's own result bit for bit while the engine keeps
// those streams (the `matches_engine` counter of BM_RawLimit_Funnel10 says whether it does); it is
// the same simulation, minus everything the engine does for general scenarios (occupancy at every
// report time, revenue, conversions, segments, touchpoint slots, event log, progress, cancel).
//
// Also here: the micro-benchmarks of the pieces of the loop that bench_engine.cpp does not have
// (one customer's whole advance, and a cumulative next-stage choice next to the alias table).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <boost/random/exponential_distribution.hpp>
#include <cstdint>
#include <vector>

#include "lcsim/lcsim.hpp"

namespace {

constexpr int kStages = 10;
constexpr int kAwareness = 0;
constexpr double kHorizon = 730.0;
constexpr std::uint64_t kSeed = 1;  // funnel10.yaml's seed

struct NextRule {
  std::vector<int> to;
  std::vector<double> p;
};

/// funnel-10 as plain tables, in the order of benches/funnel10/funnel10.yaml.
struct Funnel10 {
  std::array<double, kStages> mean{3, 5, 7, 10, 14, 90, 180, 365, 0, 0};
  std::array<bool, kStages> absorbing{false, false, false, false, false,
                                      false, false, false, true,  true};
  std::array<lcsim::AliasTable, kStages> alias;
  std::array<std::array<int, 3>, kStages> to{};
  std::array<std::array<double, 2>, kStages>
      cut{};  // cumulative probabilities, for the cumulative choice

  Funnel10() {
    // awareness engaged lead mql sql customer loyal advocate lost churned
    //     0        1     2   3   4     5       6      7      8     9
    const std::array<NextRule, 8> rules{{
        {{1, 8}, {0.30, 0.70}},
        {{2, 0, 8}, {0.40, 0.10, 0.50}},
        {{3, 1, 8}, {0.45, 0.15, 0.40}},
        {{4, 2, 8}, {0.35, 0.20, 0.45}},
        {{5, 3, 8}, {0.30, 0.25, 0.45}},
        {{6, 9}, {0.60, 0.40}},
        {{7, 5, 9}, {0.20, 0.10, 0.70}},
        {{6, 9}, {0.50, 0.50}},
    }};
    for (std::size_t s = 0; s < rules.size(); ++s) {
      alias[s] = lcsim::AliasTable(rules[s].p);
      double acc = 0.0;
      for (std::size_t j = 0; j < 3; ++j) {
        to[s][j] = rules[s].to[std::min(j, rules[s].to.size() - 1)];
        if (j < 2) {
          acc += j < rules[s].p.size() - 1 ? rules[s].p[j] : 1.0;
          cut[s][j] = j < rules[s].p.size() - 1 ? acc : 2.0;
        }
      }
    }
  }
};

struct Tally {
  std::array<std::int64_t, kStages> at_horizon{};
  std::int64_t transitions = 0;
};

/// Advances one customer from awareness at day 0 to an absorbing stage or the horizon.
inline void advance(const Funnel10& f, std::uint64_t customer, Tally& tally) {
  lcsim::Stream path(kSeed, 0, customer, lcsim::Purpose::kPath);
  int s = kAwareness;
  double t = 0.0;
  for (;;) {
    const auto i = static_cast<std::size_t>(s);
    if (f.absorbing[i]) break;
    const double exit = t + f.mean[i] * lcsim::exp1(path);
    if (exit >= kHorizon) break;
    s = f.to[i][f.alias[i].sample(path())];
    t = exit;
    ++tally.transitions;
  }
  ++tally.at_horizon[static_cast<std::size_t>(s)];
}

/// The whole funnel-10 replication (replication 0) as the bare loop; items = transitions.
void BM_RawLimit_Funnel10(benchmark::State& state) {
  const Funnel10 f;
  const auto customers = static_cast<std::uint64_t>(state.range(0));
  Tally tally;
  double transitions = 0.0;
  for (auto _ : state) {
    tally = Tally{};
    for (std::uint64_t c = 0; c < customers; ++c) advance(f, c, tally);
    benchmark::DoNotOptimize(tally);
    transitions += static_cast<double>(tally.transitions);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transitions));
  state.counters["transitions_per_s"] =
      benchmark::Counter(transitions, benchmark::Counter::kIsRate);
  state.counters["transitions"] = static_cast<double>(tally.transitions);

  // Same answer as the engine on the same scenario? (1 = bit-identical stage counts at day 730 and
  // transitions; checked once per process, outside the timed loop.)
  if (customers == 1000000) {
    static const bool same = [&] {
      const lcsim::Model model = lcsim::compile(
          lcsim::load_scenario(std::string(LCSIM_SOURCE_DIR) + "/benches/funnel10/funnel10.yaml"));
      const auto r = lcsim::Engine(model).simulate(0);
      bool ok = model.num_stages() == kStages &&
                r.metrics[lcsim::kTransitions] == static_cast<double>(tally.transitions);
      const auto last = static_cast<std::size_t>((r.num_reports - 1) * r.num_stages);
      for (std::size_t s = 0; ok && s < static_cast<std::size_t>(kStages); ++s) {
        ok = r.occupancy[last + s] == tally.at_horizon[s];
      }
      return ok;
    }();
    state.counters["matches_engine"] = same ? 1.0 : 0.0;
  }
}
BENCHMARK(BM_RawLimit_Funnel10)->ArgName("customers")->Arg(1000000)->Unit(benchmark::kMillisecond);

// ---- where the raw limit's time goes -------------------------------------------------------------
// The raw loop with one piece left out, put back as it was, or doubled (benches/README.md, "Where the
// raw limit's time goes"); all but kAsIs, kBoostExp and kBranchyAlias simulate something else than the
// engine, for the time only.
enum class RawVariant {
  kAsIs,          // the raw loop itself (without the engine run that checks it)
  kBoostExp,      // Boost's exponential_distribution<double>(1) (the raw loop until 2026-12-07)
  kNoKeyMix,      // no mix of the customer's key: its stream starts at customer * golden
  kNoRejections,  // the ziggurat's first try always taken (rejections, ~1% of draws, not finished)
  kExtraMix,      // one more word's mix a visit (what one of the visit's two words costs)
  kBranchyAlias,  // the alias choice with a branch (AliasTable::sample until 2026-12-07)
};

template <RawVariant V>
void BM_RawLimit_Funnel10Variant(benchmark::State& state) {
  const Funnel10 f;
  const lcsim::StreamFamily family(kSeed, 0);
  const double* x = boost::random::detail::exponential_table<double>::table_x;
  boost::random::exponential_distribution<double> boost_exp1(1.0);
  std::uint64_t sink = 0;
  for (auto _ : state) {
    Tally tally;
    for (std::uint64_t c = 0; c < 1000000; ++c) {
      lcsim::Stream path(V == RawVariant::kNoKeyMix ? c * lcsim::detail::kGolden
                                                    : family.path_key(c));
      int s = kAwareness;
      double t = 0.0;
      for (;;) {
        const auto i = static_cast<std::size_t>(s);
        if (f.absorbing[i]) break;
        double e = 0.0;
        if constexpr (V == RawVariant::kBoostExp) {
          e = boost_exp1(path);
        } else if constexpr (V == RawVariant::kNoRejections) {
          const std::uint64_t w = path();
          e = static_cast<double>(
                  static_cast<std::int64_t>((w & ~(std::uint64_t{1} << 11U)) >> 8U)) *
              0x1.0p-56 * x[w & 0xffU];
        } else {
          e = lcsim::exp1(path);
        }
        const double exit = t + f.mean[i] * e;
        if (exit >= kHorizon) break;
        const std::uint64_t w = path();
        if constexpr (V == RawVariant::kExtraMix)
          sink ^= lcsim::detail::mix64(path.state() ^ 0x1234567ULL);
        if constexpr (V == RawVariant::kBranchyAlias) {
          const lcsim::AliasTable& a = f.alias[i];
          const auto col = static_cast<std::uint32_t>(((w >> 32U) * a.size()) >> 32U);
          s = f.to[i][static_cast<std::uint32_t>(w) < a.threshold(col) ? col : a.alias(col)];
        } else {
          s = f.to[i][f.alias[i].sample(w)];
        }
        t = exit;
        ++tally.transitions;
      }
      ++tally.at_horizon[static_cast<std::size_t>(s)];
    }
    benchmark::DoNotOptimize(tally);
  }
  benchmark::DoNotOptimize(sink);
}
BENCHMARK_TEMPLATE(BM_RawLimit_Funnel10Variant, RawVariant::kAsIs)
    ->Name("BM_RawLimit_Funnel10Variant/as_is")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RawLimit_Funnel10Variant, RawVariant::kBoostExp)
    ->Name("BM_RawLimit_Funnel10Variant/boost_exp")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RawLimit_Funnel10Variant, RawVariant::kNoKeyMix)
    ->Name("BM_RawLimit_Funnel10Variant/no_key_mix")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RawLimit_Funnel10Variant, RawVariant::kNoRejections)
    ->Name("BM_RawLimit_Funnel10Variant/no_rejections")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RawLimit_Funnel10Variant, RawVariant::kExtraMix)
    ->Name("BM_RawLimit_Funnel10Variant/extra_mix")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RawLimit_Funnel10Variant, RawVariant::kBranchyAlias)
    ->Name("BM_RawLimit_Funnel10Variant/branchy_alias")
    ->Unit(benchmark::kMillisecond);

/// One customer's whole advance (its stream seeded, its visits, its choices); items = customers.
void BM_RawLimit_CustomerAdvance(benchmark::State& state) {
  const Funnel10 f;
  Tally tally;
  std::uint64_t c = 0;
  for (auto _ : state) advance(f, c++, tally);
  benchmark::DoNotOptimize(tally);
  state.SetItemsProcessed(state.iterations());
  state.counters["transitions_per_customer"] =
      static_cast<double>(tally.transitions) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_RawLimit_CustomerAdvance);

/// Next-stage choice of a three-way stage: alias table (one word) vs cumulative comparisons.
void BM_NextChoice_Alias(benchmark::State& state) {
  const Funnel10 f;
  lcsim::Stream s(kSeed, 0, 0, lcsim::Purpose::kPath);
  for (auto _ : state) benchmark::DoNotOptimize(f.to[3][f.alias[3].sample(s())]);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NextChoice_Alias);

void BM_NextChoice_Cumulative(benchmark::State& state) {
  const Funnel10 f;
  lcsim::Stream s(kSeed, 0, 0, lcsim::Purpose::kPath);
  for (auto _ : state) {
    const double u = s.uniform();
    const std::size_t j =
        static_cast<std::size_t>(u >= f.cut[3][0]) + static_cast<std::size_t>(u >= f.cut[3][1]);
    benchmark::DoNotOptimize(f.to[3][j]);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NextChoice_Cumulative);

/// An exponential dwell the raw way: one Exp(1) draw times the mean (compare BM_Dwell_Sample).
void BM_RawLimit_ExponentialDwell(benchmark::State& state) {
  lcsim::Stream s(kSeed, 0, 0, lcsim::Purpose::kPath);
  boost::random::exponential_distribution<double> exp1(1.0);
  for (auto _ : state) benchmark::DoNotOptimize(10.0 * exp1(s));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawLimit_ExponentialDwell);

/// The same with lcsim::exp1 (the same values and words; no division by the rate).
void BM_RawLimit_ExponentialDwellExp1(benchmark::State& state) {
  lcsim::Stream s(kSeed, 0, 0, lcsim::Purpose::kPath);
  for (auto _ : state) benchmark::DoNotOptimize(10.0 * lcsim::exp1(s));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawLimit_ExponentialDwellExp1);

}  // namespace
