#include "profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

#include <nlopt.hpp>

#include "nlopt_run.hpp"

namespace lcsim::calibrate_profile {

std::vector<double> gradient(const Quantity& h, const std::vector<double>& theta) {
  std::vector<double> g(theta.size(), 0.0);
  std::vector<double> x = theta;
  for (std::size_t i = 0; i < theta.size(); ++i) {
    const double step = 1e-6 * std::max(1.0, std::abs(theta[i]));
    x[i] = theta[i] + step;
    const double up = h(x);
    x[i] = theta[i] - step;
    const double down = h(x);
    x[i] = theta[i];
    g[i] = (up - down) / (2.0 * step);
  }
  return g;
}

Point maximise(const Problem& problem, std::vector<double> start, const Quantity& h,
               double lambda) {
  const std::size_t k = start.size();
  for (std::size_t i = 0; i < k; ++i)
    start[i] = std::clamp(start[i], problem.lower[i], problem.upper[i]);
  struct Context {
    const Problem* problem;
    const Quantity* h;
    double lambda;
    double best = -std::numeric_limits<double>::infinity();
    std::vector<double> best_theta;
    int evaluations = 0;
  } context{&problem, &h, lambda, -std::numeric_limits<double>::infinity(), start, 0};
  const bool tilted = static_cast<bool>(h) && lambda != 0.0;
  Point out;
  if (k == 0) {
    out.theta = start;
    out.loglik = problem.loglik(start, nullptr);
    out.converged = std::isfinite(out.loglik);
    out.status = "SUCCESS";
    return out;
  }
  nlopt::opt opt(nlopt::LD_LBFGS, static_cast<unsigned>(k));
  opt.set_lower_bounds(problem.lower);
  opt.set_upper_bounds(problem.upper);
  opt.set_ftol_rel(problem.relative_tolerance);
  opt.set_xtol_rel(1e-10);
  opt.set_maxeval(problem.max_evaluations);
  opt.set_min_objective(
      [](const std::vector<double>& x, std::vector<double>& grad, void* data) -> double {
        auto* c = static_cast<Context*>(data);
        ++c->evaluations;
        std::vector<double> g;
        double value = c->problem->loglik(x, grad.empty() ? nullptr : &g);
        if (!std::isfinite(value)) {
          if (!grad.empty()) std::fill(grad.begin(), grad.end(), 0.0);
          return std::numeric_limits<double>::max();
        }
        if (c->lambda != 0.0 && *c->h) {
          value += c->lambda * (*c->h)(x);
          if (!grad.empty()) {
            const std::vector<double> gh = gradient(*c->h, x);
            for (std::size_t i = 0; i < g.size(); ++i) g[i] += c->lambda * gh[i];
          }
        }
        for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = -g[i];
        if (value > c->best) {
          c->best = value;
          c->best_theta = x;
        }
        return -value;
      },
      &context);
  double minimum = 0.0;
  std::vector<double> x = start;
  const nlopt::result result = calibrate_nlopt::optimize(opt, x, minimum);
  out.status = calibrate_nlopt::result_name(result);
  out.evaluations = context.evaluations;
  out.theta = context.best_theta;
  if (!std::isfinite(context.best)) return out;
  std::vector<double> g;
  out.loglik = problem.loglik(out.theta, &g);
  if (tilted) {
    const std::vector<double> gh = gradient(h, out.theta);
    for (std::size_t i = 0; i < g.size(); ++i) g[i] += lambda * gh[i];
  }
  for (std::size_t i = 0; i < k; ++i) {
    const bool bound =
        out.theta[i] <= problem.lower[i] + 1e-6 || out.theta[i] >= problem.upper[i] - 1e-6;
    if (!bound) out.gradient_max = std::max(out.gradient_max, std::abs(g[i]));
  }
  out.converged =
      calibrate_nlopt::converged(result) && out.gradient_max <= problem.gradient_tolerance;
  return out;
}

Bound profile_bound(const Problem& problem, const Point& best, const Quantity& h, double direction,
                    double critical, double lambda0, double limit) {
  struct Trace {
    double drop = 0.0;    // 2 (best - loglik)
    double value = 0.0;   // h
    double lambda = 0.0;  // |lambda|
    std::vector<double> theta;
  };
  Bound out;
  Trace inside{0.0, h(best.theta), 0.0, best.theta};  // the last point with drop < critical
  Trace outside;                                      // the first point with drop >= critical
  bool have_outside = false;
  double lambda = std::isfinite(lambda0) && lambda0 > 0.0 ? lambda0 : 1.0;
  const auto beyond = [&](double v) { return direction * (v - limit) >= 0.0; };
  constexpr int kMaxSolves = 24;
  for (int iteration = 0; iteration < kMaxSolves; ++iteration) {
    const Point p = maximise(problem, inside.theta, h, direction * lambda);
    ++out.solves;
    if (!std::isfinite(p.loglik)) {  // lost the likelihood: treat as beyond the critical value
      outside = Trace{critical * 4.0, h(p.theta), lambda, p.theta};
      have_outside = true;
    } else {
      if (p.loglik > best.loglik + 1e-6 && (!out.higher || p.loglik > out.better.loglik)) {
        out.higher = true;
        out.better = p;
      }
      Trace t{2.0 * (best.loglik - p.loglik), h(p.theta), lambda, p.theta};
      if (t.drop < critical) {
        const bool stalled =
            have_outside ? false
                         : std::abs(t.value - inside.value) <= 1e-7 * (1.0 + std::abs(t.value)) &&
                               iteration > 0;
        inside = std::move(t);
        if (beyond(inside.value) || stalled) {
          out.open = true;
          out.value = inside.value;
          out.inside_value = inside.value;
          out.inside_loglik = best.loglik - inside.drop / 2.0;
          return out;
        }
      } else {
        outside = std::move(t);
        have_outside = true;
      }
    }
    if (have_outside) {
      // Close enough to interpolate: the drops bracket the critical value tightly.
      // Close enough to interpolate: the drops bracket the critical value tightly, and the two
      // points are close on h's scale (the drop may flatten where h runs to its limit).
      const double gap = std::abs(outside.value - inside.value);
      if ((outside.drop - inside.drop <= 0.1 * critical && gap <= 0.05) ||
          gap <= 1e-6 * (1.0 + std::abs(outside.value))) {
        break;
      }
      lambda =
          inside.lambda > 0.0 ? std::sqrt(inside.lambda * outside.lambda) : outside.lambda / 4.0;
    } else {
      lambda *= 4.0;
    }
  }
  if (!have_outside) {  // never reached the critical value within the solves allowed
    out.open = true;
    out.value = inside.value;
    out.inside_value = inside.value;
    out.inside_loglik = best.loglik - inside.drop / 2.0;
    return out;
  }
  out.inside_value = inside.value;
  out.inside_loglik = best.loglik - inside.drop / 2.0;
  // The drop is close to quadratic in h: interpolate sqrt(drop) linearly.
  const double a = std::sqrt(std::max(inside.drop, 0.0));
  const double b = std::sqrt(outside.drop);
  const double c = std::sqrt(critical);
  out.value =
      b > a ? inside.value + (outside.value - inside.value) * (c - a) / (b - a) : outside.value;
  return out;
}

}  // namespace lcsim::calibrate_profile
