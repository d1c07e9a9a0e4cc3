#include "lcsim/calibrate/funnel_fit.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <istream>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Eigen/Dense>
#include <boost/math/distributions/normal.hpp>
#include <unsupported/Eigen/MatrixFunctions>

#include "csv.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/format.hpp"
#include "log_reader.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

namespace text = calibrate_text;

using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;
using RowVector = Eigen::RowVectorXd;

constexpr const char* kColumns[] = {"period", "stage", "entries"};
constexpr const char* kPeriodExpected = "a date (YYYY-MM or YYYY-MM-DD) or an integer";
constexpr double kDefaultIntegerPeriodDays = 30.0;

double nan() { return std::numeric_limits<double>::quiet_NaN(); }

/// A number written in full (no trailing text); std::nullopt otherwise.
std::optional<double> parse_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

/// "YYYY-MM" (the first of the month) or one of kTimestampFormats.
std::optional<Timestamp> parse_period_date(const std::string& s) {
  if (s.size() == 7 && s[4] == '-') {
    return parse_timestamp(s + "-01");
  }
  return parse_timestamp(s);
}

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(std::int64_t y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

/// Softmax of (0, logits).
Vector probabilities(const double* logits, std::size_t m) {
  Vector z(static_cast<Eigen::Index>(m));
  z(0) = 0.0;
  for (std::size_t j = 1; j < m; ++j) z(static_cast<Eigen::Index>(j)) = logits[j - 1];
  z = (z.array() - z.maxCoeff()).exp();
  return z / z.sum();
}

double logit(double p) {
  if (p > 0.0 && p < 1.0) return std::log(p / (1.0 - p));
  return p >= 1.0 ? std::numeric_limits<double>::infinity()
                  : -std::numeric_limits<double>::infinity();
}

double expit(double x) { return x > -700.0 ? 1.0 / (1.0 + std::exp(-x)) : 0.0; }

/// Expected entries of the funnel model: the generator from theta, occupancy over the periods.
class FunnelModel {
 public:
  FunnelModel(const std::vector<std::string>& stages,
              const std::vector<FunnelStageParameters>& parameters, Matrix arrivals,
              std::vector<double> lengths, FunnelStart start)
      : s_(stages.size()),
        n_(parameters.size()),
        parameters_(parameters),
        arrivals_(std::move(arrivals)),
        lengths_(std::move(lengths)),
        start_(start) {
    std::unordered_map<std::string, int> col;
    for (std::size_t i = 0; i < stages.size(); ++i) col.emplace(stages[i], static_cast<int>(i));
    if (n_ > s_) throw std::invalid_argument("funnel model: more parameter stages than stages");
    size_ = 0;
    for (std::size_t i = 0; i < n_; ++i) {
      const auto& p = parameters_[i];
      if (p.stage != stages[i] || p.targets.empty() || p.offset != size_) {
        throw std::invalid_argument("funnel model: parameters[" + std::to_string(i) +
                                    "] do not follow the stages and offsets");
      }
      std::vector<int> cols;
      for (const auto& t : p.targets) {
        const auto it = col.find(t);
        if (it == col.end()) {
          throw std::invalid_argument("funnel model: target '" + t + "' is not a stage");
        }
        cols.push_back(it->second);
      }
      targets_.push_back(std::move(cols));
      size_ += p.targets.size();
    }
    if (static_cast<std::size_t>(arrivals_.rows()) != lengths_.size() ||
        static_cast<std::size_t>(arrivals_.cols()) != n_) {
      throw std::invalid_argument("funnel model: arrivals must be periods x non-absorbing stages");
    }
  }

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::size_t transient() const { return n_; }

  /// Q over all stages (rows of absorbing stages 0).
  [[nodiscard]] Matrix generator(const std::vector<double>& theta) const {
    check(theta);
    Matrix q = Matrix::Zero(static_cast<Eigen::Index>(s_), static_cast<Eigen::Index>(s_));
    for (std::size_t i = 0; i < n_; ++i) {
      const std::size_t k = parameters_[i].offset;
      const std::size_t m = targets_[i].size();
      const double mean = std::exp(theta[k]);
      const Vector p = probabilities(theta.data() + k + 1, m);
      const auto row = static_cast<Eigen::Index>(i);
      for (std::size_t j = 0; j < m; ++j)
        q(row, targets_[i][j]) = p(static_cast<Eigen::Index>(j)) / mean;
      q(row, row) = -1.0 / mean;
    }
    return q;
  }

  /// The steady occupancy -a B^-1 of arrival rates a (a row vector over non-absorbing stages).
  [[nodiscard]] RowVector steady(const Matrix& q, const RowVector& rates) const {
    const auto n = static_cast<Eigen::Index>(n_);
    const Matrix b = q.topLeftCorner(n, n);
    const Vector v = b.transpose().partialPivLu().solve(rates.transpose());
    return -v.transpose();
  }

  /// Expected entries [periods x stages]; entry stages' columns include their arrivals.
  [[nodiscard]] Matrix entries(const std::vector<double>& theta) const {
    const Matrix q = generator(theta);
    const auto n = static_cast<Eigen::Index>(n_);
    const auto s = static_cast<Eigen::Index>(s_);
    const Matrix b = q.topLeftCorner(n, n);
    Matrix flows = q.topRows(n);
    for (Eigen::Index i = 0; i < n; ++i) flows(i, i) = 0.0;
    const auto periods = static_cast<Eigen::Index>(lengths_.size());
    Matrix rates = arrivals_;
    for (Eigen::Index k = 0; k < periods; ++k)
      rates.row(k) /= lengths_[static_cast<std::size_t>(k)];
    RowVector x = RowVector::Zero(n);
    if (start_ == FunnelStart::steady && periods > 0) x = steady(q, rates.row(0));
    struct Blocks {
      Matrix eb, f1, f2;
    };
    std::map<double, Blocks> cache;
    Matrix out = Matrix::Zero(periods, s);
    for (Eigen::Index k = 0; k < periods; ++k) {
      const double length = lengths_[static_cast<std::size_t>(k)];
      auto it = cache.find(length);
      if (it == cache.end()) {
        Matrix big = Matrix::Zero(3 * n, 3 * n);
        big.topLeftCorner(n, n) = b;
        big.block(0, n, n, n).setIdentity();
        big.block(n, 2 * n, n, n).setIdentity();
        const Matrix e = (big * length).exp();
        it = cache
                 .emplace(length, Blocks{e.topLeftCorner(n, n), e.block(0, n, n, n),
                                         e.block(0, 2 * n, n, n)})
                 .first;
      }
      const Blocks& blocks = it->second;
      const RowVector integral = x * blocks.f1 + rates.row(k) * blocks.f2;
      out.row(k) = integral * flows;
      out.row(k).head(n) += arrivals_.row(k);
      x = x * blocks.eb + rates.row(k) * blocks.f1;
    }
    return out;
  }

  [[nodiscard]] const Matrix& arrivals() const { return arrivals_; }
  [[nodiscard]] const std::vector<double>& lengths() const { return lengths_; }

 private:
  void check(const std::vector<double>& theta) const {
    if (theta.size() != size_) {
      throw std::invalid_argument("funnel model: expected " + std::to_string(size_) +
                                  " parameters, got " + std::to_string(theta.size()));
    }
  }

  std::size_t s_;
  std::size_t n_;
  std::vector<FunnelStageParameters> parameters_;
  std::vector<std::vector<int>> targets_;
  std::size_t size_ = 0;
  Matrix arrivals_;
  std::vector<double> lengths_;
  FunnelStart start_;
};

/// d logit(p_j) / d theta (zero outside the stage's logits).
Vector logit_gradient(const std::vector<double>& theta, std::size_t k, std::size_t m,
                      std::size_t j) {
  Vector g = Vector::Zero(static_cast<Eigen::Index>(theta.size()));
  if (m == 1) return g;
  const Vector p = probabilities(theta.data() + k + 1, m);
  // d log p_j / d logit_l = [j == l] - p_l (l = 1 .. m-1; the logit of target 0 is fixed at 0);
  // logit p_j = log p_j - log(1 - p_j), so d/dx = d log p_j / (1 - p_j).
  const double scale = 1.0 - p(static_cast<Eigen::Index>(j));
  for (std::size_t l = 1; l < m; ++l) {
    double d = -p(static_cast<Eigen::Index>(l));
    if (l == j) d += 1.0;
    g(static_cast<Eigen::Index>(k + l)) = d / scale;
  }
  return g;
}

/// The median of sorted-or-not values (the mean of the middle two for an even count).
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

// ================================================================================================
// Reading
// ================================================================================================

std::optional<FunnelStart> parse_funnel_start(const std::string& s) {
  if (s == "steady") return FunnelStart::steady;
  if (s == "empty") return FunnelStart::empty;
  return std::nullopt;
}

FunnelCounts parse_funnel_counts(std::istream& in, const std::string& file) {
  const std::string content = calibrate_log::read_all(in, file);
  const std::vector<csv::Record> records =
      calibrate_log::read_table(content, file, "period, stage, entries");
  calibrate_log::Problems problems(file);
  const csv::Record& header = records.front();
  std::vector<std::string> names;
  for (const auto& f : header.fields) names.push_back(text::trim(f));
  int col[3] = {-1, -1, -1};
  for (int c = 0; c < 3; ++c) {
    const std::string name = kColumns[c];
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] != name) continue;
      if (col[c] >= 0) {
        problems.error(header.line, name,
                       "column '" + name + "' appears twice (columns " +
                           std::to_string(col[c] + 1) + " and " + std::to_string(i + 1) + ")");
        break;
      }
      col[c] = static_cast<int>(i);
    }
    if (col[c] < 0) {
      problems.error(header.line, name,
                     "missing column '" + name +
                         "' (expected columns period, stage, entries; got " + text::join(names) +
                         ")" + did_you_mean(name, names));
    }
  }
  problems.throw_if_errors();
  FunnelCounts out;
  out.file = file;
  calibrate_log::for_each_row(records, problems, "period and stage", [&](const csv::Record& r) {
    if (!calibrate_log::check_width(r, names.size(), problems)) return;
    bool ok = true;
    FunnelRow row;
    row.line = r.line;
    row.period = calibrate_log::required_field(r, col[0], "period", kPeriodExpected, problems, ok);
    row.stage = calibrate_log::required_field(r, col[1], "stage", "a stage name", problems, ok);
    const std::string entries = calibrate_log::field(r, col[2]);
    const std::optional<double> value = parse_number(entries);
    if (!value || !std::isfinite(*value) || *value < 0.0 || *value != std::round(*value)) {
      problems.error(r.line, "entries",
                     expected_got("a count (an integer >= 0)",
                                  entries.empty() ? "an empty value" : "'" + entries + "'"));
      ok = false;
    } else {
      row.entries = *value;
    }
    if (ok) out.rows.push_back(std::move(row));
  });
  problems.throw_if_errors();
  return out;
}

