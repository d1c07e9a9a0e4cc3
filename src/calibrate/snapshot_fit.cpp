#include "lcsim/calibrate/snapshot_fit.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <istream>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <Eigen/Dense>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <unsupported/Eigen/MatrixFunctions>

#include "csv.hpp"
#include "lcsim/calibrate/timestamp.hpp"
#include "lcsim/core/format.hpp"
#include "log_reader.hpp"
#include "profile.hpp"
#include "text.hpp"

namespace lcsim {
namespace {

namespace text = calibrate_text;

using calibrate_log::before;
using calibrate_log::exact_probabilities;

// ================================================================================================
// Reading
// ================================================================================================

struct Row {
  std::size_t customer = 0;
  Timestamp time;
  std::string time_text;
  std::string stage;
  int line = 0;
  std::optional<Timestamp> created;
  std::string created_text;
  std::string segment;
  bool date_only = false;            ///< the time column gave a date without a time of day
  std::optional<Timestamp> entered;  ///< exact entry into `stage` (entered column, exact stages)
  std::string entered_text;
};

/// The last second of a day: a date alone in the time column under DateMeans::kEndOfDay.
constexpr double kLastSecond = 86399.0;

class SnapshotReader {
 public:
  SnapshotReader(std::string file, const SnapshotOptions& options)
      : file_(std::move(file)), o_(options), stage_names_(o_.stages, o_.stage_map, o_.absorbing) {}

  SnapshotLog read(const std::string& content) {
    const std::vector<csv::Record> records = calibrate_log::read_table(
        content, file_, o_.customer_column + ", " + o_.time_column + ", " + o_.stage_column,
        o_.separator);
    read_header(records.front());
    stage_names_.check(problems_);
    for (const std::string& stage : o_.exact_stages) {
      if (!absorbing(stage)) {
        error(0, "exact_stages",
              expected_got("absorbing stages (msm's deathexact: the date of the first row in "
                           "such a stage is the exact time the customer entered it)",
                           "'" + stage + "', which is not among the absorbing stages"));
      }
    }
    problems_.throw_if_errors();
    calibrate_log::for_each_row(records, problems_, "customer and observation date",
                                [&](const csv::Record& record) { read_row(record); });
    problems_.throw_if_errors();
    set_epoch();
    problems_.throw_if_errors();
    SnapshotLog log = build();
    problems_.throw_if_errors();
    log.warnings = problems_.take_warnings();
    return log;
  }

 private:
  void error(int line, const std::string& field, std::string message) {
    problems_.error(line, field, std::move(message));
  }

  void read_header(const csv::Record& record) {
    const calibrate_log::Header header(record);
    columns_ = header.columns();
    customer_col_ = header.find(o_.customer_column, problems_);
    time_col_ = header.find(o_.time_column, problems_);
    stage_col_ = header.find(o_.stage_column, problems_);
    created_col_ = header.find_optional(o_.created_column, problems_);
    entered_col_ = header.find_optional(o_.entered_column, problems_);
    if (!o_.segment_column.empty()) segment_col_ = header.find(o_.segment_column, problems_);
  }

  void read_row(const csv::Record& record) {
    ++data_rows_;
    const int line = record.line;
    if (!calibrate_log::check_width(record, columns_, problems_)) return;
    bool ok = true;
    const std::string id = calibrate_log::required_field(record, customer_col_, o_.customer_column,
                                                         "a customer id", problems_, ok);
    const std::string time_text = calibrate_log::field(record, time_col_);
    std::optional<Timestamp> time = calibrate_log::timestamp_field(
        time_text, line, o_.time_column, expected_time("a date or timestamp", ""), problems_, ok,
        o_.date_order);
    const bool date_only = time && !has_time_of_day(time_text);
    if (date_only && o_.date_means == DateMeans::kEndOfDay) time->seconds = kLastSecond;
    const std::optional<std::string> stage =
        stage_names_.field(record, stage_col_, o_.stage_column, problems_, ok);
    std::optional<Timestamp> created;
    std::string created_text;
    if (created_col_ >= 0) {
      created_text = calibrate_log::field(record, created_col_);
      if (!created_text.empty()) {
        created = calibrate_log::timestamp_field(
            created_text, line, o_.created_column,
            expected_time("a creation date or timestamp", " or nothing"), problems_, ok,
            o_.date_order);
      }
    }
    std::string segment;
    if (segment_col_ >= 0) {
      segment = calibrate_log::required_field(record, segment_col_, o_.segment_column,
                                              "a segment name", problems_, ok);
    }
    std::optional<Timestamp> entered;
    std::string entered_text;
    if (entered_col_ >= 0) {
      entered_text = calibrate_log::field(record, entered_col_);
      if (!entered_text.empty()) {
        entered = calibrate_log::timestamp_field(
            entered_text, line, o_.entered_column,
            expected_time("the date or timestamp the customer entered the row's stage",
                          " or nothing"),
            problems_, ok, o_.date_order);
      }
    }
    if (!ok) return;
    if (!entered && stage && exact(*stage)) {  // msm's "deathexact": the date is the entry
      entered = time;
      entered_text = time_text;
    }
    if (entered && time && before(*time, *entered)) {
      error(line, o_.entered_column,
            "the customer entered its stage at '" + entered_text + "', after the row's " +
                o_.time_column + " '" + time_text + "'");
      return;
    }
    rows_.push_back(Row{customers_.add(id), *time, time_text, *stage, line, created, created_text,
                        std::move(segment), date_only, entered, std::move(entered_text)});
  }

  /// "<what> (<formats>)<tail>", with the day-first or month-first form when asked for.
  [[nodiscard]] std::string expected_time(const std::string& what, const std::string& tail) const {
    std::string formats = kTimestampFormats;
    if (o_.date_order == DateOrder::kDayFirst) formats += "; or DD/MM/YYYY [HH:MM[:SS]]";
    if (o_.date_order == DateOrder::kMonthFirst) formats += "; or MM/DD/YYYY [HH:MM[:SS]]";
    return what + " (" + formats + ")" + tail;
  }

