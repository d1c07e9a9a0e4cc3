#include "lcsim/engine/engine.hpp"

#include <algorithm>
#include <boost/random/exponential_distribution.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/rng/stream.hpp"

namespace lcsim {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t kCancelPollMask = 1023;  // poll the cancel flag every 1024 customers
constexpr unsigned kStreamShift = 40;             // arrival customers: (stream + 1) << 40 | k

/// A touchpoint that can contact the customer in its current stage: the next contact on each
/// schedule and the customer's window, if one is running.
struct Slot {
  TouchpointId tp = 0;
  double next_offset = kNever;  // after-entry schedule, days since stage entry
  double next_calendar = kNever;
  double window_end = kNever;
  std::uint64_t window_order = 0;  // larger = started later
};

/// Everything one replication accumulates; one instance per simulate() call.
class Replication {
 public:
  Replication(const Model& model, std::uint64_t seed, int replication, const SimulationControl& c)
      : m_(model),
        seed_(seed),
        rep_(static_cast<std::uint64_t>(replication)),
        control_(c),
        s_count_(model.num_stages()),
        t_count_(static_cast<int>(model.report_times.size())),
        inv_report_every_(1.0 / model.report_every),
        has_one_off_(std::any_of(model.one_off.begin(), model.one_off.end(), [](double v) { return v != 0.0; })) {
    result_.replication = replication;
    result_.num_stages = s_count_;
    result_.num_reports = t_count_;
    occupancy_diff_.assign(static_cast<std::size_t>((t_count_ + 1) * s_count_), 0);
    result_.transitions.assign(static_cast<std::size_t>(s_count_ * s_count_), 0);
    result_.reached.assign(static_cast<std::size_t>(s_count_), 0);
    visited_.assign(static_cast<std::size_t>(s_count_), 0);
    result_.touchpoints.assign(model.touchpoints.size(), TouchpointTally{});
    dropoff_.assign(static_cast<std::size_t>(s_count_), 0.0);
    tp_streams_.resize(model.touchpoints.size());
    tp_stream_owner_.assign(model.touchpoints.size(), ~std::uint64_t{0});
    if (c.outcomes != nullptr) *c.outcomes = CustomerOutcomes{model.num_touchpoints(), {}, {}, {}, {}};
  }

  ReplicationResult run() {
    std::uint64_t index = 0;
    for (const auto& group : m_.initial) {
      for (std::int64_t i = 0; i < group.count; ++i) customer(index++, group.stage, group.segment, 0.0);
    }
    for (std::size_t a = 0; a < m_.arrivals.size(); ++a) arrivals(a);
    flush_progress();
    return finish();
  }

 private:
  // ---- arrivals ------------------------------------------------------------------------------
  void arrivals(std::size_t a) {
    const ArrivalProcess& p = m_.arrivals[a];
    if (!(p.max_rate > 0.0)) return;
    Stream rng(seed_, rep_, a, Purpose::kArrival);
    boost::random::exponential_distribution<double> gap(p.max_rate);
    const std::uint64_t base = (static_cast<std::uint64_t>(a) + 1U) << kStreamShift;
    std::uint64_t k = 0;
    double t = 0.0;
    for (;;) {
      t += gap(rng);
      if (t >= m_.horizon) break;
      const auto weekday = static_cast<std::size_t>(static_cast<std::uint64_t>(t) % 7U);
      const double rate = p.weekday_rate[weekday];  // thinning; no draw needed at the peak rate
      if (rate >= p.max_rate || rng.uniform() * p.max_rate < rate) customer(base | k++, p.stage, p.segment, t);
    }
  }

