// Closed form of the Markov part of a scenario (absorbing jump chains, fundamental matrix) and the
// analytic elasticities of conversion probability and time to convert. Notation:
//   P     the jump chain of one segment (S x S, rows of absorbing stages zero)
//   m     mean dwell per stage
//   W     transient stages (not absorbing, not won) from which won can be reached; with won
//         absorbing, M = I - P[W, W] is nonsingular and N = M^-1 counts visits before conversion
//   h     = N P[W, won]          P(convert) from each stage of W
//   g     = N (h o m)            E[T 1{convert}] from each stage of W (T: days to conversion)
// For a mix of starts with weights a (over W): P = a.h, G = a.g, E[T | convert] = G / P.
// A change dP of one row i of P gives (with n = N^T a and w = N^T (n o m))
//   dP_conv = n_i (dP_i . h~),      dG = n_i (dP_i . g~) + w_i (dP_i . h~),
// where h~, g~ extend h, g by h~(won) = 1 and zero elsewhere; a change dm_i gives dG = n_i h_i.
// This is dN = N dQ N written without forming N.
#include "lcsim/analysis/markov.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "lcsim/core/error.hpp"

namespace lcsim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

std::size_t at(Index i) { return static_cast<std::size_t>(i); }

std::string where(const Model& model) {
  return model.scenario_file.empty() ? std::string("<analysis>") : model.scenario_file;
}