  void set_epoch() {
    if (!o_.epoch.empty()) {
      const auto day = parse_date(o_.epoch);
      if (!day) {
        error(0, "epoch", expected_got("a date YYYY-MM-DD", "'" + o_.epoch + "'"));
        return;
      }
      epoch_day_ = *day;
      return;
    }
    const auto earliest =
        std::min_element(rows_.begin(), rows_.end(),
                         [](const Row& a, const Row& b) { return before(a.time, b.time); });
    epoch_day_ = earliest->time.day;  // as for stage-change logs: the UTC date of the first row
    for (const Row& row : rows_) {    // or of the first creation, when earlier
      if (row.created && row.created->day < epoch_day_) epoch_day_ = row.created->day;
    }
  }

  [[nodiscard]] bool absorbing(const std::string& stage) const {
    return std::find(o_.absorbing.begin(), o_.absorbing.end(), stage) != o_.absorbing.end();
  }

  [[nodiscard]] bool exact(const std::string& stage) const {
    return std::find(o_.exact_stages.begin(), o_.exact_stages.end(), stage) !=
           o_.exact_stages.end();
  }

  SnapshotLog build() {
    SnapshotLog log;
    log.file = file_;
    log.epoch_day = epoch_day_;
    log.epoch = civil_date(epoch_day_);
    log.absorbing = o_.absorbing;
    log.rows = data_rows_;
    if (created_col_ >= 0) log.created_column = o_.created_column;
    if (entered_col_ >= 0) log.entered_column = o_.entered_column;
    log.exact_stages = o_.exact_stages;
    if (segment_col_ >= 0) log.segment_column = o_.segment_column;

    std::vector<std::vector<std::size_t>> by_customer(customers_.size());
    for (std::size_t i = 0; i < rows_.size(); ++i) by_customer[rows_[i].customer].push_back(i);

    std::vector<int> out_of_order;
    std::vector<int> repeated;
    std::vector<int> after_absorbing;
    std::vector<int> single;
    std::vector<int> segment_changes;
    std::vector<std::string> in_file;

    for (std::size_t c = 0; c < by_customer.size(); ++c) {
      std::vector<std::size_t>& rows = by_customer[c];
      calibrate_log::OrderCheck order;
      for (const std::size_t i : rows) {
        if (order.out_of_order(rows_[i].time)) out_of_order.push_back(rows_[i].line);
      }
      std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
        return before(rows_[a].time, rows_[b].time);
      });
      SnapshotPath path;
      path.id = customers_[c];
      const Row* created_row = nullptr;
      for (const std::size_t i : rows) {
        const Row& row = rows_[i];
        if (!row.created) continue;
        if (created_row == nullptr) {
          created_row = &row;
        } else if (!(*row.created == *created_row->created)) {
          error(row.line, o_.created_column,
                "customer '" + path.id + "' has two creation times: '" + created_row->created_text +
                    "' (line " + std::to_string(created_row->line) + ") and '" + row.created_text +
                    "'");
        }
      }
      if (created_row != nullptr && !rows.empty() &&
          before(rows_[rows.front()].time, *created_row->created)) {
        const Row& first = rows_[rows.front()];
        error(created_row->line, o_.created_column,
              "customer '" + path.id + "' is created at '" + created_row->created_text +
                  "', after its first snapshot '" + first.time_text + "' (line " +
                  std::to_string(first.line) + ")" +
                  (first.date_only ? std::string(o_.date_means == DateMeans::kEndOfDay
                                                     ? ", which means the end of that day"
                                                     : ", which means the start of that day")
                                   : std::string()));
        ++created_late_;
        if (first.date_only && created_row->created->day == first.time.day) ++created_same_day_;
      }
      if (created_row != nullptr) path.created = created_row->created->days_since(epoch_day_);
      if (!rows.empty()) path.segment = rows_[rows.front()].segment;
      const Row* kept_last = nullptr;
      bool absorbed = false;
      for (const std::size_t i : rows) {
        const Row& row = rows_[i];
        if (row.segment != path.segment) segment_changes.push_back(row.line);
        if (kept_last != nullptr && row.time == kept_last->time) {
          if (row.stage == kept_last->stage) {
            repeated.push_back(row.line);
          } else {
            error(row.line, o_.stage_column,
                  "customer '" + path.id + "' has two rows for " + o_.time_column + " '" +
                      row.time_text + "' with different stages: '" + kept_last->stage + "' (line " +
                      std::to_string(kept_last->line) + ") and '" + row.stage + "'");
          }
          continue;
        }
        if (absorbed) {
          if (row.stage != kept_last->stage) after_absorbing.push_back(row.line);
          continue;  // an absorbing stage seen again carries no information
        }
        SnapshotObservation obs{row.time.days_since(epoch_day_), row.stage, row.line};
        if (row.entered) {
          obs.entered = row.entered->days_since(epoch_day_);
          if (created_row != nullptr && before(*row.entered, *created_row->created)) {
            error(row.line, o_.entered_column,
                  "customer '" + path.id + "' entered '" + row.stage + "' at '" + row.entered_text +
                      "', before its creation '" + created_row->created_text + "'");
          } else if (kept_last != nullptr && kept_last->stage != row.stage &&
                     before(*row.entered, kept_last->time)) {
            error(row.line, o_.entered_column,
                  "customer '" + path.id + "' entered '" + row.stage + "' at '" + row.entered_text +
                      "', before its previous snapshot '" + kept_last->time_text + "' (line " +
                      std::to_string(kept_last->line) + "), which shows '" + kept_last->stage +
                      "'");
          }
        }
        path.observations.push_back(obs);
        kept_last = &row;
        absorbed = absorbing(row.stage);
      }
      // One observation says nothing about moves, unless the customer's creation time is
      // before it (created in the entry stage, seen later, possibly elsewhere): dropping those
      // would drop the customers who moved on fastest.
      const bool created_before =
          !path.observations.empty() &&
          ((std::isfinite(path.created) && path.created < path.observations.front().time) ||
           path.observations.front().entered < path.observations.front().time);
      if (path.observations.size() < 2 && !created_before) {
        if (!path.observations.empty()) single.push_back(path.observations.front().line);
        continue;
      }
      for (const auto& obs : path.observations) {
        if (std::find(in_file.begin(), in_file.end(), obs.stage) == in_file.end()) {
          in_file.push_back(obs.stage);
        }
      }
      log.rows_used += path.observations.size();
      if (segment_col_ >= 0 &&
          std::find(log.segments.begin(), log.segments.end(), path.segment) == log.segments.end()) {
        log.segments.push_back(path.segment);
      }
      log.customers.push_back(std::move(path));
    }
    log.customers_single = single.size();
    if (o_.stages.empty()) {
      std::vector<std::vector<std::size_t>> paths;
      paths.reserve(log.customers.size());
      for (const auto& c : log.customers) {
        std::vector<std::size_t> p;
        for (const auto& obs : c.observations) {
          p.push_back(static_cast<std::size_t>(
              std::find(in_file.begin(), in_file.end(), obs.stage) - in_file.begin()));
        }
        paths.push_back(std::move(p));
      }
      log.stages = calibrate_log::path_order(in_file, paths, o_.absorbing);
    } else {
      log.stages = o_.stages;
    }
    for (const auto& stage : o_.absorbing) {
      if (std::find(log.stages.begin(), log.stages.end(), stage) == log.stages.end()) {
        log.stages.push_back(stage);  // absorbing but never observed: still a stage of the model
      }
    }

