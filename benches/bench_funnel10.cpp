// Whole-run benches of the reference workload funnel-10 (benches/funnel10/*.yaml, 10^6 customers,
// one replication, one thread) through the public API, as a user calls it:
// lcsim::compile(lcsim::load_scenario(...)) once, then lcsim::Engine(model).simulate(r) timed.
// The peers (benches/peers/) and the raw limit (bench_raw_limit.cpp) run the same workload;
// benches/run.sh turns the medians into the ratios of benches/README.md. The *Scalar variants turn
// the engine's AVX-512 lanes off (SimulationControl::vector_lanes): the same results, the scalar loop.
#include <benchmark/benchmark.h>

#include <string>

#include "lcsim/lcsim.hpp"

namespace {

void BM_Engine_Funnel10_Run(benchmark::State& state, const char* file, bool lanes = true) {
  const lcsim::Model model = lcsim::compile(lcsim::load_scenario(std::string(LCSIM_SOURCE_DIR) + "/" + file));
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
  state.counters["transitions_per_s"] = benchmark::Counter(transitions, benchmark::Counter::kIsRate);
  state.counters["transitions"] = last;
  state.counters["customers"] = static_cast<double>(customers);
  state.counters["vector_lanes"] = in_lanes > 0 ? 1.0 : 0.0;  // 1: the customers ran in the vector lanes
}

void BM_Engine_Funnel10(benchmark::State& state) { BM_Engine_Funnel10_Run(state, "benches/funnel10/funnel10.yaml"); }
BENCHMARK(BM_Engine_Funnel10)->Unit(benchmark::kMillisecond);

void BM_Engine_Funnel10Webinar(benchmark::State& state) {
  BM_Engine_Funnel10_Run(state, "benches/funnel10/funnel10_webinar.yaml");
}
BENCHMARK(BM_Engine_Funnel10Webinar)->Unit(benchmark::kMillisecond);

void BM_Engine_Funnel10Scalar(benchmark::State& state) {
  BM_Engine_Funnel10_Run(state, "benches/funnel10/funnel10.yaml", false);
}
BENCHMARK(BM_Engine_Funnel10Scalar)->Unit(benchmark::kMillisecond);

void BM_Engine_Funnel10WebinarScalar(benchmark::State& state) {
  BM_Engine_Funnel10_Run(state, "benches/funnel10/funnel10_webinar.yaml", false);
}
BENCHMARK(BM_Engine_Funnel10WebinarScalar)->Unit(benchmark::kMillisecond);

// A touchpoint the lanes run lane by lane (a cost and an effect window on engaged).
void BM_Engine_Funnel10Email(benchmark::State& state) {
  BM_Engine_Funnel10_Run(state, "benches/funnel10/funnel10_email.yaml");
}
BENCHMARK(BM_Engine_Funnel10Email)->Unit(benchmark::kMillisecond);

void BM_Engine_Funnel10EmailScalar(benchmark::State& state) {
  BM_Engine_Funnel10_Run(state, "benches/funnel10/funnel10_email.yaml", false);
}
BENCHMARK(BM_Engine_Funnel10EmailScalar)->Unit(benchmark::kMillisecond);

}  // namespace
