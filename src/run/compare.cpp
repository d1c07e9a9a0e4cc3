#include "lcsim/run/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <tuple>

#include "lcsim/core/error.hpp"
#include "lcsim/core/format.hpp"
#include "lcsim/engine/engine.hpp"
#include "parallel.hpp"

namespace lcsim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
/// Seed of the independent-streams arm used to measure the variance reduction.
constexpr std::uint64_t kIndependentSalt = 0x9E3779B97F4A7C15ULL;

std::size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? names.size() : static_cast<std::size_t>(it - names.begin());
}

/// Sample variance of x (n - 1 denominator).
double variance(const std::vector<double>& x, double mean) {
  double ss = 0.0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return x.size() > 1 ? ss / static_cast<double>(x.size() - 1) : kNaN;
}

bool same_touchpoint(const Touchpoint& a, const Touchpoint& b, const Model& ma, const Model& mb) {
  auto names = [](const std::vector<std::uint8_t>& flags, const std::vector<std::string>& all) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < flags.size(); ++i) {
      if (flags[i] != 0) out.push_back(all[i]);
    }
    return out;
  };
  auto stage_name = [](const Model& m, StageId s) {
    return s < 0 ? std::string() : m.stage_names[static_cast<std::size_t>(s)];
  };
  auto stage_names = [&](const Model& m, const std::vector<StageId>& ids) {
    std::vector<std::string> out;
    for (StageId s : ids) out.push_back(stage_name(m, s));
    return out;
  };
  const Schedule& x = a.schedule;
  const Schedule& y = b.schedule;
  return names(a.targets_stage, ma.stage_names) == names(b.targets_stage, mb.stage_names) &&
         names(a.targets_segment, ma.segment_names) == names(b.targets_segment, mb.segment_names) &&
         x.after_entry_days == y.after_entry_days && x.after_entry_every == y.after_entry_every &&
         x.after_entry_start == y.after_entry_start && x.calendar_days == y.calendar_days &&
         x.calendar_every == y.calendar_every && x.calendar_start == y.calendar_start &&
         a.reach == b.reach && a.cost == b.cost &&
         stage_name(ma, a.move_to) == stage_name(mb, b.move_to) &&
         a.move_probability == b.move_probability && a.window == b.window &&
         a.hazard_factor == b.hazard_factor && a.has_next_override == b.has_next_override &&
         stage_names(ma, a.next_override_stages) == stage_names(mb, b.next_override_stages);
}

/// Touchpoint names added, removed or redefined between two models.
std::vector<std::string> changed_touchpoints(const Model& base, const Model& variant) {
  std::vector<std::string> out;
  for (std::size_t k = 0; k < variant.touchpoints.size(); ++k) {
    const std::size_t j = index_of(base.touchpoint_names, variant.touchpoint_names[k]);
    if (j == base.touchpoints.size() ||
        !same_touchpoint(base.touchpoints[j], variant.touchpoints[k], base, variant)) {
      out.push_back(variant.touchpoint_names[k]);
    }
  }
  for (const auto& name : base.touchpoint_names) {
    if (index_of(variant.touchpoint_names, name) == variant.touchpoint_names.size())
      out.push_back(name);
  }
  return out;
}

/// Counts keyed by (segment, reached_in stage or -1).
using ChangeCounts = std::map<std::pair<std::int32_t, std::int32_t>, ChangeRow>;

/// Stage where one of `tps` first reached the customer (in touchpoint order), or -1.
std::int32_t reached_in(const CustomerOutcomes& o, std::size_t customer,
                        const std::vector<std::size_t>& tps) {
  for (std::size_t k : tps) {
    const std::int16_t s = o.first_reach[customer * static_cast<std::size_t>(o.touchpoints) + k];
    if (s >= 0) return s;
  }
  return -1;
}

/// Merges two arms' outcome logs (both in increasing customer order) into counts.
void count_changes(const CustomerOutcomes& base, const CustomerOutcomes& variant,
                   const std::vector<std::size_t>& base_tps,
                   const std::vector<std::size_t>& variant_tps, ChangeCounts& counts) {
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < base.customer.size() && j < variant.customer.size()) {
    if (base.customer[i] < variant.customer[j]) {
      ++i;
    } else if (variant.customer[j] < base.customer[i]) {
      ++j;
    } else {
      std::int32_t where = reached_in(variant, j, variant_tps);
      if (where < 0) where = reached_in(base, i, base_tps);
      ChangeRow& row = counts[{variant.segment[j], where}];
      const bool b = base.converted[i] != 0;
      const bool v = variant.converted[j] != 0;
      row.customers += 1;
      row.converted_base += b ? 1 : 0;
      row.converted_variant += v ? 1 : 0;
      row.gained += (v && !b) ? 1 : 0;
      row.lost += (b && !v) ? 1 : 0;
      ++i;
      ++j;
    }
  }
}