    const std::size_t listed = o_.rows_listed;
    const auto report = [&](std::vector<int>& lines, const std::string& field,
                            const std::string& what) {
      problems_.warn_lines(lines, field, what, listed);
    };
    report(repeated, "",
           "rows repeat an earlier row of the same customer, " + o_.time_column +
               " and stage (dropped)");
    report(out_of_order, o_.time_column,
           "rows out of order within their customer (earlier than a previous row of the same "
           "customer; sorted by " +
               o_.time_column + ")");
    report(after_absorbing, o_.stage_column,
           "rows show another stage after the customer was seen in an absorbing stage (ignored)");
    report(segment_changes, o_.segment_column,
           "rows change their customer's segment (each customer keeps the segment of its first "
           "row)");
    report(single, o_.customer_column,
           "customers with a single observation (not used: one observation says nothing about "
           "moves)");
    if (created_late_ > 0 && created_late_ == created_same_day_ &&
        o_.date_means == DateMeans::kStartOfDay) {
      problems_.add_error(Problem{
          file_, 0, o_.time_column,
          "every one of the " + std::to_string(created_late_) +
              " customers created after their first snapshot was created on that snapshot's "
              "date, which is read as the start of the day: the dates probably mean the end "
              "of the day (as month-end exports do); read them so with " +
              option_hint("date_means=end-of-day", o_.spelling),
          false});  // listed however many errors come before it
    }
    if (log.customers.empty()) {
      error(0, o_.customer_column,
            "no customer has two observations at different dates: nothing to fit");
    }
    return log;
  }

  std::string file_;
  const SnapshotOptions& o_;
  calibrate_log::StageNames stage_names_;
  calibrate_log::Problems problems_{file_};
  std::size_t columns_ = 0;
  int customer_col_ = -1;
  int time_col_ = -1;
  int stage_col_ = -1;
  int created_col_ = -1;
  int entered_col_ = -1;
  int segment_col_ = -1;
  std::size_t data_rows_ = 0;
  std::vector<Row> rows_;
  calibrate_log::CustomerIndex customers_;
  std::int64_t epoch_day_ = 0;
  std::size_t created_late_ = 0;      ///< customers created after their first snapshot
  std::size_t created_same_day_ = 0;  ///< ... on the (date-only) date of that snapshot
};

// ================================================================================================
// Likelihood
// ================================================================================================

using Matrix = Eigen::MatrixXd;

Matrix to_matrix(const std::vector<double>& values, Eigen::Index n) {
  Matrix m(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) m(i, j) = values[static_cast<std::size_t>(i * n + j)];
  }
  return m;
}

/// Log-likelihood of the grouped pairs under generator `q`; when `dq` is given it receives the
/// gradient with respect to every entry of Q: sum over intervals of dt * L(dt Q^T, W).
double panel_loglik(const PanelCounts& counts, const Matrix& q, Matrix* dq) {
  const auto n = static_cast<Eigen::Index>(counts.size());
  double ll = 0.0;
  if (dq != nullptr) dq->setZero(n, n);
  Matrix w(n, n);
  Matrix block(2 * n, 2 * n);
  for (const auto& interval : counts.intervals) {
    const Matrix a = q * interval.dt;
    const Matrix p = a.exp();
    w.setZero();
    for (Eigen::Index i = 0; i < n; ++i) {
      for (Eigen::Index j = 0; j < n; ++j) {
        const double count = interval.counts[static_cast<std::size_t>(i * n + j)];
        if (count == 0.0) continue;
        const double pij = p(i, j);
        if (!(pij > 0.0)) return -std::numeric_limits<double>::infinity();
        ll += count * std::log(pij);
        w(i, j) = count / pij;
      }
    }
    if (dq == nullptr) continue;
    // Fréchet derivative L(A^T, W) from the top-right block of expm([[A^T, W], [0, A^T]]);
    // W is scaled to unit size so that it does not inflate the norm the exponential works with.
    const double scale = w.cwiseAbs().maxCoeff();
    if (scale == 0.0) continue;
    block.setZero();
    block.topLeftCorner(n, n) = a.transpose();
    block.bottomRightCorner(n, n) = a.transpose();
    block.topRightCorner(n, n) = w / scale;
    const Matrix e = block.exp();
    *dq += (interval.dt * scale) * e.topRightCorner(n, n);
  }
  return ll;
}

double logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

// ================================================================================================
// Public: reading
// ================================================================================================

std::optional<DateMeans> parse_date_means(std::string_view text) {
  if (text == "end-of-day") return DateMeans::kEndOfDay;
  if (text == "start-of-day") return DateMeans::kStartOfDay;
  return std::nullopt;
}