  // ---- one customer --------------------------------------------------------------------------
  void customer(std::uint64_t key, StageId stage, SegmentId segment, double t) {
    if ((++customers_ & kCancelPollMask) == 0) poll();
    path_rng_ = Stream(seed_, rep_, key, Purpose::kPath);
    if (segment < 0) {
      segment = m_.num_segments() == 1 ? 0 : static_cast<SegmentId>(m_.segment_choice.sample(path_rng_()));
    }
    key_ = key;
    segment_ = segment;
    first_seen_ = t;
    converted_ = m_.converted[static_cast<std::size_t>(stage)] != 0;
    CustomerOutcomes* out = control_.outcomes;
    if (out != nullptr) {
      out->customer.push_back(key);
      out->segment.push_back(segment);
      out->first_reach.insert(out->first_reach.end(), m_.touchpoints.size(), std::int16_t{-1});
    }
    log(t, -1, stage, kCauseArrival);
    const bool was_converted = converted_;
    k_from_ = report_index(t);
    advance(stage, t);
    if (out != nullptr) out->converted.push_back(converted_ && !was_converted ? 1 : 0);
  }

  /// Moves the customer from stage s at time t until an absorbing stage or the horizon.
  void advance(StageId s, double t) {
    for (;;) {
      visit(s);
      if (m_.absorbing[static_cast<std::size_t>(s)] != 0U) {
        stay(s, t, m_.horizon, true);
        return;
      }
      const std::uint32_t first = m_.tp_offsets[static_cast<std::size_t>(segment_ * s_count_ + s)];
      const std::uint32_t last = m_.tp_offsets[static_cast<std::size_t>(segment_ * s_count_ + s + 1)];
      const Visit v = first == last ? plain_visit(s, t) : touched_visit(s, t, first, last);
      if (v.to < 0) return;  // still in s at the horizon
      move(s, v.to, v.time, v.cause);
      s = v.to;
      t = v.time;
    }
  }

  /// Counts the customer in `reached` on its first visit of s (visited_ holds the customer serial).
  void visit(StageId s) {
    auto& mark = visited_[static_cast<std::size_t>(s)];
    if (mark != customers_) {
      mark = customers_;
      ++result_.reached[static_cast<std::size_t>(s)];
    }
  }

  struct Visit {
    StageId to = -1;  // -1: the horizon came first
    double time = 0.0;
    std::int16_t cause = kCauseExit;
  };

  /// A stage visit without touchpoints: one exit draw, one next draw.
  Visit plain_visit(StageId s, double entry) {
    const StageRule& r = m_.rule(segment_, s);
    const double exit = entry + r.dwell.inverse_cumulative_hazard(exp1_(path_rng_));
    if (exit >= m_.horizon) {
      stay(s, entry, m_.horizon, true);
      return {};
    }
    stay(s, entry, exit, false);
    return {r.next_stages[r.next.sample(path_rng_())], exit, kCauseExit};
  }