/// Index, in the model's touchpoints, of each named touchpoint it has.
std::vector<std::size_t> positions(const Model& m, const std::vector<std::string>& names) {
  std::vector<std::size_t> out;
  for (const auto& n : names) {
    const std::size_t k = index_of(m.touchpoint_names, n);
    if (k < m.touchpoint_names.size()) out.push_back(k);
  }
  return out;
}

/// Per replication: the base result, each variant's, and the change counts.
struct PairedReplication {
  ReplicationResult base;
  std::vector<ReplicationResult> variants;
  std::vector<ChangeCounts> changes;
};

std::string signed_number(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.*f", decimals, x);
  return buf;
}

std::string money(double x) { return std::string(x < 0 ? "-$" : "+$") + group_thousands(x); }

}  // namespace

std::vector<DeltaRow> paired_deltas(const Run& base, const Run& variant, const Run* independent) {
  std::vector<DeltaRow> rows;
  const auto& names = base.info.metric_names;
  for (std::size_t m = 0; m < names.size(); ++m) {
    const std::size_t mv = index_of(variant.info.metric_names, names[m]);
    if (mv == variant.info.metric_names.size()) continue;
    std::vector<double> b, v, d, di;
    for (std::size_t r = 0; r < base.replications.size() && r < variant.replications.size(); ++r) {
      const double x = base.replications[r].metrics[m];
      const double y = variant.replications[r].metrics[mv];
      if (std::isnan(x) || std::isnan(y)) continue;
      b.push_back(x);
      v.push_back(y);
      d.push_back(y - x);
      if (independent != nullptr && r < independent->replications.size()) {
        const double z = independent->replications[r].metrics[mv];
        if (!std::isnan(z)) di.push_back(z - x);
      }
    }
    DeltaRow row;
    row.metric = names[m];
    row.n = static_cast<std::int64_t>(d.size());
    if (d.empty()) {
      row.base_mean = row.variant_mean = row.delta = row.delta_std = row.ci_low = row.ci_high =
          kNaN;
      row.lift = row.lift_ci_low = row.lift_ci_high = row.variance_reduction = kNaN;
      rows.push_back(row);
      continue;
    }
    const auto n = static_cast<double>(d.size());
    auto mean = [](const std::vector<double>& x) {
      double s = 0.0;
      for (double e : x) s += e;
      return s / static_cast<double>(x.size());
    };
    row.base_mean = mean(b);
    row.variant_mean = mean(v);
    row.delta = mean(d);
    const double var_d = variance(d, row.delta);
    row.delta_std = std::sqrt(var_d);
    const double half = t95_factor(row.n) * std::sqrt(var_d / n);
    row.ci_low = row.delta - half;
    row.ci_high = row.delta + half;
    // Lift = delta / base mean; delta method with the covariance of the paired means.
    if (row.base_mean != 0.0) {
      row.lift = row.delta / row.base_mean;
      double cov = 0.0;
      for (std::size_t i = 0; i < d.size(); ++i) cov += (d[i] - row.delta) * (b[i] - row.base_mean);
      cov = d.size() > 1 ? cov / (n - 1.0) : kNaN;
      const double var_b = variance(b, row.base_mean);
      const double var_lift = (var_d - 2.0 * row.lift * cov + row.lift * row.lift * var_b) /
                              (n * row.base_mean * row.base_mean);
      const double lift_half = t95_factor(row.n) * std::sqrt(std::max(0.0, var_lift));
      row.lift_ci_low = row.lift - lift_half;
      row.lift_ci_high = row.lift + lift_half;
    } else {
      row.lift = row.lift_ci_low = row.lift_ci_high = kNaN;
    }
    if (independent != nullptr && di.size() > 1) {
      const double var_i = variance(di, mean(di));
      row.variance_reduction = var_d > 0.0 ? var_i / var_d : kInf;
    } else {
      row.variance_reduction = kNaN;
    }
    rows.push_back(row);
  }
  return rows;
}