std::string days(double x) {
  char buffer[64];
  if (std::isinf(x)) return "infinite";
  std::snprintf(buffer, sizeof buffer, "%.1f days", x);
  return buffer;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// Everything the closed form needs about one segment, for every start stage at once.
struct Chain {
  Index s_count = 0;
  MatrixXd p;  // [S, S] jump chain
  VectorXd m;  // [S] mean dwell (0 for absorbing)
  std::vector<std::uint8_t> absorbing;
  std::vector<std::vector<std::uint8_t>> reach;  // reach[i][j]: a path of >= 1 move from i to j
  MatrixXd hit;            // [S, S] P(stage j is ever entered | start in i); 1 on the diagonal
  MatrixXd visits;         // [S, S] expected entries (+inf for stages never left)
  VectorXd to_absorption;  // [S] expected days until an absorbing stage
  std::vector<std::uint8_t> trap;  // [S] transient, but no absorbing stage can be reached
  // Conversion chain (won absorbing)
  std::vector<Index> w;              // stages of W
  std::vector<Index> w_of;           // [S] index in W or -1
  Eigen::PartialPivLU<MatrixXd> lu;  // of I - P[W, W]
  VectorXd h;                        // [|W|]
  VectorXd g;                        // [|W|]
};

/// Solves (I - P[C, C]) x = P[C, target] for the stages C that can reach `target`.
void hit_column(Chain& c, Index target) {
  std::vector<Index> set;
  for (Index i = 0; i < c.s_count; ++i) {
    if (i != target && c.absorbing[at(i)] == 0 && c.reach[at(i)][at(target)] != 0) set.push_back(i);
  }
  for (Index i = 0; i < c.s_count; ++i) c.hit(i, target) = 0.0;
  c.hit(target, target) = 1.0;
  if (set.empty()) return;
  const auto n = static_cast<Index>(set.size());
  MatrixXd a = MatrixXd::Identity(n, n);
  VectorXd b(n);
  for (Index r = 0; r < n; ++r) {
    for (Index k = 0; k < n; ++k) a(r, k) -= c.p(set[at(r)], set[at(k)]);
    b(r) = c.p(set[at(r)], target);
  }
  const VectorXd x = a.partialPivLu().solve(b);
  for (Index r = 0; r < n; ++r) c.hit(set[at(r)], target) = x(r);
}

Chain build_chain(const Model& model, SegmentId segment) {
  Chain c;
  const int s_count = model.num_stages();
  c.s_count = s_count;
  c.p = MatrixXd::Zero(s_count, s_count);
  c.m = VectorXd::Zero(s_count);
  c.absorbing = model.absorbing;
  for (int i = 0; i < s_count; ++i) {
    if (c.absorbing[at(i)] != 0) continue;
    const StageRule& rule = model.rule(segment, i);
    c.m(i) = rule.dwell.mean();
    for (std::size_t k = 0; k < rule.next_stages.size(); ++k)
      c.p(i, rule.next_stages[k]) += rule.next_probs[k];
  }
  // Reachability in >= 1 move (absorbing stages have no moves out).
  c.reach.assign(at(s_count), std::vector<std::uint8_t>(at(s_count), 0));
  for (Index i = 0; i < s_count; ++i) {
    std::vector<Index> stack;
    for (Index j = 0; j < s_count; ++j) {
      if (c.p(i, j) > 0.0) stack.push_back(j);
    }
    while (!stack.empty()) {
      const Index j = stack.back();
      stack.pop_back();
      if (c.reach[at(i)][at(j)] != 0) continue;
      c.reach[at(i)][at(j)] = 1;
      for (Index k = 0; k < s_count; ++k) {
        if (c.p(j, k) > 0.0 && c.reach[at(i)][at(k)] == 0) stack.push_back(k);
      }
    }
  }
  c.hit = MatrixXd::Zero(s_count, s_count);
  for (Index j = 0; j < s_count; ++j) hit_column(c, j);

  // Expected visits: stages that cannot end in an absorbing stage (traps) are visited forever.
  c.trap.assign(at(s_count), 0);
  std::vector<Index> finite;
  for (Index i = 0; i < s_count; ++i) {
    if (c.absorbing[at(i)] != 0) continue;
    bool ends = false;
    for (Index a = 0; a < s_count; ++a)
      ends = ends || (c.absorbing[at(a)] != 0 && c.reach[at(i)][at(a)] != 0);
    if (ends) {
      finite.push_back(i);
    } else {
      c.trap[at(i)] = 1;
    }
  }
  c.visits = MatrixXd::Zero(s_count, s_count);
  if (!finite.empty()) {
    const auto n = static_cast<Index>(finite.size());
    MatrixXd a = MatrixXd::Identity(n, n);
    for (Index r = 0; r < n; ++r) {
      for (Index k = 0; k < n; ++k) a(r, k) -= c.p(finite[at(r)], finite[at(k)]);
    }
    const MatrixXd fundamental = a.partialPivLu().solve(MatrixXd::Identity(n, n));
    for (Index r = 0; r < n; ++r) {
      for (Index k = 0; k < n; ++k) c.visits(finite[at(r)], finite[at(k)]) = fundamental(r, k);
    }
  }
  for (Index s = 0; s < s_count; ++s) {
    for (Index k = 0; k < s_count; ++k) {
      if (c.absorbing[at(k)] != 0) {
        c.visits(s, k) = c.hit(s, k);  // entered at most once
      } else if (c.trap[at(k)] != 0 && c.hit(s, k) > 0.0) {
        c.visits(s, k) = kInf;
      }
    }
  }
  c.to_absorption = VectorXd::Zero(s_count);
  for (Index s = 0; s < s_count; ++s) {
    double total = 0.0;
    for (Index k = 0; k < s_count; ++k) {
      if (c.absorbing[at(k)] != 0 || c.visits(s, k) == 0.0) continue;
      total += std::isinf(c.visits(s, k)) ? kInf : c.visits(s, k) * c.m(k);
    }
    c.to_absorption(s) = total;
  }

  // Conversion chain: W = transient stages other than won that can reach won.
  const Index won = model.won;
  c.w_of.assign(at(s_count), -1);
  for (Index i = 0; i < s_count; ++i) {
    if (i != won && c.absorbing[at(i)] == 0 && c.reach[at(i)][at(won)] != 0) {
      c.w_of[at(i)] = static_cast<Index>(c.w.size());
      c.w.push_back(i);
    }
  }
  const auto nw = static_cast<Index>(c.w.size());
  c.h = VectorXd::Zero(nw);
  c.g = VectorXd::Zero(nw);
  if (nw > 0) {
    MatrixXd a = MatrixXd::Identity(nw, nw);
    VectorXd r(nw);
    VectorXd mw(nw);
    for (Index x = 0; x < nw; ++x) {
      for (Index y = 0; y < nw; ++y) a(x, y) -= c.p(c.w[at(x)], c.w[at(y)]);
      r(x) = c.p(c.w[at(x)], won);
      mw(x) = c.m(c.w[at(x)]);
    }
    c.lu.compute(a);
    c.h = c.lu.solve(r);
    const VectorXd hm = c.h.cwiseProduct(mw);
    c.g = c.lu.solve(hm);
  }
  return c;
}

/// h~ and g~ of a stage: values over W, 1 and 0 at won, 0 elsewhere.
double h_ext(const Chain& c, Index k, Index won) {
  if (k == won) return 1.0;
  const Index x = c.w_of[at(k)];
  return x < 0 ? 0.0 : c.h(x);
}
double g_ext(const Chain& c, Index k) {
  const Index x = c.w_of[at(k)];
  return x < 0 ? 0.0 : c.g(x);
}

std::string parameter_path(const Model& model, SegmentId segment, StageId stage, StageId target) {
  std::string out;
  if (model.num_segments() > 1) out = "segments." + model.segment_names[at(segment)] + ".";
  out += "stages." + model.stage_names[at(stage)];
  out += target >= 0 ? ".next." + model.stage_names[at(target)] : std::string(".dwell.mean");
  return out;
}

/// Elasticities of P and of T = G / P from the derivatives dP, dG at θ.
void set_elasticities(Sensitivity& s, double p, double g, double dp, double dg) {
  if (!(p > 0.0)) {
    s.elasticity_conversion = kNaN;
    s.elasticity_time = kNaN;
    return;
  }
  s.elasticity_conversion = dp * s.value / p;
  const double t = g / p;
  const double dt = (dg - t * dp) / p;
  s.elasticity_time = t > 0.0 ? dt * s.value / t : kNaN;
}

/// Sorts by |elasticity_conversion|, then |elasticity_time| (NaN last), stable; sets rank.
void rank(std::vector<Sensitivity>& list) {
  const auto key = [](double x) { return std::isnan(x) ? -1.0 : std::fabs(x); };
  std::stable_sort(list.begin(), list.end(), [&](const Sensitivity& a, const Sensitivity& b) {
    const double ca = key(a.elasticity_conversion);
    const double cb = key(b.elasticity_conversion);
    if (ca != cb) return ca > cb;
    return key(a.elasticity_time) > key(b.elasticity_time);
  });
  for (std::size_t i = 0; i < list.size(); ++i) list[i].rank = static_cast<int>(i) + 1;
}

InputError bad(const Model& model, const std::string& field, const std::string& message) {
  return InputError(where(model), 0, field, message);
}

SegmentId segment_by_name(const Model& model, const std::string& name) {
  for (int g = 0; g < model.num_segments(); ++g) {
    if (model.segment_names[at(g)] == name) return g;
  }
  throw bad(model, "segment",
            "unknown segment '" + name + "'; segments: " + join(model.segment_names));
}

StageId stage_by_name(const Model& model, const std::string& name) {
  for (int s = 0; s < model.num_stages(); ++s) {
    if (model.stage_names[at(s)] == name) return s;
  }
  throw bad(model, "start", "unknown stage '" + name + "'; stages: " + join(model.stage_names));
}

}  // namespace

