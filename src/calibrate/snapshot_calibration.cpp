#include "lcsim/calibrate/snapshot_calibration.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/calibrate/snapshot_scenario.hpp"

namespace lcsim {

namespace {

/// The conversion stage: the one asked for (which must occur), else "won" when it occurs, else
/// none.
std::string conversion_stage(const SnapshotLog& log, const std::string& won) {
  const auto has = [&](const std::string& stage) {
    return std::find(log.stages.begin(), log.stages.end(), stage) != log.stages.end();
  };
  if (!won.empty()) {
    if (!has(won)) {
      throw InputError(log.file, 0, "won", "stage '" + won + "' does not occur in the snapshots");
    }
    return won;
  }
  return has("won") ? std::string("won") : std::string();
}

void add_warnings(std::vector<Problem>& to, const std::vector<Problem>& from,
                  const std::string& prefix = "") {
  for (Problem p : from) {
    if (!prefix.empty()) p.field = prefix + p.field;
    to.push_back(std::move(p));
  }
}

/// The segment overrides of a scenario: the dwell and next of each own stage of each segment,
/// from the segment's stage entries (phase-type or Markov).
void add_overrides(Scenario& sc, const std::vector<SegmentSnapshotFit>& segments, bool phase) {
  for (const SegmentSnapshotFit& seg : segments) {
    auto spec = std::find_if(sc.segments.begin(), sc.segments.end(),
                             [&](const SegmentSpec& s) { return s.name == seg.segment; });
    if (spec == sc.segments.end()) continue;
    const std::vector<StageSpec> stages =
        phase && seg.phase ? phase_type_stage_specs(*seg.phase) : markov_stage_specs(seg.markov);
    for (const StageSpec& stage : stages) {
      if (stage.absorbing || std::find(seg.own_stages.begin(), seg.own_stages.end(), stage.name) ==
                                 seg.own_stages.end()) {
        continue;
      }
      StageOverride override_;
      override_.stage = stage.name;
      override_.dwell = stage.dwell;
      override_.next = stage.next;
      spec->stages.push_back(std::move(override_));
    }
  }
}

}  // namespace

SnapshotCalibration calibrate_snapshots(const SnapshotLog& log,
                                        const SnapshotCalibrationOptions& options) {
  if (options.min_segment_pairs == 0) {
    throw InputError(log.file, 0, "min_segment_pairs", "expected an integer >= 1, got 0");
  }
  SnapshotCalibration out;
  out.won = conversion_stage(log, options.won);
  out.markov = fit_snapshots(log, options.markov);
  add_warnings(out.warnings, out.markov.warnings);
  const bool exact =
      std::any_of(log.customers.begin(), log.customers.end(), [](const SnapshotPath& p) {
        return std::any_of(p.observations.begin(), p.observations.end(),
                           [](const SnapshotObservation& o) { return std::isfinite(o.entered); });
      });
  if (exact) {
    out.warnings.push_back(Problem{
        log.file, 0, log.entered_column.empty() ? "exact_stages" : log.entered_column,
        "the continuous-time Markov fit (msm's panel model, the 'snapshot fit' table) reads the "
        "exactly timed rows as snapshots; the phase-type fit and its Markov rows "
        "(markov_estimates) use their exact times",
        true});
  }
  const bool phase_fit = options.phase.max_phases > 1 || !options.phase.phases.empty();
  PhaseFitOptions po = options.phase;
  po.transitions = options.markov.transitions;
  if (po.won.empty()) po.won = out.won;
  if (phase_fit) {
    out.phase = fit_phase_type(log, po);
    add_warnings(out.warnings, out.phase->warnings);
  }

  // Every segment gets the all-customer fit's stage model: its transitions and entry stage.
  MarkovFitOptions segment_markov = options.markov;
  if (segment_markov.transitions.empty()) {
    for (const RateEstimate& r : out.markov.rates)
      segment_markov.transitions.emplace_back(r.from, r.to);
  }
  PhaseFitOptions segment_phase = po;
  segment_phase.transitions = segment_markov.transitions;
  if (out.phase) segment_phase.entry_stage = out.phase->entry_stage;
  for (const std::string& name : log.segments) {
    const SnapshotLog sub = segment_of(log, name);
    SegmentSnapshotFit seg;
    seg.segment = name;
    seg.customers = sub.customers.size();
    const PanelCounts counts = count_panel(sub);
    const std::size_t s_count = counts.size();
    std::size_t total = 0;
    for (std::size_t a = 0; a < s_count; ++a) {
      std::size_t n = 0;
      for (std::size_t b = 0; b < s_count; ++b)
        n += static_cast<std::size_t>(counts.pairs[a * s_count + b]);
      seg.pairs.push_back(n);
      total += n;
    }
    const std::string prefix = "segments." + name + ".";
    if (total < options.min_segment_pairs) {
      out.warnings.push_back(Problem{log.file, 0, prefix + "stages",
                                     "segment '" + name + "' has " + std::to_string(total) +
                                         " observed pairs in all (fewer than min_segment_pairs = " +
                                         std::to_string(options.min_segment_pairs) +
                                         "): not fitted, every stage pooled",
                                     true});
      continue;
    }
    seg.markov = fit_snapshots(sub, segment_markov);
    add_warnings(out.warnings, seg.markov.warnings, prefix);
    if (phase_fit) {
      seg.phase = fit_phase_type(sub, segment_phase);
      add_warnings(out.warnings, seg.phase->warnings, prefix);
    }
    for (std::size_t a = 0; a < log.stages.size(); ++a) {
      if (out.markov.absorbing[a]) continue;
      const std::string& stage = log.stages[a];
      if (seg.pairs[a] >= options.min_segment_pairs) {
        seg.own_stages.push_back(stage);
        continue;
      }
      seg.pooled_stages.push_back(stage);
      if (seg.pairs[a] > 0) {
        out.warnings.push_back(Problem{
            log.file, 0, prefix + "stages." + stage,
            "segment '" + name + "' has " + std::to_string(seg.pairs[a]) +
                " observed pairs from '" + stage + "' (fewer than min_segment_pairs = " +
                std::to_string(options.min_segment_pairs) + "): pooled with the all-customer fit",
            true});
      }
    }
    out.segments.push_back(std::move(seg));
  }

  if (out.won.empty()) return out;
  out.has_scenario = true;
  const std::string entry = out.phase ? out.phase->entry_stage : std::string();
  SnapshotScenario s = scenario_from_snapshots(log, out.markov, out.phase ? &*out.phase : nullptr,
                                               out.won, options.name, entry);
  out.scenario = std::move(s.scenario);
  add_overrides(out.scenario, out.segments, true);
  out.scenario_estimates = std::move(s.estimates);
  add_warnings(out.warnings, s.warnings);
  out.markov_scenario =
      scenario_from_snapshots(log, out.markov, nullptr, out.won, options.name + "_markov", entry)
          .scenario;
  add_overrides(out.markov_scenario, out.segments, false);
  return out;
}

}  // namespace lcsim