SnapshotLog parse_snapshots(std::istream& in, const std::string& file,
                            const SnapshotOptions& options) {
  SnapshotReader reader(file, options);
  return reader.read(calibrate_log::read_all(in, file));
}

SnapshotLog read_snapshots(const std::string& path, const SnapshotOptions& options) {
  std::ifstream in = calibrate_log::open_input(path);
  return parse_snapshots(in, path, options);
}

// ================================================================================================
// Public: counts and likelihood
// ================================================================================================

SnapshotLog segment_of(const SnapshotLog& log, const std::string& segment) {
  if (std::find(log.segments.begin(), log.segments.end(), segment) == log.segments.end()) {
    throw std::invalid_argument("segment_of: '" + segment + "' is not a segment of " + log.file);
  }
  SnapshotLog out;
  out.file = log.file;
  out.epoch = log.epoch;
  out.epoch_day = log.epoch_day;
  out.stages = log.stages;
  out.absorbing = log.absorbing;
  out.created_column = log.created_column;
  out.segment_column = log.segment_column;
  out.entered_column = log.entered_column;
  out.exact_stages = log.exact_stages;
  out.segments = {segment};
  for (const SnapshotPath& path : log.customers) {
    if (path.segment != segment) continue;
    out.rows_used += path.observations.size();
    out.customers.push_back(path);
  }
  out.rows = out.rows_used;
  return out;
}

PanelCounts count_panel(const SnapshotLog& log) {
  PanelCounts out;
  out.stages = log.stages;
  const std::size_t s = out.stages.size();
  for (const auto& stage : out.stages) {
    out.absorbing.push_back(std::find(log.absorbing.begin(), log.absorbing.end(), stage) !=
                            log.absorbing.end());
  }
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < s; ++i) index.emplace(out.stages[i], i);
  out.pairs.assign(s * s, 0.0);
  out.time_from.assign(s, 0.0);
  out.first_line.assign(s * s, 0);
  // Intervals keyed by whole seconds, so that timestamps differing by rounding share one matrix.
  std::map<std::int64_t, std::vector<double>> by_dt;
  for (const auto& path : log.customers) {
    bool used = false;
    for (std::size_t k = 0; k + 1 < path.observations.size(); ++k) {
      const auto& a = path.observations[k];
      const auto& b = path.observations[k + 1];
      const auto ia = index.find(a.stage);
      const auto ib = index.find(b.stage);
      if (ia == index.end() || ib == index.end()) {
        throw std::invalid_argument("count_panel: stage '" +
                                    (ia == index.end() ? a.stage : b.stage) +
                                    "' is not in the log's stage list");
      }
      if (out.absorbing[ia->second]) break;
      const auto seconds = static_cast<std::int64_t>(std::llround((b.time - a.time) * 86400.0));
      if (seconds <= 0) continue;
      auto& counts = by_dt[seconds];
      if (counts.empty()) counts.assign(s * s, 0.0);
      const std::size_t cell = ia->second * s + ib->second;
      counts[cell] += 1.0;
      if (out.pairs[cell] == 0.0) out.first_line[cell] = b.line;
      out.pairs[cell] += 1.0;
      out.time_from[ia->second] += static_cast<double>(seconds) / 86400.0;
      ++out.n_transitions;
      used = true;
    }
    if (used) ++out.n_customers;
  }
  for (auto& [seconds, counts] : by_dt) {
    out.intervals.push_back(
        PanelCounts::Interval{static_cast<double>(seconds) / 86400.0, std::move(counts)});
  }
  return out;
}

PanelLikelihood::PanelLikelihood(PanelCounts counts, std::vector<std::pair<int, int>> transitions)
    : counts_(std::move(counts)), transitions_(std::move(transitions)) {
  const int s = static_cast<int>(counts_.size());
  for (const auto& [from, to] : transitions_) {
    if (from < 0 || to < 0 || from >= s || to >= s || from == to) {
      throw std::invalid_argument("PanelLikelihood: transition (" + std::to_string(from) + ", " +
                                  std::to_string(to) + ") is not a pair of distinct stages of " +
                                  std::to_string(s));
    }
  }
}

double PanelLikelihood::value(const std::vector<double>& theta,
                              std::vector<double>* gradient) const {
  if (theta.size() != transitions_.size()) {
    throw std::invalid_argument("PanelLikelihood::value: expected " +
                                std::to_string(transitions_.size()) + " log rates, got " +
                                std::to_string(theta.size()));
  }
  const auto n = static_cast<Eigen::Index>(counts_.size());
  Matrix q = Matrix::Zero(n, n);
  for (std::size_t k = 0; k < theta.size(); ++k) {
    const double rate = std::exp(theta[k]);
    q(transitions_[k].first, transitions_[k].second) += rate;
    q(transitions_[k].first, transitions_[k].first) -= rate;
  }
  Matrix dq;
  const double ll = panel_loglik(counts_, q, gradient != nullptr ? &dq : nullptr);
  if (gradient != nullptr) {
    gradient->assign(theta.size(), 0.0);
    if (std::isfinite(ll)) {
      for (std::size_t k = 0; k < theta.size(); ++k) {
        const auto [a, b] = transitions_[k];
        (*gradient)[k] = q(a, b) * (dq(a, b) - dq(a, a));
      }
    }
  }
  return ll;
}

double PanelLikelihood::value_of_generator(const std::vector<double>& generator) const {
  const auto n = static_cast<Eigen::Index>(counts_.size());
  if (generator.size() != counts_.size() * counts_.size()) {
    throw std::invalid_argument("PanelLikelihood::value_of_generator: expected " +
                                std::to_string(n * n) + " entries, got " +
                                std::to_string(generator.size()));
  }
  Matrix q = to_matrix(generator, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    q(i, i) = 0.0;
    q(i, i) = -q.row(i).sum();
  }
  return panel_loglik(counts_, q, nullptr);
}

// ================================================================================================
// Public: fit
// ================================================================================================