  /// A stage visit with touchpoints: a small local event loop over the customer's own events
  /// (exit, contacts, window ends); the hazard clock is re-aimed whenever the factor changes.
  Visit touched_visit(StageId s, double entry, std::uint32_t first, std::uint32_t last) {
    const StageRule& r = m_.rule(segment_, s);
    const double target = exp1_(path_rng_);  // exit when the accumulated hazard reaches this
    double consumed = 0.0;                     // factor-weighted hazard up to d_mark
    double d_mark = 0.0;                       // dwell time of the last factor change
    double h_mark = 0.0;                       // H(d_mark)
    double factor = 1.0;
    double exit = entry + r.dwell.inverse_cumulative_hazard(target);

    slots_.clear();
    for (std::uint32_t i = first; i < last; ++i) {
      const TouchpointId id = m_.touchpoints_for[i];
      const Schedule& sch = m_.touchpoints[static_cast<std::size_t>(id)].schedule;
      slots_.push_back(Slot{id, sch.next_after_entry(0.0, false), sch.next_calendar(entry, false)});
    }

    // Re-aims the exit time after a factor change at time `now`.
    auto reaim = [&](double now) {
      const double d_now = now - entry;
      consumed += factor * (r.dwell.cumulative_hazard(d_now) - h_mark);
      h_mark = r.dwell.cumulative_hazard(d_now);
      d_mark = d_now;
      factor = 1.0;
      for (const Slot& sl : slots_) {
        if (sl.window_end < kNever) factor *= m_.touchpoints[static_cast<std::size_t>(sl.tp)].hazard_factor;
      }
      const double remaining = std::max(0.0, target - consumed);
      exit = entry + std::max(d_mark, r.dwell.inverse_cumulative_hazard(h_mark + remaining / factor));
    };

    for (;;) {
      enum { kExit, kContact, kWindowEnd } kind = kExit;
      double when = exit;
      std::size_t which = 0;
      for (std::size_t j = 0; j < slots_.size(); ++j) {
        const Slot& sl = slots_[j];
        const double contact = std::min(entry + sl.next_offset, sl.next_calendar);
        if (contact < when) {
          when = contact;
          kind = kContact;
          which = j;
        }
        if (sl.window_end < when) {
          when = sl.window_end;
          kind = kWindowEnd;
          which = j;
        }
      }
      if (when >= m_.horizon) {
        stay(s, entry, m_.horizon, true);
        return {};
      }
      if (kind == kExit) {
        stay(s, entry, when, false);
        return {choose_next(r), when, kCauseExit};
      }
      Slot& sl = slots_[which];
      const Touchpoint& tp = m_.touchpoints[static_cast<std::size_t>(sl.tp)];
      if (kind == kWindowEnd) {
        sl.window_end = kNever;
        reaim(when);
        continue;
      }
      // A contact: advance whichever schedule produced it, then draw reach and effect.
      if (entry + sl.next_offset <= sl.next_calendar) {
        sl.next_offset = tp.schedule.next_after_entry(sl.next_offset, true);
      } else {
        sl.next_calendar = tp.schedule.next_calendar(sl.next_calendar, true);
      }
      TouchpointTally& tally = result_.touchpoints[static_cast<std::size_t>(sl.tp)];
      tally.contacts += 1.0;
      tally.cost += tp.cost;
      cost_ += tp.cost;
      discounted_cost_ += tp.cost * discount(when);
      Stream& rng = tp_stream(sl.tp);
      if (!(rng.uniform() < tp.reach)) continue;
      tally.reached += 1.0;
      if (control_.outcomes != nullptr) {
        auto& first_reach = control_.outcomes->first_reach[control_.outcomes->first_reach.size() -
                                                           m_.touchpoints.size() + static_cast<std::size_t>(sl.tp)];
        if (first_reach < 0) first_reach = static_cast<std::int16_t>(s);
      }
      if (tp.move_to >= 0 && rng.uniform() < tp.move_probability) {
        tally.moves += 1.0;
        stay(s, entry, when, false);
        return {tp.move_to, when, static_cast<std::int16_t>(kCauseTouchpoint + sl.tp)};
      }
      if (tp.window > 0.0) {
        sl.window_end = when + tp.window;
        sl.window_order = ++window_counter_;
        reaim(when);
      }
    }
  }

  /// Next stage on a natural exit: the latest running window with a next override, else the rule.
  StageId choose_next(const StageRule& r) {
    const Slot* latest = nullptr;
    for (const Slot& sl : slots_) {
      if (sl.window_end < kNever && m_.touchpoints[static_cast<std::size_t>(sl.tp)].has_next_override &&
          (latest == nullptr || sl.window_order > latest->window_order)) {
        latest = &sl;
      }
    }
    if (latest == nullptr) return r.next_stages[r.next.sample(path_rng_())];
    const Touchpoint& tp = m_.touchpoints[static_cast<std::size_t>(latest->tp)];
    return tp.next_override_stages[tp.next_override.sample(path_rng_())];
  }

