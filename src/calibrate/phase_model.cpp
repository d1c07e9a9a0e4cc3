#include "phase_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <unsupported/Eigen/MatrixFunctions>

#include "power_chain.hpp"

namespace lcsim::phase_model {

double logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double logit(double p) { return std::log(p / (1.0 - p)); }

Layout make_layout(const Structure& st, const std::vector<int>& phases) {
  Layout l;
  l.phases = phases;
  int p = 0;
  for (std::size_t a = 0; a < st.s; ++a) {
    const int k = st.absorbing[a] ? 1 : phases[a];
    l.phases[a] = k;
    l.first.push_back(l.n);
    for (int i = 0; i < k; ++i) l.stage_of.push_back(static_cast<int>(a));
    l.n += k;
    if (st.absorbing[a]) {
      l.rate_at.push_back(-1);
      l.exit_at.push_back(-1);
      l.next_at.push_back(-1);
      continue;
    }
    l.rate_at.push_back(p);
    p += k;
    l.exit_at.push_back(p);
    p += k - 1;
    l.next_at.push_back(p);
    p += static_cast<int>(st.exits[a].size()) - 1;
  }
  l.parameters = static_cast<std::size_t>(p);
  return l;
}

StageParams stage_params(const Structure& st, const Layout& l, const std::vector<double>& theta,
                         std::size_t a) {
  StageParams sp;
  const int k = l.phases[a];
  for (int i = 0; i < k; ++i) {
    sp.r[static_cast<std::size_t>(i)] = std::exp(theta[static_cast<std::size_t>(l.rate_at[a] + i)]);
    sp.p[static_cast<std::size_t>(i)] =
        i + 1 < k ? logistic(theta[static_cast<std::size_t>(l.exit_at[a] + i)]) : 1.0;
  }
  const std::size_t m = st.exits[a].size();
  sp.pi.assign(m, 1.0);
  double total = 1.0;
  for (std::size_t j = 1; j < m; ++j) {
    sp.pi[j] = std::exp(theta[static_cast<std::size_t>(l.next_at[a]) + j - 1]);
    total += sp.pi[j];
  }
  for (double& v : sp.pi) v /= total;
  return sp;
}

double coxian_mean(const StageParams& sp, int k) {
  double reach = 1.0;
  double mean = 0.0;
  for (int i = 0; i < k; ++i) {
    mean += reach / sp.r[static_cast<std::size_t>(i)];
    reach *= 1.0 - sp.p[static_cast<std::size_t>(i)];
  }
  return mean;
}

Matrix generator(const Structure& st, const Layout& l, const std::vector<double>& theta) {
  Matrix q = Matrix::Zero(l.n, l.n);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    const StageParams sp = stage_params(st, l, theta, a);
    const int k = l.phases[a];
    for (int i = 0; i < k; ++i) {
      const int row = l.first[a] + i;
      const double r = sp.r[static_cast<std::size_t>(i)];
      const double p = sp.p[static_cast<std::size_t>(i)];
      q(row, row) = -r;
      if (i + 1 < k) q(row, row + 1) = r * (1.0 - p);
      for (std::size_t j = 0; j < st.exits[a].size(); ++j) {
        q(row, l.first[static_cast<std::size_t>(st.exits[a][j])]) += r * p * sp.pi[j];
      }
    }
  }
  return q;
}

std::vector<double> lower_bounds(const Structure& st, const Layout& l) {
  std::vector<double> lo(l.parameters, -kNextBound);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    for (int i = 0; i < l.phases[a]; ++i)
      lo[static_cast<std::size_t>(l.rate_at[a] + i)] = kLogRateLow;
    for (int i = 0; i + 1 < l.phases[a]; ++i)
      lo[static_cast<std::size_t>(l.exit_at[a] + i)] = -kLogitBound;
  }
  return lo;
}

std::vector<double> upper_bounds(const Structure& st, const Layout& l) {
  std::vector<double> hi(l.parameters, kNextBound);
  for (std::size_t a = 0; a < st.s; ++a) {
    if (st.absorbing[a]) continue;
    for (int i = 0; i < l.phases[a]; ++i)
      hi[static_cast<std::size_t>(l.rate_at[a] + i)] = kLogRateHigh;
    for (int i = 0; i + 1 < l.phases[a]; ++i)
      hi[static_cast<std::size_t>(l.exit_at[a] + i)] = kLogitBound;
  }
  return hi;
}