namespace {

// A paired difference "moved" when its 95% interval excludes 0.
bool moved(const DeltaRow* r) {
  return r != nullptr && !std::isnan(r->ci_low) && (r->ci_low > 0.0 || r->ci_high < 0.0);
}

std::string count_with_ci(const DeltaRow& r, const std::string& unit) {
  std::string out = signed_number(r.delta, 1) + " " + unit;
  if (!std::isnan(r.ci_low))
    out += " (95% CI " + signed_number(r.ci_low, 1) + " to " + signed_number(r.ci_high, 1) + ")";
  return out;
}

std::string money_with_ci(const DeltaRow& r) {
  std::string out = money(r.delta);
  if (!std::isnan(r.ci_low)) out += " (95% CI " + money(r.ci_low) + " to " + money(r.ci_high) + ")";
  return out;
}

}  // namespace

std::string verdict(const std::string& name, const std::vector<DeltaRow>& deltas) {
  auto find = [&](const std::string& metric) -> const DeltaRow* {
    for (const auto& r : deltas) {
      if (r.metric == metric && !std::isnan(r.delta)) return &r;
    }
    return nullptr;
  };
  const DeltaRow* conv = find("conversions");
  const DeltaRow* revenue = find("revenue");
  const DeltaRow* cost = find("touchpoint_cost");
  const DeltaRow* net = find("net_value");
  // Led by the first of customers won, revenue, cost whose interval excludes 0 (as lcsim.recommend's
  // sentence), so a change that moves only money does not open with "+0.0 customers".
  std::vector<std::string> parts;
  bool cost_said = false;
  if (moved(conv)) {
    parts.push_back(count_with_ci(*conv, "customers won"));
  } else if (moved(revenue)) {
    parts.push_back("no clear change in customers won; revenue " + money_with_ci(*revenue));
  } else if (moved(cost)) {
    parts.push_back("no clear change in customers won or revenue; touchpoint and staff cost " +
                    money_with_ci(*cost));
    cost_said = true;
  } else {
    parts.push_back("no clear change in customers won, revenue or cost");
  }
  if (cost != nullptr && !cost_said)
    parts.push_back("touchpoint and staff cost " + money(cost->delta));
  if (moved(conv) && cost != nullptr && conv->delta > 0.0 && cost->delta > 0.0) {
    parts.push_back("cost per extra customer won $" + group_thousands(cost->delta / conv->delta));
  }
  if (net != nullptr) parts.push_back("net value (discounted) " + money_with_ci(*net));
  std::string out = name + ": ";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i > 0 ? "; " : "") + parts[i];
  return out + "; per replication";
}