  Stream& tp_stream(TouchpointId id) {
    const auto i = static_cast<std::size_t>(id);
    if (tp_stream_owner_[i] != customers_) {
      tp_streams_[i] = Stream(seed_, rep_, key_, Purpose::kTouchpoint, m_.touchpoints[i].stream_key);
      tp_stream_owner_[i] = customers_;
    }
    return tp_streams_[i];
  }

  // ---- accounting ----------------------------------------------------------------------------
  [[nodiscard]] double discount(double t) const {
    return m_.discount_per_day > 0.0 ? std::exp(-m_.discount_per_day * t) : 1.0;
  }

  /// First report index k with report_times[k] >= t (T if none).
  [[nodiscard]] int report_index(double t) const {
    // floor(t / step) by truncation (t >= 0), then exact correction against the report times
    const double guess = t * inv_report_every_;
    int k = guess < static_cast<double>(t_count_) ? static_cast<int>(guess) : t_count_;
    while (k < t_count_ && m_.report_times[static_cast<std::size_t>(k)] < t) ++k;
    while (k > 0 && m_.report_times[static_cast<std::size_t>(k - 1)] >= t) --k;
    return k;
  }

  /// The customer was in stage s over [from, to); `to_horizon` means still there at the horizon.
  /// Stays of a customer are contiguous, so `from`'s report index is the previous stay's end.
  void stay(StageId s, double from, double to, bool to_horizon) {
    const int k0 = k_from_;
    const int k1 = to_horizon ? t_count_ : report_index(to);
    k_from_ = k1;
    if (k1 > k0) {
      occupancy_diff_[static_cast<std::size_t>(k0 * s_count_ + s)] += 1;
      occupancy_diff_[static_cast<std::size_t>(k1 * s_count_ + s)] -= 1;
    }
    const double rate = m_.rule(segment_, s).revenue_per_day;
    if (rate > 0.0 && to > from) {
      revenue_ += rate * (to - from);
      const double d = m_.discount_per_day;
      discounted_revenue_ +=
          d > 0.0 ? rate * (std::exp(-d * from) - std::exp(-d * to)) / d : rate * (to - from);
    }
  }

  void move(StageId from, StageId to, double t, std::int16_t cause) {
    const auto fs = static_cast<std::size_t>(from);
    const auto ts = static_cast<std::size_t>(to);
    result_.transitions[fs * static_cast<std::size_t>(s_count_) + ts] += 1;
    if (m_.absorbing[ts] != 0U && to != m_.won) dropoff_[fs] += 1.0;
    const double value = has_one_off_ ? m_.one_off[fs * static_cast<std::size_t>(s_count_) + ts] : 0.0;
    if (value != 0.0) {
      revenue_ += value;
      discounted_revenue_ += value * discount(t);
    }
    if (to == m_.won && !converted_) {
      converted_ = true;
      time_to_convert_.push_back(t - first_seen_);
    }
    log(t, from, to, cause);
  }

  void log(double t, StageId from, StageId to, std::int16_t cause) {
    if (!control_.events) return;
    result_.events.push_back(Event{static_cast<std::int32_t>(rep_), static_cast<std::int64_t>(key_), t,
                                   static_cast<std::int16_t>(from), static_cast<std::int16_t>(to), cause});
  }

  void poll() {
    flush_progress();
    if (control_.cancel != nullptr && control_.cancel->load(std::memory_order_relaxed)) throw Cancelled();
  }

  void flush_progress() {
    if (control_.progress != nullptr) {
      control_.progress->fetch_add(static_cast<std::int64_t>(customers_ - reported_),
                                   std::memory_order_relaxed);
    }
    reported_ = customers_;
  }