double MarkovFit::rate(const std::string& from, const std::string& to) const {
  const auto a = std::find(stages.begin(), stages.end(), from);
  const auto b = std::find(stages.begin(), stages.end(), to);
  if (a == stages.end() || b == stages.end()) {
    throw std::out_of_range("MarkovFit::rate: unknown stage '" + (a == stages.end() ? from : to) +
                            "'");
  }
  const auto i = static_cast<std::size_t>(a - stages.begin());
  const auto j = static_cast<std::size_t>(b - stages.begin());
  return generator[i * stages.size() + j];
}

const EstimateRow* MarkovFit::estimate(const std::string& parameter) const {
  return find_estimate(estimates, parameter);
}

MarkovFit fit_snapshots(const SnapshotLog& log, const MarkovFitOptions& options) {
  if (!(options.level > 0.0 && options.level < 1.0)) {
    throw InputError(log.file, 0, "level",
                     expected_got("a confidence level in (0, 1)", text::number(options.level)));
  }
  if (!(options.min_rate > 0.0 && options.max_rate > options.min_rate &&
        std::isfinite(options.max_rate))) {
    throw InputError(
        log.file, 0, "min_rate",
        expected_got("0 < min_rate < max_rate < inf",
                     text::number(options.min_rate) + " and " + text::number(options.max_rate)));
  }
  PanelCounts counts = count_panel(log);
  const std::size_t s = counts.size();
  if (counts.n_transitions == 0) {
    throw InputError(log.file, 0, "",
                     "no pair of consecutive observations out of a non-absorbing stage: nothing "
                     "to fit");
  }

  MarkovFit fit;
  fit.file = log.file;
  fit.stages = counts.stages;
  fit.level = options.level;
  fit.warnings = log.warnings;
  const auto warn = [&](const std::string& field, const std::string& message) {
    fit.warnings.push_back(Problem{log.file, 0, field, message, true});
  };

  // ---- allowed transitions ----
  std::vector<std::pair<int, int>> edges;
  std::vector<std::uint8_t> allowed(s * s, 0);
  if (options.transitions.empty()) {
    fit.transitions_inferred = true;
    for (std::size_t a = 0; a < s; ++a) {
      if (counts.absorbing[a]) continue;
      for (std::size_t b = 0; b < s; ++b) {
        if (a != b && counts.pairs[a * s + b] > 0.0) {
          edges.emplace_back(static_cast<int>(a), static_cast<int>(b));
          allowed[a * s + b] = 1;
        }
      }
    }
  } else {
    std::vector<Problem> errors;
    const auto find = [&](const std::string& name) -> int {
      const auto it = std::find(counts.stages.begin(), counts.stages.end(), name);
      return it == counts.stages.end() ? -1 : static_cast<int>(it - counts.stages.begin());
    };
    for (std::size_t k = 0; k < options.transitions.size(); ++k) {
      const auto& [from, to] = options.transitions[k];
      const std::string field = "transitions[" + std::to_string(k) + "]";
      const int a = find(from);
      const int b = find(to);
      for (const auto& [name, idx] : {std::pair{from, a}, std::pair{to, b}}) {
        if (idx < 0) {
          errors.push_back(Problem{log.file, 0, field,
                                   "unknown stage '" + name +
                                       "' (expected one of: " + text::join(counts.stages) + ")" +
                                       did_you_mean(name, counts.stages),
                                   false});
        }
      }
      if (a < 0 || b < 0) continue;
      if (a == b) {
        errors.push_back(Problem{log.file, 0, field,
                                 "a transition from '" + from +
                                     "' to itself (the diagonal of Q "
                                     "is minus the sum of the row)",
                                 false});
        continue;
      }
      if (counts.absorbing[static_cast<std::size_t>(a)]) {
        errors.push_back(Problem{log.file, 0, field,
                                 "a transition out of the absorbing stage '" + from + "'", false});
        continue;
      }
      const std::size_t cell = static_cast<std::size_t>(a) * s + static_cast<std::size_t>(b);
      if (allowed[cell] != 0) {
        errors.push_back(
            Problem{log.file, 0, field, "'" + from + "' -> '" + to + "' is listed twice", false});
        continue;
      }
      allowed[cell] = 1;
      edges.emplace_back(a, b);
    }
    if (!errors.empty()) throw InputError(std::move(errors));
    // Every observed pair must be producible: b reachable from a through allowed transitions.
    for (std::size_t a = 0; a < s; ++a) {
      std::vector<std::uint8_t> reach(s, 0);
      std::vector<std::size_t> stack{a};
      reach[a] = 1;
      while (!stack.empty()) {
        const std::size_t u = stack.back();
        stack.pop_back();
        for (std::size_t v = 0; v < s; ++v) {
          if (allowed[u * s + v] != 0 && reach[v] == 0) {
            reach[v] = 1;
            stack.push_back(v);
          }
        }
      }
      for (std::size_t b = 0; b < s; ++b) {
        const double n = counts.pairs[a * s + b];
        if (n > 0.0 && reach[b] == 0) {
          errors.push_back(Problem{
              log.file, counts.first_line[a * s + b], "transitions",
              "customers are seen in '" + counts.stages[a] + "' and then in '" + counts.stages[b] +
                  "' (" + std::to_string(static_cast<long long>(n)) +
                  " times; this row is the first), but the allowed transitions give no path "
                  "from '" +
                  counts.stages[a] + "' to '" + counts.stages[b] + "'",
              false});
        }
      }
    }
    if (!errors.empty()) throw InputError(std::move(errors));
  }
  fit.absorbing = counts.absorbing;
  for (std::size_t a = 0; a < s; ++a) {
    if (fit.absorbing[a]) continue;
    bool exits = false;
    for (std::size_t b = 0; b < s; ++b) exits = exits || allowed[a * s + b] != 0;
    if (!exits) {
      fit.absorbing[a] = true;
      warn("stages." + counts.stages[a],
           "stage '" + counts.stages[a] +
               "' has no allowed transition out (none observed or listed): fitted as absorbing");
    }
  }

  const std::size_t k_count = edges.size();
  fit.n_transitions = counts.n_transitions;
  fit.n_customers = counts.n_customers;
  fit.n_intervals = counts.intervals.size();
  const PanelLikelihood likelihood(counts, edges);
  const double lower = std::log(options.min_rate);
  const double upper = std::log(options.max_rate);

  // ---- maximise ----
  std::vector<double> theta(k_count);
  {
    // Crude start: observed a -> b pairs (at least 1/2) over the time spent in a before them.
    double mean_dt = 0.0;
    for (const auto& interval : counts.intervals) mean_dt += interval.dt;
    mean_dt /= static_cast<double>(std::max<std::size_t>(counts.intervals.size(), 1));
    for (std::size_t k = 0; k < k_count; ++k) {
      const auto a = static_cast<std::size_t>(edges[k].first);
      const auto b = static_cast<std::size_t>(edges[k].second);
      const double exposure = counts.time_from[a] > 0.0 ? counts.time_from[a] : mean_dt;
      const double start = std::max(counts.pairs[a * s + b], 0.5) / exposure;
      theta[k] = std::clamp(std::log(start), lower + 1.0, upper - 1.0);
    }
  }
  std::vector<double> best = theta;
  double best_value = -std::numeric_limits<double>::infinity();
  calibrate_profile::Problem problem;
  problem.loglik = [&](const std::vector<double>& x, std::vector<double>* g) {
    return likelihood.value(x, g);
  };
  problem.lower.assign(k_count, lower);
  problem.upper.assign(k_count, upper);
  problem.max_evaluations = options.max_evaluations;
  problem.relative_tolerance = options.relative_tolerance;
  const auto run = [&](const std::vector<double>& start) {
    if (k_count == 0) {
      fit.status = "SUCCESS";
      return;
    }
    const calibrate_profile::Point p = calibrate_profile::maximise(problem, start);
    fit.status = p.status;
    fit.evaluations += p.evaluations;
    if (p.loglik > best_value) {
      best_value = p.loglik;
      best = p.theta;
    } else if (!std::isfinite(best_value)) {
      best = start;
    }
  };
  run(theta);
  // A rate left at its lower bound whose score d loglik / dq is positive would raise the
  // likelihood if it opened: the point is not a maximum (KKT), which L-BFGS cannot see in log q
  // (the gradient q dloglik/dq vanishes there). Open such rates and maximise again.
  for (int round = 0; round < 3 && k_count > 0; ++round) {
    std::vector<double> g;
    const double before_value = likelihood.value(best, &g);
    if (!std::isfinite(before_value)) break;
    std::vector<double> start = best;
    bool opened = false;
    for (std::size_t k = 0; k < k_count; ++k) {
      const double q = std::exp(best[k]);
      if (best[k] > lower + 1e-6 || !(g[k] / q > 1.0)) continue;
      double out_rate = 0.0;
      for (std::size_t c = 0; c < k_count; ++c) {
        if (edges[c].first == edges[k].first) out_rate += std::exp(best[c]);
      }
      start[k] = std::log(std::max(0.02 * out_rate, 10.0 * options.min_rate));
      opened = true;
    }
    if (!opened) break;
    const std::vector<double> kept = best;
    const double kept_value = best_value;
    run(start);
    if (!(best_value > kept_value + 1e-9)) {
      best = kept;
      best_value = kept_value;
      break;
    }
  }
  theta = best;
  std::vector<double> gradient;
  fit.loglik = likelihood.value(theta, &gradient);

  // ---- bounds, convergence ----
  std::vector<bool> at_bound(k_count, false);
  std::vector<std::size_t> free;
  double gmax = 0.0;
  for (std::size_t k = 0; k < k_count; ++k) {
    at_bound[k] = theta[k] <= lower + 1e-6 || theta[k] >= upper - 1e-6;
    if (at_bound[k]) continue;
    free.push_back(k);
    gmax = std::max(gmax, std::abs(gradient[k]));
  }
  fit.gradient_norm = gmax;
  const bool nlopt_ok = fit.status == "SUCCESS" || fit.status == "FTOL_REACHED" ||
                        fit.status == "XTOL_REACHED" || fit.status == "STOPVAL_REACHED" ||
                        fit.status == "ROUNDOFF_LIMITED";
  // The gradient at a maximum is 0; allow for the tolerance relative to the data's size.
  const double gradient_tolerance = 1e-3 * std::max(1.0, std::sqrt(fit.n_transitions * 1.0));
  fit.converged = std::isfinite(fit.loglik) && nlopt_ok && gmax <= gradient_tolerance;
  if (!fit.converged) {
    warn("", "the optimiser did not converge (" + fit.status + ", max |gradient| " +
                 text::number(gmax) + "): estimates and intervals are unreliable");
  }

  // ---- observed information on the free parameters ----
  const auto kf = static_cast<Eigen::Index>(free.size());
  Matrix cov =
      Matrix::Constant(static_cast<Eigen::Index>(k_count), static_cast<Eigen::Index>(k_count),
                       std::numeric_limits<double>::quiet_NaN());
  fit.information_positive_definite = false;
  if (kf > 0 && std::isfinite(fit.loglik)) {
    Matrix hessian(kf, kf);
    const double h = 1e-4;
    for (Eigen::Index l = 0; l < kf; ++l) {
      std::vector<double> plus = theta;
      std::vector<double> minus = theta;
      plus[free[static_cast<std::size_t>(l)]] += h;
      minus[free[static_cast<std::size_t>(l)]] -= h;
      std::vector<double> gp;
      std::vector<double> gm;
      (void)likelihood.value(plus, &gp);
      (void)likelihood.value(minus, &gm);
      for (Eigen::Index r = 0; r < kf; ++r) {
        const std::size_t kr = free[static_cast<std::size_t>(r)];
        hessian(r, l) = (gp[kr] - gm[kr]) / (2.0 * h);
      }
    }
    const Matrix information = -0.5 * (hessian + hessian.transpose());
    const Eigen::SelfAdjointEigenSolver<Matrix> eigen(information);
    const double min_eig = eigen.eigenvalues().minCoeff();
    const double max_eig = eigen.eigenvalues().maxCoeff();
    if (information.allFinite() && min_eig > 1e-10 * std::max(max_eig, 1e-300)) {
      fit.information_positive_definite = true;
      const Matrix inverse = eigen.eigenvectors() *
                             eigen.eigenvalues().cwiseInverse().asDiagonal() *
                             eigen.eigenvectors().transpose();
      // Parameters on a bound are held fixed: zero rows and columns.
      cov.setZero();
      for (Eigen::Index r = 0; r < kf; ++r) {
        for (Eigen::Index c = 0; c < kf; ++c) {
          cov(static_cast<Eigen::Index>(free[static_cast<std::size_t>(r)]),
              static_cast<Eigen::Index>(free[static_cast<std::size_t>(c)])) = inverse(r, c);
        }
      }
    } else {
      warn("", "the observed information is not positive definite (smallest eigenvalue " +
                   text::number(min_eig) +
                   "): some rates are not identified by the data; no standard errors");
    }
  } else if (kf == 0 && k_count > 0) {
    warn("", "every rate lies on a bound: no standard errors");
  }
  fit.covariance.assign(k_count * k_count, 0.0);
  for (std::size_t r = 0; r < k_count; ++r) {
    for (std::size_t c = 0; c < k_count; ++c) {
      fit.covariance[r * k_count + c] =
          cov(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
    }
  }

  // ---- estimates ----
  const double z =
      boost::math::quantile(boost::math::normal_distribution<double>(), 0.5 + options.level / 2.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  fit.generator.assign(s * s, 0.0);
  std::vector<double> pairs_from(s, 0.0);
  for (std::size_t a = 0; a < s; ++a) {
    for (std::size_t b = 0; b < s; ++b) pairs_from[a] += counts.pairs[a * s + b];
  }
  const auto var_of = [&](const std::vector<double>& g) {
    double v = 0.0;
    for (std::size_t r = 0; r < k_count; ++r) {
      if (g[r] == 0.0) continue;
      for (std::size_t c = 0; c < k_count; ++c) {
        if (g[c] == 0.0) continue;
        v += g[r] * g[c] * fit.covariance[r * k_count + c];
      }
    }
    return v;
  };
  // A rate at its lower bound (the maximum on the boundary q = 0, LR statistic 0): its upper
  // bound from the profile likelihood's second-order expansion in q, loglik - |s| q - I q^2 / 2,
  // with s = dloglik/dq and I the profile (Schur complement) information of q from differences of
  // the analytic gradient. One-sided 95%: 2.71.
  const boost::math::chi_squared_distribution<double> chi1(1.0);
  const double one_sided = boost::math::quantile(chi1, 2.0 * options.level - 1.0);
  const double two_sided = boost::math::quantile(chi1, options.level);
  const auto upper_at_zero = [&](std::size_t k, double out_rate) {
    const double q0 = std::exp(theta[k]);
    const double h = std::max(1e-3 * out_rate, 1e3 * options.min_rate);
    std::vector<double> moved = theta;
    moved[k] = std::log(q0 + h);
    std::vector<double> gh;
    if (!std::isfinite(likelihood.value(moved, &gh))) return nan;
    const double score = gradient[k] / q0;
    const double score_h = gh[k] / (q0 + h);
    double info = -(score_h - score) / h;
    if (fit.information_positive_definite) {
      // cross(j) = -d^2 loglik / dq dtheta_j for the free j.
      std::vector<double> cross(k_count, 0.0);
      for (const std::size_t j : free) cross[j] = -(gh[j] - gradient[j]) / h;
      for (const std::size_t r : free) {
        for (const std::size_t c : free)
          info -= cross[r] * fit.covariance[r * k_count + c] * cross[c];
      }
    }
    if (info > 0.0) return (score + std::sqrt(score * score + info * one_sided)) / info;
    return score < 0.0 ? one_sided / (-2.0 * score) : std::numeric_limits<double>::infinity();
  };
  std::vector<double> out_rates(s, 0.0);
  for (std::size_t k = 0; k < k_count; ++k)
    out_rates[static_cast<std::size_t>(edges[k].first)] += std::exp(theta[k]);
  std::vector<double> rate_upper(k_count, nan);
  std::vector<std::string> bound_names;
  for (std::size_t k = 0; k < k_count; ++k) {
    const auto a = static_cast<std::size_t>(edges[k].first);
    const auto b = static_cast<std::size_t>(edges[k].second);
    const double rate = std::exp(theta[k]);
    fit.generator[a * s + b] = rate;
    fit.generator[a * s + a] -= rate;
    RateEstimate r;
    r.from = counts.stages[a];
    r.to = counts.stages[b];
    r.rate = rate;
    r.n = static_cast<std::size_t>(counts.pairs[a * s + b]);
    r.at_bound = at_bound[k];
    r.se_log = at_bound[k] ? nan : std::sqrt(fit.covariance[k * k_count + k]);
    r.ci_low = std::exp(theta[k] - z * r.se_log);
    r.ci_high = std::exp(theta[k] + z * r.se_log);
    EstimateRow row{"Q." + r.from + "." + r.to, rate, r.ci_low, r.ci_high,
                    static_cast<std::size_t>(pairs_from[a])};
    if (r.at_bound && theta[k] <= lower + 1e-6) {
      bound_names.push_back(r.from + " -> " + r.to);
      rate_upper[k] = upper_at_zero(k, out_rates[a]);
      r.ci_low = row.ci_low = 0.0;
      r.ci_high = row.ci_high = rate_upper[k];
      row.method = "boundary";
      row.p_zero = 1.0;
    } else if (r.at_bound) {
      bound_names.push_back(r.from + " -> " + r.to);
    } else {
      row.method = "wald";
    }
    fit.rates.push_back(r);
    fit.estimates.push_back(row);
  }
  if (!bound_names.empty()) {
    warn("", "rates at a bound (" + text::join(bound_names) +
                 "): a rate at min_rate is answered as 0 with an upper bound (the data do not "
                 "support the transition)");
  }
  // The profile likelihood for a next-stage probability near 0: tilting the likelihood in its
  // logit (profile.hpp), and the likelihood-ratio test of 0 from the fit without the transition;
  // profile points need their log-likelihood to 1e-4, not the maximum's precision.
  problem.relative_tolerance =
      std::max(options.relative_tolerance, 1e-4 / std::max(1.0, std::abs(fit.loglik)));
  problem.gradient_tolerance = gradient_tolerance;
  calibrate_profile::Point mle;
  mle.theta = theta;
  mle.loglik = fit.loglik;
  for (std::size_t a = 0; a < s; ++a) {
    if (fit.absorbing[a]) continue;
    const std::string& name = counts.stages[a];
    const auto n = static_cast<std::size_t>(pairs_from[a]);
    std::vector<std::size_t> out;
    double total = 0.0;
    for (std::size_t k = 0; k < k_count; ++k) {
      if (static_cast<std::size_t>(edges[k].first) != a) continue;
      out.push_back(k);
      total += fit.rates[k].rate;
    }
    // Mean sojourn m = 1 / sum q: log m = -log sum exp(theta), d/dtheta_k = -q_k / sum.
    {
      std::vector<double> g(k_count, 0.0);
      for (const std::size_t k : out) g[k] = -fit.rates[k].rate / total;
      const double se = std::sqrt(var_of(g));
      const double mean = 1.0 / total;
      EstimateRow row{"stages." + name + ".dwell.mean", mean, mean * std::exp(-z * se),
                      mean * std::exp(z * se), n};
      row.method = "wald";
      fit.estimates.push_back(row);
    }
    // Jump probabilities p = q_b / sum: logit p = theta_b - log(sum - q_b).
    for (const std::size_t k : out) {
      const double p = fit.rates[k].rate / total;
      const std::string parameter = "stages." + name + ".next." + fit.rates[k].to;
      if (out.size() == 1) {
        fit.estimates.push_back(EstimateRow{parameter, 1.0, 1.0, 1.0, n});
        continue;
      }
      if (fit.rates[k].at_bound) {
        EstimateRow row{parameter, p, nan, nan, n};
        if (std::isfinite(rate_upper[k])) {
          row.ci_low = 0.0;
          row.ci_high = rate_upper[k] / (total + rate_upper[k]);
          row.method = "boundary";
          row.p_zero = 1.0;
        }
        fit.estimates.push_back(row);
        continue;
      }
      const double rest = total - fit.rates[k].rate;
      std::vector<double> g(k_count, 0.0);
      g[k] = 1.0;
      for (const std::size_t c : out) {
        if (c != k) g[c] = -fit.rates[c].rate / rest;
      }
      const double se = std::sqrt(var_of(g));
      const double logit = theta[k] - std::log(rest);
      EstimateRow row{parameter, p, logistic(logit - z * se), logistic(logit + z * se), n};
      row.method = "wald";
      if (!(p - z * p * (1.0 - p) * se > 0.0) && fit.converged) {
        // Near 0: never a logit-scale Wald interval.
        const calibrate_profile::Quantity h = [&, k, out](const std::vector<double>& x) {
          double sum = 0.0;
          for (const std::size_t c : out) sum += c == k ? 0.0 : std::exp(x[c]);
          return x[k] - std::log(sum);
        };
        calibrate_profile::Problem without = problem;
        without.lower[k] = without.upper[k] = lower;
        const double ll0 = calibrate_profile::maximise(without, theta).loglik;
        const double lr = std::isfinite(ll0) ? std::max(2.0 * (fit.loglik - ll0), 0.0) : 1e300;
        row.p_zero = lr <= 1e-9 ? 1.0 : 0.5 * boost::math::cdf(boost::math::complement(chi1, lr));
        const double lambda0 = std::isfinite(se) && se > 0.0 ? std::sqrt(one_sided) / se : 1.0;
        if (row.p_zero >= 1.0 - options.level) {
          const auto b = calibrate_profile::profile_bound(problem, mle, h, 1.0, one_sided, lambda0,
                                                          logit + 23.0);
          row.ci_low = 0.0;
          row.ci_high = b.open ? 1.0 : logistic(b.value);
          row.method = "boundary";
        } else {
          const auto lo = calibrate_profile::profile_bound(problem, mle, h, -1.0, two_sided,
                                                           lambda0, logit - 23.0);
          const auto hi = calibrate_profile::profile_bound(problem, mle, h, 1.0, two_sided, lambda0,
                                                           logit + 23.0);
          row.ci_low = lo.open || lr <= two_sided ? 0.0 : logistic(lo.value);
          row.ci_high = hi.open ? 1.0 : logistic(hi.value);
          row.method = "profile";
        }
      }
      fit.estimates.push_back(row);
    }
  }
  return fit;
}

std::vector<StageSpec> markov_stage_specs(const MarkovFit& fit) {
  std::vector<StageSpec> out;
  const std::size_t s = fit.stages.size();
  for (std::size_t a = 0; a < s; ++a) {
    StageSpec spec;
    spec.name = fit.stages[a];
    spec.absorbing = fit.absorbing[a];
    if (!spec.absorbing) {
      std::vector<std::pair<double, std::string>> exits;
      for (const auto& r : fit.rates) {
        // A rate held at min_rate is "not supported by the data": left out of next.
        if (r.from != spec.name || (r.at_bound && r.rate < 1.0)) continue;
        exits.emplace_back(r.rate, r.to);
      }
      if (exits.empty()) {
        spec.absorbing = true;
      } else {
        std::stable_sort(exits.begin(), exits.end(),
                         [](const auto& x, const auto& y) { return x.first > y.first; });
        std::vector<double> weights;
        for (const auto& e : exits) weights.push_back(e.first);
        DwellSpec dwell;
        dwell.dist = "exponential";
        dwell.params["mean"] = 1.0 / -fit.generator[a * s + a];
        spec.dwell = std::move(dwell);
        NextSpec next;
        const std::vector<double> p = exact_probabilities(weights);
        for (std::size_t i = 0; i < exits.size(); ++i) {
          next.probs.emplace_back(exits[i].second, p[i]);
        }
        spec.next = std::move(next);
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace lcsim