Comparison compare(const Model& base, const std::vector<const Model*>& variants,
                   const CompareOptions& options) {
  const std::uint64_t seed = options.has_seed ? options.seed : base.seed;
  const int first_count = options.replications > 0 ? options.replications : base.replications;
  if (options.precision < 0.0 || std::isnan(options.precision)) {
    throw InputError("<options>", 0, "precision",
                     expected_got("a fraction > 0", std::to_string(options.precision)));
  }
  if (options.precision > 0.0) {
    if (options.batch < 2)
      throw InputError("<options>", 0, "batch",
                       expected_got("an integer >= 2", std::to_string(options.batch)));
    for (const auto& metric : options.precision_metrics) {
      const auto names = metric_names(base.stage_names, base.resource_names);
      if (index_of(names, metric) == names.size()) {
        throw InputError("<options>", 0, "precision_metrics", "unknown metric '" + metric + "'");
      }
    }
  }
  const std::size_t v_count = variants.size();
  std::vector<std::vector<std::string>> changed(v_count);
  std::vector<std::vector<std::size_t>> base_tps(v_count);
  std::vector<std::vector<std::size_t>> variant_tps(v_count);
  for (std::size_t v = 0; v < v_count; ++v) {
    changed[v] = changed_touchpoints(base, *variants[v]);
    base_tps[v] = positions(base, changed[v]);
    variant_tps[v] = positions(*variants[v], changed[v]);
  }

  const Engine base_engine(base);
  std::vector<Engine> engines;
  engines.reserve(v_count);
  for (const Model* m : variants) engines.emplace_back(*m);

  std::vector<PairedReplication> paired;
  auto simulate_batch = [&](int first, int count) {
    paired.resize(static_cast<std::size_t>(first + count));
    detail::parallel_for(count, options.threads, options.cancel, options.on_progress,
                         [&](int i, const detail::TaskControl& task) {
                           const int r = first + i;
                           SimulationControl control;
                           control.cancel = task.stop;
                           control.progress = task.progress;
                           control.seed_override = seed;
                           control.has_seed = true;
                           CustomerOutcomes base_out;
                           CustomerOutcomes variant_out;
                           control.outcomes = options.who_changed ? &base_out : nullptr;
                           PairedReplication& p = paired[static_cast<std::size_t>(r)];
                           p.base = base_engine.simulate(r, control);
                           p.variants.resize(v_count);
                           p.changes.assign(v_count, {});
                           for (std::size_t v = 0; v < v_count; ++v) {
                             control.outcomes = options.who_changed ? &variant_out : nullptr;
                             p.variants[v] = engines[v].simulate(r, control);
                             if (options.who_changed) {
                               count_changes(base_out, variant_out, base_tps[v], variant_tps[v],
                                             p.changes[v]);
                             }
                           }
                         });
  };

  auto runs_of = [&](std::size_t v) {
    std::vector<ReplicationResult> reps;
    reps.reserve(paired.size());
    for (const auto& p : paired) reps.push_back(p.variants[v]);
    return assemble_run(*variants[v], "", seed, std::move(reps), false);
  };
  auto base_run = [&] {
    std::vector<ReplicationResult> reps;
    reps.reserve(paired.size());
    for (const auto& p : paired) reps.push_back(p.base);
    return assemble_run(base, "", seed, std::move(reps), false);
  };

  // Replications: a fixed count, or batches until the precision target holds.
  Comparison out;
  out.precision = options.precision;
  out.precision_metrics =
      options.precision > 0.0 ? options.precision_metrics : std::vector<std::string>{};
  simulate_batch(0, first_count);
  // Is the precision target met for every precision metric (of every variant)?
  auto precise = [&] {
    const Run b = base_run();
    std::vector<Run> vs;
    for (std::size_t v = 0; v < v_count; ++v) vs.push_back(runs_of(v));
    auto half = [](const SummaryRow& s) { return (s.ci_high - s.ci_low) / 2.0; };
    for (const auto& metric : options.precision_metrics) {
      const std::size_t m = index_of(b.info.metric_names, metric);
      const double level = options.precision * std::fabs(b.summary[m].mean);
      if (!options.precision_on_delta && !(half(b.summary[m]) <= level)) return false;
      for (const Run& vr : vs) {
        if (options.precision_on_delta) {
          for (const auto& row : paired_deltas(b, vr)) {
            if (row.metric == metric && !((row.ci_high - row.ci_low) / 2.0 <= level)) return false;
          }
        } else {
          const std::size_t mv = index_of(vr.info.metric_names, metric);
          if (mv < vr.summary.size() &&
              !(half(vr.summary[mv]) <= options.precision * std::fabs(vr.summary[mv].mean))) {
            return false;
          }
        }
      }
    }
    return true;
  };
  while (options.precision > 0.0) {
    const bool met = precise();
    if (met) break;
    const int have = static_cast<int>(paired.size());
    if (have >= options.max_replications) {
      out.precision_met = false;
      break;
    }
    simulate_batch(have, std::min(options.batch, options.max_replications - have));
  }

  out.replications = static_cast<int>(paired.size());
  out.base = base_run();
  for (std::size_t v = 0; v < v_count; ++v) {
    VariantComparison vc;
    vc.run = runs_of(v);
    vc.changed_touchpoints = changed[v];
    Run independent;
    if (options.measure_independent) {
      RunOptions ind;
      ind.replications = out.replications;
      ind.seed = seed ^ kIndependentSalt;
      ind.has_seed = true;
      ind.threads = options.threads;
      ind.cancel = options.cancel;
      ind.on_progress = options.on_progress;
      independent = simulate(*variants[v], ind);
    }
    vc.deltas =
        paired_deltas(out.base, vc.run, options.measure_independent ? &independent : nullptr);
    if (options.who_changed) {
      ChangeCounts total;
      for (const auto& p : paired) {
        for (const auto& [key, row] : p.changes[v]) {
          ChangeRow& t = total[key];
          t.customers += row.customers;
          t.converted_base += row.converted_base;
          t.converted_variant += row.converted_variant;
          t.gained += row.gained;
          t.lost += row.lost;
        }
      }
      const Model& vm = *variants[v];
      for (auto& [key, row] : total) {
        row.segment = vm.segment_names[static_cast<std::size_t>(key.first)];
        row.reached_in =
            key.second < 0 ? std::string() : vm.stage_names[static_cast<std::size_t>(key.second)];
        vc.changes.push_back(row);
      }
    }
    vc.verdict = verdict(vc.run.info.name, vc.deltas);
    out.variants.push_back(std::move(vc));
  }
  return out;
}

}  // namespace lcsim