  ReplicationResult finish() {
    // Occupancy: prefix sums of the difference array.
    result_.occupancy.assign(static_cast<std::size_t>(t_count_ * s_count_), 0);
    for (int s = 0; s < s_count_; ++s) {
      std::int64_t level = 0;
      for (int k = 0; k < t_count_; ++k) {
        level += occupancy_diff_[static_cast<std::size_t>(k * s_count_ + s)];
        result_.occupancy[static_cast<std::size_t>(k * s_count_ + s)] = level;
      }
    }
    std::int64_t moves = 0;
    for (auto c : result_.transitions) moves += c;

    const auto customers = static_cast<double>(customers_);
    const auto conversions = static_cast<double>(time_to_convert_.size());
    auto& mt = result_.metrics;
    mt.assign(static_cast<std::size_t>(kNumFixedMetrics + s_count_), 0.0);
    mt[kCustomers] = customers;
    mt[kConversions] = conversions;
    mt[kConversionRate] = customers > 0 ? conversions / customers : kNaN;
    mt[kTimeToConvertMean] = kNaN;
    mt[kTimeToConvertMedian] = kNaN;
    if (!time_to_convert_.empty()) {
      double sum = 0.0;
      for (double x : time_to_convert_) sum += x;
      mt[kTimeToConvertMean] = sum / conversions;
      mt[kTimeToConvertMedian] = median(time_to_convert_);
    }
    mt[kRevenue] = revenue_;
    mt[kTouchpointCost] = cost_;
    mt[kDiscountedRevenue] = discounted_revenue_;
    mt[kDiscountedCost] = discounted_cost_;
    mt[kNetValue] = discounted_revenue_ - discounted_cost_;
    mt[kValuePerConversion] = conversions > 0 ? mt[kNetValue] / conversions : kNaN;
    mt[kCostPerConversion] = conversions > 0 ? cost_ / conversions : kNaN;
    mt[kTransitions] = static_cast<double>(moves);
    for (int s = 0; s < s_count_; ++s) mt[static_cast<std::size_t>(kNumFixedMetrics + s)] = dropoff_[static_cast<std::size_t>(s)];
    return std::move(result_);
  }

  static double median(std::vector<double>& x) {
    const std::size_t n = x.size();
    auto mid = x.begin() + static_cast<std::ptrdiff_t>(n / 2);
    std::nth_element(x.begin(), mid, x.end());
    if (n % 2 == 1) return *mid;
    const double hi = *mid;
    const double lo = *std::max_element(x.begin(), mid);
    return 0.5 * (lo + hi);
  }

  const Model& m_;
  std::uint64_t seed_;
  std::uint64_t rep_;
  const SimulationControl& control_;
  int s_count_;
  int t_count_;
  double inv_report_every_;
  bool has_one_off_;
  ReplicationResult result_;

  boost::random::exponential_distribution<double> exp1_{1.0};
  std::vector<std::int64_t> occupancy_diff_;  // [(T + 1) * S]
  std::vector<double> dropoff_;
  std::vector<double> time_to_convert_;
  std::vector<Slot> slots_;
  std::vector<Stream> tp_streams_;
  std::vector<std::uint64_t> tp_stream_owner_;
  std::vector<std::uint64_t> visited_;  // [S] serial of the last customer who visited the stage
  double revenue_ = 0.0;
  double cost_ = 0.0;
  double discounted_revenue_ = 0.0;
  double discounted_cost_ = 0.0;
  std::uint64_t customers_ = 0;
  std::uint64_t reported_ = 0;
  std::uint64_t window_counter_ = 0;

  // the customer being advanced
  std::uint64_t key_ = 0;
  SegmentId segment_ = 0;
  int k_from_ = 0;  // report index of the start of the current stay
  double first_seen_ = 0.0;
  bool converted_ = false;
  Stream path_rng_;  // segment, then E and next choice of each visit
};

}  // namespace

ReplicationResult Engine::simulate(int replication, const SimulationControl& control) const {
  const std::uint64_t seed = control.has_seed ? control.seed_override : model_.seed;
  Replication rep(model_, seed, replication, control);
  return rep.run();
}

}  // namespace lcsim