namespace {

/// d f / dQ from d f / d expm(Q u) = g: u L(Q^T u, g), the Fréchet derivative read off the
/// top-right block of expm([[A, g], [0, A]]) with A = (Q u)^T (Van Loan). g is scaled to unit size
/// first so that it does not inflate the norm the scaling and squaring works with.
Matrix frechet(const Matrix& q, double u, const Matrix& g) {
  const auto n = q.rows();
  const double s = g.cwiseAbs().maxCoeff();
  if (!(s > 0.0)) return Matrix::Zero(n, n);
  Matrix block = Matrix::Zero(2 * n, 2 * n);
  const Matrix at = (q * u).transpose();
  block.topLeftCorner(n, n) = at;
  block.bottomRightCorner(n, n) = at;
  block.topRightCorner(n, n) = g / s;
  const Matrix e = block.exp();
  return (u * s) * e.topRightCorner(n, n);
}

/// P(gap) = expm(Q gap unit) for every gap, from the power chain (one exponential) or, when the
/// gaps are too long or too many for a chain (irregular, nearly continuous times), one
/// exponential per gap; and d f / dQ from d f / dP(gap).
class Powers {
 public:
  void build(const Matrix& q, double unit, const std::vector<std::int64_t>& gaps) {
    q_ = q;
    unit_ = unit;
    gaps_ = &gaps;
    std::int64_t top = 0;
    for (const std::int64_t g : gaps) top = std::max(top, g);
    // The chain keeps about 129 + top / 64 matrices: take it while they fit in kChainMemory
    // doubles, else one exponential per gap.
    const double matrices = 129.0 + static_cast<double>(top) / 64.0;
    direct_ = matrices * static_cast<double>(q.size()) > kChainMemory;
    if (!direct_) {
      if (!gaps.empty()) chain_.build((q * unit).exp(), gaps);
      return;
    }
    direct_p_.resize(gaps.size());
    for (std::size_t i = 0; i < gaps.size(); ++i) {
      direct_p_[i] = (q * (static_cast<double>(gaps[i]) * unit)).exp();
    }
  }
  [[nodiscard]] const Matrix& power(std::size_t i) const {
    return direct_ ? direct_p_[i] : chain_.power(i);
  }
  [[nodiscard]] Matrix dq(const std::vector<Matrix>& w) const {
    if (!direct_) return frechet(q_, unit_, chain_.adjoint(w));
    Matrix out = Matrix::Zero(q_.rows(), q_.cols());
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (w[i].size() != 0) out += frechet(q_, static_cast<double>((*gaps_)[i]) * unit_, w[i]);
    }
    return out;
  }

 private:
  static constexpr double kChainMemory = 4e6;  // doubles: 32 MB
  Matrix q_;
  double unit_ = 1.0;
  const std::vector<std::int64_t>* gaps_ = nullptr;
  bool direct_ = false;
  calibrate_chain::PowerChain chain_;
  std::vector<Matrix> direct_p_;
};

}  // namespace

