// Whole-run benches of the reference workload funnel-10 (benches/funnel10/*.yaml, 10^6 customers,
// one replication, one thread) through the public API, as a user calls it:
// lcsim::compile(lcsim::load_scenario(...)) once, then lcsim::Engine(model).simulate(r) timed.
// The peers (benches/peers/) and the raw limit (bench_raw_limit.cpp) run the same workload;
// benches/run.sh turns the medians into the ratios of benches/README.md. The *Scalar variants turn
// the engine's vector lanes off (SimulationControl::vector_lanes): the same results, the scalar loop.
// The SIMD target the lanes ran (Highway's name: AVX3 for AVX-512, AVX2, ...) is in the JSON's
// context as lcsim_simd_target (and lcsim_simd_lanes).
#include <benchmark/benchmark.h>

#include <string>

#include "lcsim/lcsim.hpp"

namespace {

void BM_Engine_Funnel10_Run(benchmark::State& state, const char* file, bool lanes = true) {
  const lcsim::Model model =
      lcsim::compile(lcsim::load_scenario(std::string(LCSIM_SOURCE_DIR) + "/" + file));
  const lcsim::Engine engine(model);
  std::int64_t customers = 0;
  for (const auto& group : model.initial) customers += group.count;
  double transitions = 0.0;
  double last = 0.0;
  int rep = 0;
  lcsim::SimulationControl control;
  control.vector_lanes = lanes;
  std::int64_t in_lanes = 0;
  control.vector_lane_customers = &in_lanes;
  for (auto _ : state) {
    const auto result = engine.simulate(rep++, control);
    last = result.metrics[lcsim::kTransitions];
    transitions += last;
    benchmark::DoNotOptimize(result.occupancy.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transitions));
  state.counters["transitions_per_s"] =
      benchmark::Counter(transitions, benchmark::Counter::kIsRate);
  state.counters["transitions"] = last;
  state.counters["customers"] = static_cast<double>(customers);
  state.counters["vector_lanes"] =
      in_lanes > 0 ? 1.0 : 0.0;  // 1: the customers ran in the vector lanes
}

/// The same replication through lcsim::simulate on `threads` threads: its 10^6 customers split into
/// parts that the threads share (docs/contributing.md, "One replication on all cores"); wall time.
void BM_Run_Funnel10_Threads(benchmark::State& state, const char* file) {
  const lcsim::Model model =
      lcsim::compile(lcsim::load_scenario(std::string(LCSIM_SOURCE_DIR) + "/" + file));
  lcsim::RunOptions options;
  options.replications = 1;
  options.threads = static_cast<int>(state.range(0));
  double transitions = 0.0;
  for (auto _ : state) {
    const lcsim::Run run = lcsim::simulate(model, options);
    transitions += run.replications.front().metrics[lcsim::kTransitions];
    ++options.first_replication;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transitions));
  state.counters["parts"] = static_cast<double>(lcsim::Engine(model).plan(0).parts());
}

// The whole runs, by name (benches/run.sh reads the first four).
struct Funnel10Run {
  const char* name;
  const char* file;
  bool lanes;
};
constexpr Funnel10Run kRuns[] = {
    {"BM_Engine_Funnel10", "benches/funnel10/funnel10.yaml", true},
    {"BM_Engine_Funnel10Webinar", "benches/funnel10/funnel10_webinar.yaml", true},
    {"BM_Engine_Funnel10Scalar", "benches/funnel10/funnel10.yaml", false},
    {"BM_Engine_Funnel10WebinarScalar", "benches/funnel10/funnel10_webinar.yaml", false},
    // a touchpoint the lanes run lane by lane (a cost and an effect window on engaged)
    {"BM_Engine_Funnel10Email", "benches/funnel10/funnel10_email.yaml", true},
    {"BM_Engine_Funnel10EmailScalar", "benches/funnel10/funnel10_email.yaml", false},
};

[[maybe_unused]] const bool kRegistered = [] {
  benchmark::AddCustomContext("lcsim_simd_target", lcsim::Engine::vector_lanes_target());
  benchmark::AddCustomContext("lcsim_simd_lanes",
                              std::to_string(lcsim::Engine::vector_lane_width()));
  for (const Funnel10Run& r : kRuns) {
    benchmark::RegisterBenchmark(r.name, BM_Engine_Funnel10_Run, r.file, r.lanes)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_Run_Funnel10", BM_Run_Funnel10_Threads,
                               "benches/funnel10/funnel10.yaml")
      ->ArgName("threads")
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Run_Funnel10Webinar", BM_Run_Funnel10_Threads,
                               "benches/funnel10/funnel10_webinar.yaml")
      ->ArgName("threads")
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
