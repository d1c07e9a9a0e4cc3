// The vector lanes on another architecture (tools/cross_lanes.sh): funnel-10 with and without its
// webinar, and with Weibull and lognormal dwells, an arrival stream and a costed email window,
// built in code (no YAML, so nothing but the engine and the model to cross-compile), each
// replication simulated with the lanes and with the scalar engine and compared bit for bit. The
// script builds it for aarch64 with one Highway target (NEON, then the scalar fallback) and runs it
// under qemu-aarch64; its output is the same on x86-64 (checked by the script too).
#include <cstdio>
#include <cstring>
#include <string>

#include "lcsim/engine/engine.hpp"
#include "lcsim/model/compile.hpp"
#include "lcsim/model/scenario.hpp"

using namespace lcsim;  // NOLINT(google-build-using-namespace): a small program

static DwellSpec expo(double mean) { DwellSpec d; d.dist = "exponential"; d.params["mean"] = mean; return d; }
static StageSpec stage(const std::string& n, DwellSpec d, std::vector<std::pair<std::string, double>> next) {
  StageSpec s; s.name = n; s.dwell = d; NextSpec ns; ns.probs = std::move(next); s.next = ns; return s;
}
static StageSpec absorbing(const std::string& n) { StageSpec s; s.name = n; s.absorbing = true; return s; }

static Scenario funnel10(bool webinar, bool families) {
  Scenario sc;
  sc.name = "funnel10"; sc.horizon = 730; sc.report_every = 30; sc.won = "customer"; sc.seed = 7;
  DwellSpec lead = expo(7);
  DwellSpec mql = expo(10);
  if (families) {
    lead.dist = "weibull"; lead.params = {{"shape", 1.4}, {"mean", 7}};
    mql.dist = "lognormal"; mql.params = {{"median", 8}, {"sigma", 0.9}};
  }
  sc.stages = {stage("awareness", expo(3), {{"engaged", .3}, {"lost", .7}}),
               stage("engaged", expo(5), {{"lead", .4}, {"awareness", .1}, {"lost", .5}}),
               stage("lead", lead, {{"mql", .45}, {"engaged", .15}, {"lost", .4}}),
               stage("mql", mql, {{"sql", .35}, {"lead", .2}, {"lost", .45}}),
               stage("sql", expo(14), {{"customer", .3}, {"mql", .25}, {"lost", .45}}),
               stage("customer", expo(90), {{"loyal", .6}, {"churned", .4}}),
               stage("loyal", expo(180), {{"advocate", .2}, {"customer", .1}, {"churned", .7}}),
               stage("advocate", expo(365), {{"loyal", .5}, {"churned", .5}}),
               absorbing("lost"), absorbing("churned")};
  InitialCohort c; c.stage = "awareness"; c.count = 40001;
  sc.arrivals.initial = {c};
  if (families) {
    ArrivalStream a; a.rate_per_day = 30; a.stage = "engaged"; a.weekly_profile = {1, 1.2, 1.2, 1, 1, .3, .3};
    sc.arrivals.streams = {a};
    TouchpointSpec email; email.name = "email"; email.stages = {"engaged"}; email.reach = .4; email.cost = .3;
    email.schedule.after_entry_days = {.5}; email.schedule.after_entry_every = 3;
    email.effect.window = 2; email.effect.hazard_factor = 1.4;
    sc.touchpoints.push_back(email);
    sc.money.discount_rate = .08;
  }
  if (webinar) {
    TouchpointSpec w; w.name = "webinar"; w.stages = {"mql"}; w.reach = .25;
    w.schedule.calendar_start = 7; w.schedule.calendar_every = 7;
    w.effect.move_to = "sql"; w.effect.move_probability = .2;
    sc.touchpoints.push_back(w);
  }
  return sc;
}

static bool same(const ReplicationResult& a, const ReplicationResult& b) {
  return a.occupancy == b.occupancy && a.transitions == b.transitions && a.reached == b.reached &&
         a.metrics.size() == b.metrics.size() &&
         std::memcmp(a.metrics.data(), b.metrics.data(), a.metrics.size() * sizeof(double)) == 0 &&
         a.touchpoints.size() == b.touchpoints.size() &&
         std::memcmp(a.touchpoints.data(), b.touchpoints.data(), a.touchpoints.size() * sizeof(TouchpointTally)) == 0;
}

int main() {
  int failed = 0;
  std::printf("lanes target %s, %d lanes\n", Engine::vector_lanes_target(), Engine::vector_lane_width());
  for (const bool webinar : {false, true}) {
    for (const bool families : {false, true}) {
      const Model model = compile(funnel10(webinar, families));
      const Engine engine(model);
      for (const int rep : {0, 3}) {
        std::int64_t in_lanes = 0;
        SimulationControl lanes;
        lanes.vector_lane_customers = &in_lanes;
        SimulationControl scalar;
        scalar.vector_lanes = false;
        const ReplicationResult a = engine.simulate(rep, lanes);
        const ReplicationResult b = engine.simulate(rep, scalar);
        const bool ok = same(a, b) && in_lanes > 0;
        failed += ok ? 0 : 1;
        std::printf("webinar=%d families=%d rep=%d: %s (in lanes %lld, conversions %.0f, transitions %.0f, cost %.17g)\n",
                    webinar, families, rep, ok ? "same bit for bit" : "DIFFERENT", static_cast<long long>(in_lanes),
                    a.metrics[kConversions], a.metrics[kTransitions], a.metrics[kTouchpointCost]);
      }
    }
  }
  std::printf("%s\n", failed == 0 ? "all the same" : "FAILED");
  return failed == 0 ? 0 : 1;
}