double Likelihood::value(const std::vector<double>& theta, std::vector<double>* gradient,
                         ExitScores* scores) const {
  std::vector<double> own;
  if (scores != nullptr && gradient == nullptr) gradient = &own;
  const Layout& l = layout_;
  const Matrix q = generator(st_, l, theta);
  const auto n = static_cast<Eigen::Index>(l.n);
  const auto s_count = static_cast<Eigen::Index>(st_.s);
  Powers p_chain;
  Powers s_chain;
  p_chain.build(q, data_.unit, data_.gaps);
  // Stays: the within-stage part of Q (phase to phase, and the diagonal).
  Matrix qd;
  if (!data_.stay_gaps.empty()) {
    qd = Matrix::Zero(n, n);
    for (Eigen::Index i = 0; i < n; ++i) {
      qd(i, i) = q(i, i);
      if (i + 1 < n &&
          l.stage_of[static_cast<std::size_t>(i)] == l.stage_of[static_cast<std::size_t>(i + 1)]) {
        qd(i, i + 1) = q(i, i + 1);
      }
    }
    s_chain.build(qd, data_.unit, data_.stay_gaps);
  }
  // Exact entries: R = P(gap) Qin, Qin(m, b) = Q(m, first phase of b) for m outside b.
  Matrix qin = Matrix::Zero(n, s_count);
  if (data_.exact > 0) {
    for (Eigen::Index m = 0; m < n; ++m) {
      for (Eigen::Index b = 0; b < s_count; ++b) {
        if (l.stage_of[static_cast<std::size_t>(m)] != b)
          qin(m, b) = q(m, l.first[static_cast<std::size_t>(b)]);
      }
    }
  }
  const std::size_t g_count = data_.gaps.size();
  std::vector<Matrix> r(data_.exact > 0 ? g_count : 0);
  for (std::size_t g = 0; g < r.size(); ++g) r[g].noalias() = p_chain.power(g) * qin;

  std::vector<Matrix> w;
  std::vector<Matrix> wr;
  std::vector<Matrix> v_w;
  if (gradient != nullptr) {
    w.assign(g_count, Matrix());
    wr.assign(r.size(), Matrix());
    v_w.assign(data_.stay_gaps.size(), Matrix());
  }
  const auto touch = [](Matrix& m, Eigen::Index rows, Eigen::Index cols) -> Matrix& {
    if (m.size() == 0) m = Matrix::Zero(rows, cols);
    return m;
  };
  // Forward over the tree of shared prefixes (parents before children): each node's alpha is its
  // parent's times the step's matrix, normalised; every customer through the node adds the log
  // of the normaliser.
  double ll = 0.0;
  using Vec = std::array<double, kMaxPhases>;
  const std::vector<Data::Node>& nodes = data_.nodes;
  const std::size_t count = nodes.size();
  std::vector<Vec> alpha(count);
  std::vector<double> scale(count, 1.0);
  double product = 1.0;  // the normalisers of single-customer nodes: one log now and then
  for (std::size_t v = 0; v < count; ++v) {
    const Data::Node& node = nodes[v];
    Vec& u = alpha[v];
    if (node.parent < 0) {
      u = Vec{};
      u[0] = 1.0;
      continue;
    }
    const int from = nodes[static_cast<std::size_t>(node.parent)].stage;
    const auto gi = static_cast<std::size_t>(node.gap);
    const int r0 = l.first[static_cast<std::size_t>(from)];
    const int c0 = l.first[static_cast<std::size_t>(node.stage)];
    const int kr = l.phases[static_cast<std::size_t>(from)];
    const int kc = l.phases[static_cast<std::size_t>(node.stage)];
    const Vec& a = alpha[static_cast<std::size_t>(node.parent)];
    u = Vec{};
    double total = 0.0;
    if (node.kind == StepKind::kEntry) {
      double x = 0.0;
      for (int i = 0; i < kr; ++i) x += a[static_cast<std::size_t>(i)] * r[gi](r0 + i, node.stage);
      u[0] = std::max(x, 0.0);
      total = u[0];
    } else if (kr == 1 && kc == 1) {  // one phase to one phase: most steps
      const Matrix& pk = node.kind == StepKind::kPanel ? p_chain.power(gi) : s_chain.power(gi);
      total = std::max(a[0] * pk(r0, c0), 0.0);
      u[0] = total;
    } else {
      const Matrix& pk = node.kind == StepKind::kPanel ? p_chain.power(gi) : s_chain.power(gi);
      for (int j = 0; j < kc; ++j) {
        double x = 0.0;
        for (int i = 0; i < kr; ++i) x += a[static_cast<std::size_t>(i)] * pk(r0 + i, c0 + j);
        x = std::max(x, 0.0);  // expm's rounding may leave -1e-18 where 0 is exact
        u[static_cast<std::size_t>(j)] = x;
        total += x;
      }
    }
    if (!(total > 0.0)) return -std::numeric_limits<double>::infinity();
    const double inv = 1.0 / total;
    for (int j = 0; j < kc; ++j) u[static_cast<std::size_t>(j)] *= inv;
    scale[v] = total;
    if (node.through == 1.0) {
      product *= total;
      if (product < 1e-250) {
        ll += std::log(product);
        product = 1.0;
      }
    } else {
      ll += node.through * std::log(total);
    }
  }
  ll += std::log(product);
  if (gradient == nullptr) return ll;
  // Backward, children before parents: B_v, the sum over the customers through v of their
  // backward vectors at v, is the customers ending at v (a vector of ones) plus each child's
  // M B_child / c_child; the step into v adds alpha_parent B_v^T / c_v to d loglik / dM.
  std::vector<Vec> back(count, Vec{});
  for (std::size_t v = count; v-- > 0;) {
    const Data::Node& node = nodes[v];
    Vec& b = back[v];
    const int kc = l.phases[static_cast<std::size_t>(node.stage)];
    for (int j = 0; j < kc; ++j) b[static_cast<std::size_t>(j)] += node.ends;
    if (node.parent < 0) continue;
    const auto parent = static_cast<std::size_t>(node.parent);
    const int from = nodes[parent].stage;
    const auto gi = static_cast<std::size_t>(node.gap);
    const int r0 = l.first[static_cast<std::size_t>(from)];
    const int c0 = l.first[static_cast<std::size_t>(node.stage)];
    const int kr = l.phases[static_cast<std::size_t>(from)];
    const Vec& a = alpha[parent];
    Vec& up = back[parent];
    const double inv = 1.0 / scale[v];
    if (node.kind == StepKind::kEntry) {
      Matrix& wk = touch(wr[gi], n, s_count);
      for (int i = 0; i < kr; ++i) {
        wk(r0 + i, node.stage) += a[static_cast<std::size_t>(i)] * b[0] * inv;
        up[static_cast<std::size_t>(i)] += r[gi](r0 + i, node.stage) * b[0] * inv;
      }
    } else {
      const bool panel = node.kind == StepKind::kPanel;
      const Matrix& pk = panel ? p_chain.power(gi) : s_chain.power(gi);
      Matrix& wk = touch(panel ? w[gi] : v_w[gi], n, n);
      for (int i = 0; i < kr; ++i) {
        double x = 0.0;
        for (int j = 0; j < kc; ++j) {
          wk(r0 + i, c0 + j) +=
              a[static_cast<std::size_t>(i)] * b[static_cast<std::size_t>(j)] * inv;
          x += pk(r0 + i, c0 + j) * b[static_cast<std::size_t>(j)];
        }
        up[static_cast<std::size_t>(i)] += x * inv;
      }
    }
  }

  // d loglik / dQ: through R = P Qin (both factors), through P, and through the stays.
  Matrix dq = Matrix::Zero(n, n);
  for (std::size_t g = 0; g < wr.size(); ++g) {
    if (wr[g].size() == 0) continue;
    touch(w[g], n, n).noalias() += wr[g] * qin.transpose();
    const Matrix dqin = p_chain.power(g).transpose() * wr[g];
    for (Eigen::Index m = 0; m < n; ++m) {
      for (Eigen::Index b = 0; b < s_count; ++b) {
        if (l.stage_of[static_cast<std::size_t>(m)] != b)
          dq(m, l.first[static_cast<std::size_t>(b)]) += dqin(m, b);
      }
    }
  }
  if (g_count > 0) dq += p_chain.dq(w);
  if (!data_.stay_gaps.empty()) {
    const Matrix dqd = s_chain.dq(v_w);
    for (Eigen::Index i = 0; i < n; ++i) {
      dq(i, i) += dqd(i, i);
      if (i + 1 < n &&
          l.stage_of[static_cast<std::size_t>(i)] == l.stage_of[static_cast<std::size_t>(i + 1)]) {
        dq(i, i + 1) += dqd(i, i + 1);
      }
    }
  }
  chain(theta, dq, *gradient, scores);
  return ll;
}