const char* to_string(ParameterKind kind) {
  return kind == ParameterKind::kNext ? "next" : "dwell_mean";
}

std::vector<StartWeight> population_mix(const Model& model) {
  std::map<std::pair<SegmentId, StageId>, double> weight;
  const auto add = [&](SegmentId segment, StageId stage, double count) {
    if (!(count > 0.0)) return;
    if (segment >= 0) {
      weight[{segment, stage}] += count;
      return;
    }
    for (int g = 0; g < model.num_segments(); ++g) {
      const double share = model.segment_share[at(g)];
      if (share > 0.0) weight[{g, stage}] += count * share;
    }
  };
  for (const InitialGroup& group : model.initial)
    add(group.segment, group.stage, static_cast<double>(group.count));
  for (const ArrivalProcess& stream : model.arrivals) {
    add(stream.segment, stream.stage, stream.rate_per_day * model.horizon);
  }
  std::vector<StartWeight> mix;
  mix.reserve(weight.size());
  for (const auto& [key, w] : weight) mix.push_back(StartWeight{key.first, key.second, w});
  return mix;
}

MarkovAnalysis analyze_mix(const Model& model, const std::vector<StartWeight>& mix,
                           const std::string& description) {
  const int s_count = model.num_stages();
  const int g_count = model.num_segments();
  if (mix.empty())
    throw bad(model, "start", "nothing to analyse: no (segment, start stage) was given");
  double total = 0.0;
  for (const StartWeight& sw : mix) {
    if (sw.segment < 0 || sw.segment >= g_count) {
      throw bad(model, "segment",
                expected_got("a segment index in [0, " + std::to_string(g_count) + ")",
                             std::to_string(sw.segment)));
    }
    if (sw.start < 0 || sw.start >= s_count) {
      throw bad(model, "start",
                expected_got("a stage index in [0, " + std::to_string(s_count) + ")",
                             std::to_string(sw.start)));
    }
    if (!(sw.weight >= 0.0) || !std::isfinite(sw.weight)) {
      throw bad(model, "weight", expected_got("a finite weight >= 0", std::to_string(sw.weight)));
    }
    total += sw.weight;
  }
  if (!(total > 0.0)) throw bad(model, "weight", "the weights of the starts sum to 0");

  MarkovAnalysis out;
  out.stage_names = model.stage_names;
  out.segment_names = model.segment_names;
  out.won = model.stage_names[at(model.won)];
  out.description = description;
  out.customers = kNaN;
  out.reach_probability.assign(at(s_count), 0.0);
  out.expected_visits.assign(at(s_count), 0.0);
  out.expected_days.assign(at(s_count), 0.0);
  out.mean_dwell.assign(at(s_count), 0.0);

  // One chain per segment that carries weight.
  std::vector<double> segment_weight(at(g_count), 0.0);
  for (const StartWeight& sw : mix) segment_weight[at(sw.segment)] += sw.weight / total;
  std::vector<Chain> chains(at(g_count));
  for (int g = 0; g < g_count; ++g) {
    if (segment_weight[at(g)] > 0.0) chains[at(g)] = build_chain(model, g);
  }

  const Index won = model.won;
  double p_total = 0.0;
  double g_total = 0.0;
  double absorption = 0.0;
  std::vector<VectorXd> a(at(g_count));  // start weights over W, per segment
  for (int g = 0; g < g_count; ++g) {
    if (segment_weight[at(g)] > 0.0)
      a[at(g)] = VectorXd::Zero(static_cast<Index>(chains[at(g)].w.size()));
  }
  std::vector<std::string> converted_starts;
  for (const StartWeight& sw : mix) {
    StartResult r;
    r.segment = sw.segment;
    r.start = sw.start;
    r.weight = sw.weight / total;
    r.conversion_probability = 0.0;
    r.time_to_convert = kNaN;
    if (r.weight > 0.0) {
      const Chain& c = chains[at(sw.segment)];
      const Index x = c.w_of[at(sw.start)];
      const bool converted = model.converted[at(sw.start)] != 0;
      if (converted) converted_starts.push_back(model.stage_names[at(sw.start)]);
      if (!converted && x >= 0) {
        r.conversion_probability = c.h(x);
        r.time_to_convert = c.h(x) > 0.0 ? c.g(x) / c.h(x) : kNaN;
        a[at(sw.segment)](x) += r.weight;
        p_total += r.weight * c.h(x);
        g_total += r.weight * c.g(x);
      }
      r.time_to_absorption = c.to_absorption(sw.start);
      absorption += r.weight * r.time_to_absorption;
      for (Index k = 0; k < s_count; ++k) {
        out.reach_probability[at(k)] += r.weight * c.hit(sw.start, k);
        const double v = c.visits(sw.start, k);
        if (v != 0.0) out.expected_visits[at(k)] += r.weight * v;
      }
    } else {
      r.time_to_absorption = kNaN;
    }
    out.starts.push_back(r);
  }
  out.conversion_probability = p_total;
  out.time_to_convert = p_total > 0.0 ? g_total / p_total : kNaN;
  out.time_to_absorption = absorption;

  // Per-stage days: sum over the mix of visits x mean dwell of the start's segment.
  for (Index k = 0; k < s_count; ++k) {
    if (model.absorbing[at(k)] != 0) {
      out.expected_days[at(k)] = kNaN;
      out.mean_dwell[at(k)] = kNaN;
      continue;
    }
    double d = 0.0;
    for (const StartResult& r : out.starts) {
      if (r.weight <= 0.0) continue;
      const Chain& c = chains[at(r.segment)];
      const double v = c.visits(r.start, k);
      if (v != 0.0) d += std::isinf(v) ? kInf : r.weight * v * c.m(k);
    }
    out.expected_days[at(k)] = d;
    double mean = 0.0;
    for (int g = 0; g < g_count; ++g) {
      if (segment_weight[at(g)] > 0.0) mean += segment_weight[at(g)] * chains[at(g)].m(k);
    }
    out.mean_dwell[at(k)] = mean;
  }

  // Sensitivities, segment by segment (each parameter belongs to one segment).
  for (int g = 0; g < g_count; ++g) {
    if (!(segment_weight[at(g)] > 0.0)) continue;
    const Chain& c = chains[at(g)];
    const auto nw = static_cast<Index>(c.w.size());
    VectorXd n = VectorXd::Zero(nw);
    VectorXd wv = VectorXd::Zero(nw);
    if (nw > 0 && a[at(g)].cwiseAbs().maxCoeff() > 0.0) {
      n = c.lu.transpose().solve(a[at(g)]);
      // Exact zeros where no start of the mix leads (LU round-off otherwise leaves 1e-17s).
      for (Index x = 0; x < nw; ++x) {
        const Index i = c.w[at(x)];
        bool reached = false;
        for (Index y = 0; y < nw && !reached; ++y) {
          reached = a[at(g)](y) > 0.0 && (c.w[at(y)] == i || c.reach[at(c.w[at(y)])][at(i)] != 0);
        }
        if (!reached) n(x) = 0.0;
      }
      VectorXd nm(nw);
      for (Index x = 0; x < nw; ++x) nm(x) = n(x) * c.m(c.w[at(x)]);
      wv = c.lu.transpose().solve(nm);
      for (Index x = 0; x < nw; ++x) {
        if (n(x) == 0.0) wv(x) = 0.0;
      }
    }
    for (StageId i = 0; i < s_count; ++i) {
      if (model.absorbing[at(i)] != 0) continue;
      const StageRule& rule = model.rule(g, i);
      const Index x = c.w_of[at(i)];
      for (std::size_t e = 0; e < rule.next_stages.size(); ++e) {
        const double p = rule.next_probs[e];
        if (!(p < 1.0) || !(p > 0.0)) continue;
        const StageId j = rule.next_stages[e];
        Sensitivity s;
        s.kind = ParameterKind::kNext;
        s.segment = g;
        s.stage = i;
        s.target = j;
        s.parameter = parameter_path(model, g, i, j);
        s.value = p;
        double dp = 0.0;
        double dg = 0.0;
        if (x >= 0 && n(x) != 0.0) {
          // Row i moves by +1 at j and -p_ik / (1 - p) elsewhere: dP_i . v = (v_j - P_i . v) / (1 - p).
          const double dph = (h_ext(c, j, won) - c.h(x)) / (1.0 - p);
          const double dpg = (g_ext(c, j) - (c.g(x) - c.h(x) * c.m(i))) / (1.0 - p);
          dp = n(x) * dph;
          dg = n(x) * dpg + wv(x) * dph;
        }
        set_elasticities(s, p_total, g_total, dp, dg);
        out.sensitivity.push_back(std::move(s));
      }
      Sensitivity s;
      s.kind = ParameterKind::kDwellMean;
      s.segment = g;
      s.stage = i;
      s.target = -1;
      s.parameter = parameter_path(model, g, i, -1);
      s.value = c.m(i);
      const double dg = x >= 0 ? n(x) * c.h(x) : 0.0;
      set_elasticities(s, p_total, g_total, 0.0, dg);
      out.sensitivity.push_back(std::move(s));
    }
  }
  rank(out.sensitivity);

  // Notes: what the closed form leaves out or assumes.
  out.notes.push_back(
      "Markov part only: touchpoints (" +
      (model.touchpoint_names.empty() ? std::string("none in this scenario")
                                      : join(model.touchpoint_names)) +
      ") and resource capacity are left out; each stage uses its own dwell and next-probabilities");
  if (!model.resource_names.empty()) {
    std::vector<std::string> served;
    for (StageId i = 0; i < s_count; ++i) {
      if (model.served_by[at(i)] >= 0) served.push_back(model.stage_names[at(i)]);
    }
    out.notes.push_back(
        "served stages (" + join(served) + ", teams: " + join(model.resource_names) +
        ") enter with the hand-off + service mean and the outcome at zero wait: queueing, "
        "giving up and wait decay are left out, so the closed form is what ample staff would give");
  }
  if (!model.referral_names.empty()) {
    out.notes.push_back(
        "referrals (" + join(model.referral_names) +
        ") bring in new customers and are left out: these figures are per customer who arrives");
  }
  std::vector<std::string> non_exponential;
  for (StageId i = 0; i < s_count; ++i) {
    if (model.absorbing[at(i)] != 0) continue;
    for (int g = 0; g < g_count; ++g) {
      if (!(segment_weight[at(g)] > 0.0)) continue;
      const Dwell& dwell = model.rule(g, i).dwell;
      if (dwell.family() != DwellFamily::kExponential) {
        non_exponential.push_back(model.stage_names[at(i)] + " (" + to_string(dwell.family()) +
                                  ")");
        break;
      }
    }
  }
  if (!non_exponential.empty()) {
    out.notes.push_back(
        "non-exponential dwells enter through their means: " + join(non_exponential) +
        "; probabilities, expected visits and mean times are still exact (semi-Markov)");
  }
  out.notes.push_back("infinite horizon: every customer is followed until absorption (expected " +
                      days(out.time_to_absorption) +
                      " to absorption); the simulation stops at its horizon (" +
                      days(model.horizon) +
                      "), so compare with it only when the horizon is long against these times");
  std::vector<std::string> traps;
  for (StageId i = 0; i < s_count; ++i) {
    if (std::isinf(out.expected_visits[at(i)])) traps.push_back(model.stage_names[at(i)]);
  }
  if (!traps.empty()) {
    out.notes.push_back("no absorbing stage can be reached from " + join(traps) +
                        ": expected visits there and the time to absorption are infinite");
  }
  if (!converted_starts.empty()) {
    std::sort(converted_starts.begin(), converted_starts.end());
    converted_starts.erase(std::unique(converted_starts.begin(), converted_starts.end()),
                           converted_starts.end());
    out.notes.push_back("customers who start in a converted stage (" + join(converted_starts) +
                        ") never count as conversions, as in the simulation");
  }
  if (!(p_total > 0.0)) {
    out.notes.push_back(
        "won ('" + out.won +
        "') cannot be reached: the time to convert and every elasticity are undefined (NaN)");
  }
  out.notes.push_back(
      "elasticity = (dY/dθ)(θ/Y) for Y = P(convert) and E[time to convert | convert]; a next-probability "
      "p(i->j) changes with the other entries of row i rescaled proportionally so the row sums to 1 "
      "(entries equal to 1 have nothing to trade against and are not listed); ranked by |elasticity of "
      "conversion|, then |elasticity of time|");
  return out;
}