FunnelCounts read_funnel_counts(const std::string& path) {
  std::ifstream in = calibrate_log::open_input(path);
  return parse_funnel_counts(in, path);
}

// ================================================================================================
// Model
// ================================================================================================

std::vector<double> funnel_expected_entries(const std::vector<std::string>& stages,
                                            const std::vector<FunnelStageParameters>& parameters,
                                            const std::vector<double>& theta,
                                            const std::vector<double>& arrivals,
                                            const std::vector<double>& lengths, FunnelStart start) {
  const auto k = static_cast<Eigen::Index>(lengths.size());
  const auto n = static_cast<Eigen::Index>(parameters.size());
  if (arrivals.size() != static_cast<std::size_t>(k * n)) {
    throw std::invalid_argument("funnel_expected_entries: expected " + std::to_string(k * n) +
                                " arrivals (periods x non-absorbing stages), got " +
                                std::to_string(arrivals.size()));
  }
  Matrix a(k, n);
  for (Eigen::Index r = 0; r < k; ++r) {
    for (Eigen::Index c = 0; c < n; ++c) a(r, c) = arrivals[static_cast<std::size_t>(r * n + c)];
  }
  const FunnelModel model(stages, parameters, std::move(a), lengths, start);
  const Matrix e = model.entries(theta);
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(e.size()));
  for (Eigen::Index r = 0; r < e.rows(); ++r) {
    for (Eigen::Index c = 0; c < e.cols(); ++c) out.push_back(e(r, c));
  }
  return out;
}