void Likelihood::chain(const std::vector<double>& theta, const Matrix& dq,
                       std::vector<double>& gradient, ExitScores* scores) const {
  const Layout& l = layout_;
  gradient.assign(theta.size(), 0.0);
  if (scores != nullptr) scores->assign(st_.s, {});
  for (std::size_t a = 0; a < st_.s; ++a) {
    if (st_.absorbing[a]) continue;
    const StageParams sp = stage_params(st_, l, theta, a);
    const int k = l.phases[a];
    const std::size_t m = st_.exits[a].size();
    std::vector<double> to(m);
    std::vector<double> c(m, 0.0);  // sum over phases of r p dq(row, exit)
    for (int i = 0; i < k; ++i) {
      const int row = l.first[a] + i;
      const double r = sp.r[static_cast<std::size_t>(i)];
      const double p = sp.p[static_cast<std::size_t>(i)];
      // The row's entries: diagonal -r, onward r (1 - p), to stage b's phase 1 r p pi_b.
      const double onward = i + 1 < k ? dq(row, row + 1) : 0.0;
      double exits = 0.0;  // sum_b dq(row, b) pi_b
      for (std::size_t j = 0; j < m; ++j) {
        to[j] = dq(row, l.first[static_cast<std::size_t>(st_.exits[a][j])]);
        exits += to[j] * sp.pi[j];
        c[j] += r * p * to[j];
      }
      // d / d log r: every entry of the row scales with r.
      gradient[static_cast<std::size_t>(l.rate_at[a] + i)] +=
          -r * dq(row, row) + r * (1.0 - p) * onward + r * p * exits;
      if (i + 1 < k) {  // d / d logit p = p (1 - p) d / dp
        gradient[static_cast<std::size_t>(l.exit_at[a] + i)] +=
            p * (1.0 - p) * r * (exits - onward);
      }
      // d / d eta_j (j >= 1): r p pi_c (delta_cj - pi_j) summed over c.
      for (std::size_t j = 1; j < m; ++j) {
        gradient[static_cast<std::size_t>(l.next_at[a]) + j - 1] +=
            r * p * sp.pi[j] * (to[j] - exits);
      }
    }
    if (scores != nullptr) {
      double mean = 0.0;
      for (std::size_t j = 0; j < m; ++j) mean += sp.pi[j] * c[j];
      auto& out = (*scores)[a];
      out.resize(m);
      for (std::size_t j = 0; j < m; ++j) out[j] = c[j] - mean;
    }
  }
}

}  // namespace lcsim::phase_model