MarkovAnalysis analyze(const Model& model, SegmentId segment, StageId start) {
  if (segment < 0 || segment >= model.num_segments()) {
    throw bad(model, "segment",
              expected_got("a segment index in [0, " + std::to_string(model.num_segments()) + ")",
                           std::to_string(segment)));
  }
  if (start < 0 || start >= model.num_stages()) {
    throw bad(model, "start",
              expected_got("a stage index in [0, " + std::to_string(model.num_stages()) + ")",
                           std::to_string(start)));
  }
  const std::string label =
      "segment " + model.segment_names[at(segment)] + ", start " + model.stage_names[at(start)];
  return analyze_mix(model, {StartWeight{segment, start, 1.0}}, label);
}

MarkovAnalysis analyze_population(const Model& model) {
  const std::vector<StartWeight> mix = population_mix(model);
  if (mix.empty()) throw bad(model, "arrivals", "no customer arrives: nothing to analyse");
  MarkovAnalysis out =
      analyze_mix(model, mix, "population: initial cohorts + arrival rate x horizon");
  double customers = 0.0;
  for (const StartWeight& sw : mix) customers += sw.weight;
  out.customers = customers;
  return out;
}

MarkovAnalysis analyze(const Model& model, const std::string& segment, const std::string& start) {
  if (segment.empty() && start.empty()) return analyze_population(model);
  if (!segment.empty() && !start.empty())
    return analyze(model, segment_by_name(model, segment), stage_by_name(model, start));
  if (!segment.empty()) {
    const SegmentId g = segment_by_name(model, segment);
    std::vector<StartWeight> mix;
    for (const StartWeight& sw : population_mix(model)) {
      if (sw.segment == g) mix.push_back(sw);
    }
    if (mix.empty())
      throw bad(model, "segment", "no customer arrives in segment '" + segment + "'");
    MarkovAnalysis out = analyze_mix(
        model, mix, "segment " + segment + ": its initial cohorts + arrival rate x horizon");
    double customers = 0.0;
    for (const StartWeight& sw : mix) customers += sw.weight;
    out.customers = customers;
    return out;
  }
  const StageId s = stage_by_name(model, start);
  std::vector<StartWeight> mix;
  for (int g = 0; g < model.num_segments(); ++g) {
    if (model.segment_share[at(g)] > 0.0)
      mix.push_back(StartWeight{g, s, model.segment_share[at(g)]});
  }
  return analyze_mix(
      model, mix,
      "start " + start + (model.num_segments() > 1 ? ", segments weighted by their shares" : ""));
}

Model without_touchpoints(const Model& model) {
  Model out = model;
  out.touchpoints.clear();
  out.touchpoint_names.clear();
  out.touchpoints_for.clear();
  out.tp_offsets.assign(static_cast<std::size_t>(model.num_segments() * model.num_stages() + 1),
                        0U);
  return out;
}

}  // namespace lcsim