const EstimateRow* FunnelFit::estimate(const std::string& parameter) const {
  return find_estimate(estimates, parameter);
}

// ================================================================================================
// Fit
// ================================================================================================

FunnelFit fit_funnel(const FunnelCounts& counts, const FunnelFitOptions& options) {
  const std::string& file = counts.file;
  if (!(options.level > 0.0 && options.level < 1.0)) {
    throw InputError(file, 0, "level",
                     expected_got("a number in (0, 1)", text::number(options.level)));
  }
  if (!(options.period_days >= 0.0 && std::isfinite(options.period_days))) {
    throw InputError(file, 0, "period_days",
                     expected_got("a number of days > 0", text::number(options.period_days)));
  }
  if (options.replications < 1) {
    throw InputError(file, 0, "replications",
                     expected_got("an integer >= 1", std::to_string(options.replications)));
  }

  // ---- structure ----
  FunnelFit fit;
  fit.file = file;
  fit.level = options.level;
  {
    std::vector<Problem> errors;
    if (options.transitions.empty()) {
      errors.push_back(Problem{file, 0, "transitions",
                               "expected at least one stage with its targets (FROM:TO pairs)",
                               false});
    }
    std::set<std::string> sources;
    for (const auto& [s, ts] : options.transitions) {
      if (!sources.insert(s).second) {
        errors.push_back(Problem{file, 0, "transitions." + s,
                                 "stage '" + s + "' is listed twice as a source", false});
      }
      const std::set<std::string> distinct(ts.begin(), ts.end());
      if (s.empty() || ts.empty() || distinct.size() != ts.size() || distinct.count(s) > 0 ||
          distinct.count("") > 0) {
        errors.push_back(Problem{
            file, 0, "transitions." + s,
            expected_got("distinct targets other than '" + s + "'", "[" + text::join(ts) + "]"),
            false});
      }
    }
    if (!errors.empty()) throw InputError(std::move(errors));
  }
  std::set<std::string> targeted;
  std::set<std::string> sources;
  for (const auto& [s, ts] : options.transitions) {
    sources.insert(s);
    targeted.insert(ts.begin(), ts.end());
  }
  std::size_t offset = 0;
  for (const auto& [s, ts] : options.transitions) {
    fit.stages.push_back(s);
    fit.parameters.push_back(FunnelStageParameters{s, ts, offset});
    offset += ts.size();
    if (targeted.count(s) == 0) fit.entry_stages.push_back(s);
  }
  for (const auto& t : targeted) {  // std::set: sorted by name
    if (sources.count(t) == 0) fit.stages.push_back(t);
  }
  if (fit.entry_stages.empty()) {
    throw InputError(file, 0, "transitions",
                     "no entry stage: every stage is some stage's target; arrivals must enter "
                     "through a stage that no transition leads to");
  }
  const std::size_t n_stages = fit.stages.size();
  const std::size_t n_transient = fit.parameters.size();
  std::unordered_map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < n_stages; ++i) col.emplace(fit.stages[i], i);

  calibrate_log::Problems problems(file);
  if (counts.rows.empty()) {
    problems.error(1, "entries", "no rows: expected one row per period and stage");
    problems.throw_if_errors();
  }
  // ---- stages ----
  for (const FunnelRow& row : counts.rows) {
    if (col.count(row.stage) == 0) {
      problems.error(row.line, "stage",
                     "unknown stage '" + row.stage + "' (stages: " + text::join(fit.stages) + ")" +
                         did_you_mean(row.stage, fit.stages));
    }
  }
  problems.throw_if_errors();

  // ---- periods ----
  bool integers = true;
  std::vector<std::int64_t> period_int(counts.rows.size(), 0);
  for (std::size_t i = 0; i < counts.rows.size(); ++i) {
    const std::optional<double> v = parse_number(counts.rows[i].period);
    if (!v || !std::isfinite(*v) || *v != std::round(*v) || std::fabs(*v) > 1e15) {
      integers = false;
      break;
    }
    period_int[i] = static_cast<std::int64_t>(*v);
  }
  std::vector<std::size_t> period_of(counts.rows.size(), 0);  // index into fit.periods
  std::vector<double> edges;
  if (integers) {
    const double step = options.period_days > 0.0 ? options.period_days : kDefaultIntegerPeriodDays;
    const std::set<std::int64_t> distinct(period_int.begin(), period_int.end());
    const std::vector<std::int64_t> keys(distinct.begin(), distinct.end());
    for (std::size_t i = 1; i < keys.size(); ++i) {
      if (keys[i] != keys[i - 1] + 1) {
        std::vector<std::string> shown;
        for (const auto k : keys) shown.push_back(std::to_string(k));
        throw InputError(file, 0, "period",
                         expected_got("consecutive integer periods", text::join(shown)) +
                             " (missing " + std::to_string(keys[i - 1] + 1) + ")");
      }
    }
    for (const auto k : keys) {
      fit.periods.push_back(std::to_string(k));
      edges.push_back(static_cast<double>(k - keys.front()) * step);
    }
    edges.push_back(edges.back() + step);
    for (std::size_t i = 0; i < counts.rows.size(); ++i) {
      period_of[i] = static_cast<std::size_t>(period_int[i] - keys.front());
    }
  } else {
    std::vector<Timestamp> times(counts.rows.size());
    for (std::size_t i = 0; i < counts.rows.size(); ++i) {
      const std::optional<Timestamp> t = parse_period_date(counts.rows[i].period);
      if (!t) {
        problems.error(counts.rows[i].line, "period",
                       expected_got(kPeriodExpected, "'" + counts.rows[i].period + "'"));
      } else {
        times[i] = *t;
      }
    }
    problems.throw_if_errors();
    std::vector<Timestamp> distinct = times;
    std::sort(distinct.begin(), distinct.end(), calibrate_log::before);
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    const std::int64_t epoch = distinct.front().day;
    const double first = distinct.front().days_since(epoch);
    bool month_starts = true;
    for (const auto& t : distinct) {
      edges.push_back(t.days_since(epoch) - first);
      fit.periods.push_back(civil_date(t.day));
      const std::string date = civil_date(t.day);
      month_starts = month_starts && t.seconds == 0.0 && date.substr(8, 2) == "01";
    }
    double last = 0.0;
    if (options.period_days > 0.0) {
      last = options.period_days;
    } else if (month_starts) {
      const std::string date = fit.periods.back();
      last = days_in_month(std::stoll(date.substr(0, 4)), std::stoi(date.substr(5, 2)));
    } else if (edges.size() > 1) {
      last = edges[edges.size() - 1] - edges[edges.size() - 2];
    } else {
      throw InputError(file, 0, "period", "one period of dates: give period_days");
    }
    edges.push_back(edges.back() + last);
    fit.epoch = civil_date(epoch);
    for (std::size_t i = 0; i < counts.rows.size(); ++i) {
      const auto it =
          std::lower_bound(distinct.begin(), distinct.end(), times[i], calibrate_log::before);
      period_of[i] = static_cast<std::size_t>(it - distinct.begin());
    }
  }
  fit.period_starts = edges;
  const std::size_t n_periods = fit.periods.size();

  // ---- the counts table ----
  Matrix y = Matrix::Constant(static_cast<Eigen::Index>(n_periods),
                              static_cast<Eigen::Index>(n_stages), nan());
  for (std::size_t i = 0; i < counts.rows.size(); ++i) {
    const FunnelRow& row = counts.rows[i];
    const auto r = static_cast<Eigen::Index>(period_of[i]);
    const auto c = static_cast<Eigen::Index>(col.at(row.stage));
    if (!std::isnan(y(r, c))) {
      problems.error(
          row.line, "stage",
          "a second row for stage '" + row.stage + "' in period " + fit.periods[period_of[i]]);
    }
    y(r, c) = row.entries;
  }
  std::vector<bool> counted(n_stages, false);
  for (std::size_t c = 0; c < n_stages; ++c) {
    for (std::size_t r = 0; r < n_periods; ++r) {
      counted[c] =
          counted[c] || !std::isnan(y(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)));
    }
    if (!counted[c]) continue;
    fit.counted_stages.push_back(fit.stages[c]);
    for (std::size_t r = 0; r < n_periods; ++r) {
      if (std::isnan(y(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)))) {
        problems.error(0, "period",
                       "no row for stage '" + fit.stages[c] + "' in period " + fit.periods[r] +
                           " (give 0 entries)");
      }
    }
  }
  for (const auto& s : fit.entry_stages) {
    if (!counted[col.at(s)]) {
      problems.error(0, "stage",
                     "entry stage '" + s + "' has no counts: its entries are the arrivals");
    }
  }
  std::vector<std::size_t> fitted;  // stage columns matched
  for (std::size_t c = 0; c < n_stages; ++c) {
    const bool entry = std::find(fit.entry_stages.begin(), fit.entry_stages.end(), fit.stages[c]) !=
                       fit.entry_stages.end();
    if (counted[c] && !entry) fitted.push_back(c);
  }
  if (fitted.empty()) {
    problems.error(0, "stage", "no counts of a stage after the entry stages: nothing to fit");
  }
  problems.throw_if_errors();
  std::string won = options.won;
  if (won.empty() && col.count("won") > 0) won = "won";
  if (col.count(won) == 0) {
    throw InputError(file, 0, "won",
                     expected_got("a stage of the model (default 'won')",
                                  won.empty() ? "none" : "'" + won + "'") +
                         " (stages: " + text::join(fit.stages) + ")");
  }

  // ---- model ----
  std::vector<double> lengths;
  for (std::size_t k = 0; k + 1 < edges.size(); ++k) lengths.push_back(edges[k + 1] - edges[k]);
  Matrix arrivals =
      Matrix::Zero(static_cast<Eigen::Index>(n_periods), static_cast<Eigen::Index>(n_transient));
  for (const auto& s : fit.entry_stages) {
    const auto c = static_cast<Eigen::Index>(col.at(s));
    arrivals.col(c) = y.col(c);  // entry stages are non-absorbing: column index = stage index
  }
  const FunnelModel model(fit.stages, fit.parameters, arrivals, lengths, options.start);
  const std::size_t size = model.size();
  const auto cells = static_cast<Eigen::Index>(n_periods * fitted.size());
  Vector obs(cells);
  for (std::size_t r = 0; r < n_periods; ++r) {
    for (std::size_t j = 0; j < fitted.size(); ++j) {
      obs(static_cast<Eigen::Index>(r * fitted.size() + j)) =
          y(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(fitted[j]));
    }
  }
  const auto mu_of = [&](const std::vector<double>& theta) {
    const Matrix e = model.entries(theta);
    Vector mu(cells);
    for (std::size_t r = 0; r < n_periods; ++r) {
      for (std::size_t j = 0; j < fitted.size(); ++j) {
        mu(static_cast<Eigen::Index>(r * fitted.size() + j)) =
            std::max(e(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(fitted[j])), 1e-12);
      }
    }
    return mu;
  };
  const auto deviance = [&](const Vector& mu) {
    double d = 0.0;
    for (Eigen::Index i = 0; i < cells; ++i) {
      const double term = obs(i) > 0.0 ? obs(i) * std::log(obs(i) / mu(i)) : 0.0;
      d += term - (obs(i) - mu(i));
    }
    return 2.0 * d;
  };
  const auto jacobian = [&](const std::vector<double>& theta) {
    constexpr double h = 1e-5;
    Matrix jac(cells, static_cast<Eigen::Index>(theta.size()));
    for (std::size_t j = 0; j < theta.size(); ++j) {
      std::vector<double> plus = theta;
      std::vector<double> minus = theta;
      plus[j] += h;
      minus[j] -= h;
      jac.col(static_cast<Eigen::Index>(j)) = (mu_of(plus) - mu_of(minus)) / (2.0 * h);
    }
    return jac;
  };
  const auto information = [&](const Matrix& jac, const Vector& mu) -> Matrix {
    return jac.transpose() * (jac.array().colwise() / mu.array()).matrix();
  };

  // Starting values: means of 10 days; probabilities in proportion to the targets' total counted
  // entries (targets without counts get the mean weight of the counted ones, or 1).
  std::vector<double> total(n_stages, 0.0);
  for (std::size_t c = 0; c < n_stages; ++c) {
    for (std::size_t r = 0; r < n_periods; ++r) {
      const double v = y(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
      if (!std::isnan(v)) total[c] += v;
    }
  }
  std::vector<double> theta(size, 0.0);
  for (const auto& p : fit.parameters) {
    theta[p.offset] = std::log(10.0);
    std::vector<double> w;
    double sum = 0.0;
    std::size_t positive = 0;
    for (const auto& t : p.targets) {
      const std::size_t c = col.at(t);
      w.push_back(counted[c] ? total[c] : 0.0);
      if (w.back() > 0.0) {
        sum += w.back();
        ++positive;
      }
    }
    const double fill = positive > 0 ? sum / static_cast<double>(positive) : 1.0;
    for (auto& v : w) v = v > 0.0 ? v : fill;
    for (std::size_t j = 1; j < w.size(); ++j) theta[p.offset + j] = std::log(w[j] / w[0]);
  }

  // ---- Fisher scoring with Levenberg-Marquardt damping ----
  Vector mu = mu_of(theta);
  double dev = deviance(mu);
  double damping = 1e-3;
  bool converged = false;
  int iterations = 0;
  const double scale = std::max(1.0, obs.mean());
  for (iterations = 1; iterations <= options.max_iterations; ++iterations) {
    const Matrix jac = jacobian(theta);
    const Vector score = jac.transpose() * ((obs - mu).array() / mu.array()).matrix();
    const Matrix info = information(jac, mu);
    bool improved = false;
    std::vector<double> candidate;
    Vector candidate_mu;
    double candidate_dev = 0.0;
    Vector step;
    for (int attempt = 0; attempt < 30; ++attempt) {
      Matrix a = info;
      for (Eigen::Index i = 0; i < a.rows(); ++i) a(i, i) += damping * std::max(info(i, i), 1e-12);
      step = a.completeOrthogonalDecomposition().solve(score);
      step = step.cwiseMax(-2.0).cwiseMin(2.0);
      candidate = theta;
      for (std::size_t j = 0; j < size; ++j) candidate[j] += step(static_cast<Eigen::Index>(j));
      candidate_mu = mu_of(candidate);
      candidate_dev = deviance(candidate_mu);
      if (candidate_dev <= dev) {
        improved = true;
        break;
      }
      damping *= 10.0;
    }
    if (!improved) {
      converged = score.cwiseAbs().maxCoeff() < 1e-3 * scale;
      break;
    }
    const double change = dev - candidate_dev;
    theta = std::move(candidate);
    mu = std::move(candidate_mu);
    dev = candidate_dev;
    damping = std::max(damping / 10.0, 1e-9);
    if (change < 1e-9 * std::max(1.0, dev) && step.cwiseAbs().maxCoeff() < 1e-7) {
      converged = true;
      break;
    }
  }
  iterations = std::min(iterations, options.max_iterations);

  // ---- covariance ----
  const Matrix jac = jacobian(theta);
  Matrix info = information(jac, mu);
  const auto dof = static_cast<double>(cells) - static_cast<double>(size);
  double pearson = 0.0;
  for (Eigen::Index i = 0; i < cells; ++i) pearson += (obs(i) - mu(i)) * (obs(i) - mu(i)) / mu(i);
  const double dispersion = dof > 0.0 ? std::max(1.0, pearson / dof) : 1.0;
  const Eigen::SelfAdjointEigenSolver<Matrix> eigen(info, Eigen::EigenvaluesOnly);
  const double min_eig = eigen.eigenvalues().minCoeff();
  const double max_eig = std::max(eigen.eigenvalues().maxCoeff(), 1e-300);
  if (min_eig <= 1e-10 * max_eig) {
    // Flat directions: a vague ridge (a normal prior with sd ~ 1e4 / sqrt(largest information) on
    // theta) keeps the identified parameters' intervals; the flat ones come out huge and flagged.
    info += 1e-8 * max_eig * Matrix::Identity(info.rows(), info.cols());
    fit.warnings.push_back(Problem{file, 0, "funnel",
                                   "the information matrix is singular: some parameters are not "
                                   "identified by the counts",
                                   true});
  }
  const Matrix cov = dispersion * info.inverse();
  fit.theta = theta;
  fit.covariance.assign(size * size, 0.0);
  for (std::size_t r = 0; r < size; ++r) {
    for (std::size_t c = 0; c < size; ++c) {
      fit.covariance[r * size + c] =
          cov(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
    }
  }
  fit.deviance = dev;
  fit.pearson = pearson;
  fit.dispersion = dispersion;
  fit.n_cells = static_cast<std::size_t>(cells);
  fit.n_parameters = size;
  fit.iterations = iterations;
  fit.converged = converged;
  if (!converged) {
    fit.warnings.push_back(Problem{file, 0, "funnel",
                                   "Fisher scoring did not converge in " +
                                       std::to_string(iterations) +
                                       " iterations: estimates and intervals are unreliable",
                                   true});
  }

  // ---- estimates and the scenario ----
  const double z =
      boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + options.level / 2.0);
  Scenario& sc = fit.scenario;
  for (const auto& p : fit.parameters) {
    const std::size_t k = p.offset;
    const std::size_t m = p.targets.size();
    const std::size_t c = col.at(p.stage);
    const auto n_in = counted[c] ? static_cast<std::size_t>(total[c]) : std::size_t{0};
    const double var = cov(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k));
    const double se = std::isfinite(var) ? std::sqrt(var) : nan();
    const double mean = std::exp(theta[k]);
    // exp() of more overflows: such a mean is flagged as not identified anyway.
    const double half = std::min(z * se, 700.0);
    fit.estimates.push_back(EstimateRow{"stages." + p.stage + ".dwell.mean", mean,
                                        mean * std::exp(-half), mean * std::exp(half), n_in});
    const Vector prob = probabilities(theta.data() + k + 1, m);
    std::vector<double> weights;
    for (std::size_t j = 0; j < m; ++j) {
      const double pj = prob(static_cast<Eigen::Index>(j));
      weights.push_back(pj);
      double lo = 1.0;
      double hi = 1.0;
      if (m > 1) {
        const Vector g = logit_gradient(theta, k, m, j);
        const double v = g.dot(cov * g);
        if (std::isfinite(v)) {
          lo = expit(logit(pj) - z * std::sqrt(v));
          hi = expit(logit(pj) + z * std::sqrt(v));
        } else {
          lo = hi = nan();
        }
      }
      fit.estimates.push_back(
          EstimateRow{"stages." + p.stage + ".next." + p.targets[j], pj, lo, hi, n_in});
    }
    StageSpec spec;
    spec.name = p.stage;
    DwellSpec dwell;
    dwell.dist = "exponential";
    dwell.params["mean"] = mean;
    spec.dwell = std::move(dwell);
    NextSpec next;
    const std::vector<double> exact = calibrate_log::exact_probabilities(weights);
    for (std::size_t j = 0; j < m; ++j) next.probs.emplace_back(p.targets[j], exact[j]);
    spec.next = std::move(next);
    sc.stages.push_back(std::move(spec));
  }
  for (std::size_t c = n_transient; c < n_stages; ++c) {
    StageSpec spec;
    spec.name = fit.stages[c];
    spec.absorbing = true;
    sc.stages.push_back(std::move(spec));
  }
  const double days = edges.back() - edges.front();
  for (std::size_t e = 0; e < fit.entry_stages.size(); ++e) {
    const std::string& s = fit.entry_stages[e];
    const double n = total[col.at(s)];
    const double rate = n / days;
    ArrivalStream stream;
    stream.stage = s;
    stream.rate_per_day = rate;
    sc.arrivals.streams.push_back(stream);
    const double half = z * std::sqrt(std::max(n, 1.0)) / days;
    fit.estimates.push_back(EstimateRow{"arrivals.streams[" + std::to_string(e) + "].rate_per_day",
                                        rate, std::max(0.0, rate - half), rate + half,
                                        static_cast<std::size_t>(n)});
  }
  for (const auto& row : fit.estimates) {
    const bool mean_row = row.parameter.size() > 11 &&
                          row.parameter.compare(row.parameter.size() - 11, 11, ".dwell.mean") == 0;
    const bool next_row = row.parameter.find(".next.") != std::string::npos;
    if ((mean_row && !(row.ci_high / std::max(row.ci_low, 1e-300) <= 50.0)) ||
        (next_row && !(row.ci_high - row.ci_low <= 0.5))) {
      fit.unidentified.push_back(row.parameter);
    }
  }
  if (!fit.unidentified.empty()) {
    fit.warnings.push_back(Problem{file, 0, "funnel",
                                   "not identified by the counts (a mean's interval wider than a "
                                   "factor of 50, a probability's wider than 0.5): " +
                                       text::join(fit.unidentified, fit.unidentified.size()),
                                   true});
  }
  sc.name = options.name;
  sc.description = "fitted to funnel counts in " + file + " (" + std::to_string(n_periods) +
                   " periods from " + fit.periods.front() + ")";
  sc.horizon = days;
  sc.report_every = median(lengths);
  sc.seed = options.seed;
  sc.replications = options.replications;
  sc.won = won;
  if (options.start == FunnelStart::steady) {
    const Matrix q = model.generator(theta);
    const RowVector rates = arrivals.row(0) / lengths.front();
    const RowVector x0 = model.steady(q, rates);
    for (std::size_t i = 0; i < n_transient; ++i) {
      const double count = std::nearbyint(x0(static_cast<Eigen::Index>(i)));  // half to even
      if (count >= 1.0) {
        InitialCohort cohort;
        cohort.stage = fit.stages[i];
        cohort.count = static_cast<std::int64_t>(count);
        sc.arrivals.initial.push_back(cohort);
      }
    }
  }

  const Matrix expected = model.entries(theta);
  for (std::size_t r = 0; r < n_periods; ++r) {
    for (std::size_t c = 0; c < n_stages; ++c) {
      if (!counted[c]) continue;
      const bool entry =
          c < n_transient && std::find(fit.entry_stages.begin(), fit.entry_stages.end(),
                                       fit.stages[c]) != fit.entry_stages.end();
      fit.cells.push_back(
          FunnelCell{fit.periods[r], fit.stages[c],
                     y(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)),
                     expected(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)), !entry});
    }
  }
  return fit;
}

}  // namespace lcsim
