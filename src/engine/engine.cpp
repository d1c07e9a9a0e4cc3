#include "lcsim/engine/engine.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include "lcsim/core/error.hpp"
#include "lcsim/rng/exponential.hpp"
#include "lcsim/rng/stream.hpp"
#include "plain_lanes.hpp"
#include "report_index.hpp"
#include "resource_queue.hpp"
#include "touched_stay.hpp"

namespace lcsim {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::uint64_t kCancelPollMask = 1023;  // poll the cancel flag every 1024 customers
constexpr unsigned kStreamShift = 40;            // arrival customers: (stream + 1) << 40 | k
constexpr std::uint64_t kReferralKeyBit = std::uint64_t{1} << 63U;  // referred customers' keys

using detail::mix64;

/// Exp(1) by inversion: exactly one word per draw, so a request's draws stay aligned across variants.
double exp1_inverse(Stream& rng) noexcept { return -std::log1p(-rng.uniform()); }

/// The customer being advanced. Saved in its Request while it waits for a resource.
struct Customer {
  std::uint64_t key = 0;
  std::uint64_t serial = 0;  // new for every stretch of independent advance (visit marks, streams)
  SegmentId segment = 0;
  std::uint64_t epoch = 0;  // services and abandonments so far: selects fresh streams after each
  std::uint64_t referrals_made = 0;  // numbers the customer's referrals (their keys)
  std::size_t out_index = 0;         // position in CustomerOutcomes
  double first_seen = 0.0;
  bool converted = false;
};

/// A customer made by a referral, waiting to be advanced once the current customer is done.
struct Pending {
  std::uint64_t key = 0;
  StageId stage = 0;
  SegmentId segment = -1;
  double time = 0.0;
  std::int16_t cause = kCauseArrival;
};

enum class RequestState : std::uint8_t { kFree, kHandoff, kWaiting, kInService };

/// A customer in a served stage: its saved state and its draws for this request, all made when it
/// entered the stage (one kResource stream per request), so they never depend on the queue.
struct Request {
  Customer who;
  StageId stage = 0;
  int resource = 0;
  int cls = 0;
  double entry = 0.0;
  double join = 0.0;
  double start = 0.0;
  double service = 0.0;
  double patience = kNever;
  std::uint64_t outcome_word = 0;
  double decay_u = 0.0;
  RequestState state = RequestState::kFree;
  std::uint32_t gen =
      0;  // bumped when the slot is freed: stale queue entries and events are skipped
};

enum class QueueEventKind : std::uint8_t { kJoin, kAbandon, kServiceEnd, kStaff };

/// An event of the one global, time-ordered queue: only coupled events (resources) go through it.
struct QueueEvent {
  double time = 0.0;
  std::uint64_t seq = 0;  // insertion order breaks ties: deterministic
  std::uint32_t id = 0;   // request id, or resource index for kStaff
  std::uint32_t gen = 0;  // request generation, or staffing index for kStaff
  QueueEventKind kind = QueueEventKind::kJoin;
  bool operator>(const QueueEvent& o) const noexcept {
    return time != o.time ? time > o.time : seq > o.seq;
  }
};

/// How the advance loop treats a stage of a segment.
enum class StageKind : std::uint8_t { kAbsorbing, kServed, kPlain, kTouched };

/// Everything the advance loop reads of one (segment, stage), in one place: built once per
/// replication from the model, so a stage visit touches one small record.
struct StageHot {
  const StageRule* rule = nullptr;
  double mean = 0.0;             // the exponential dwell's mean; 0 for other families
  double revenue_per_day = 0.0;  // > 0: the stay earns revenue
  std::uint32_t tp_first = 0;    // touchpoints for this stage: touchpoints_for[tp_first, tp_last)
  std::uint32_t tp_last = 0;
  StageKind kind = StageKind::kPlain;
  bool refers = false;      // referrals are made from this stage
  bool stay_extra = false;  // refers, or the stay earns revenue: stays take stay_extra()
  // The rule's next-stage alias table, inlined (up to kInlineNext targets; next_n = 0: use the
  // rule's table): column i keeps next_keep[i] when the low 32 bits are below next_keep_below[i],
  // else gives next_alias[i]. The same choice as AliasTable::sample, with no pointer to follow.
  static constexpr std::size_t kInlineNext = 6;
  std::uint32_t next_n = 0;
  std::array<std::uint32_t, kInlineNext> next_keep_below{};
  std::array<StageId, kInlineNext> next_keep{};
  std::array<StageId, kInlineNext> next_alias{};

  /// The next stage from one 64-bit word: the rule's choice, bit for bit.
  [[nodiscard]] StageId next_stage(std::uint64_t bits) const noexcept {
    if (next_n == 0) return rule->next_stages[rule->next.sample(bits)];
    const auto i = static_cast<std::uint32_t>(((bits >> 32U) * next_n) >> 32U);
    // Keep or alias without a branch: the choice is random, a branch would miss often.
    const auto keep = static_cast<std::uint32_t>(next_keep[i]);
    const auto alias = static_cast<std::uint32_t>(next_alias[i]);
    const std::uint32_t kept =
        0U - static_cast<std::uint32_t>(static_cast<std::uint32_t>(bits) < next_keep_below[i]);
    return static_cast<StageId>(alias ^ ((keep ^ alias) & kept));
  }

  /// Copies the rule's table when it is small enough.
  void inline_next() {
    const AliasTable& t = rule->next;
    if (t.empty() || t.size() > kInlineNext) return;
    next_n = static_cast<std::uint32_t>(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) {
      const std::uint64_t thr = t.threshold(i);
      next_keep[i] = rule->next_stages[i];
      next_alias[i] = rule->next_stages[t.alias(i)];
      if (thr >= (std::uint64_t{1} << 32U)) {  // always kept: frac < 2^32 always holds
        next_keep_below[i] = ~std::uint32_t{0};
        next_alias[i] = next_keep[i];
      } else {
        next_keep_below[i] = static_cast<std::uint32_t>(thr);
      }
    }
  }
};

/// The big buffers of a replication, kept from one replication to the next on a thread (their
/// capacity, not their contents; each replication starts them empty): a run of many replications
/// then allocates them, and faults their pages in, once per thread.
struct Scratch {
  detail::LaneBlock lane_block;
  std::vector<double> arrival_t;
  std::vector<std::int64_t> arrival_k;
  std::vector<double> time_to_convert;
};

/// The number of 53-bit words m with m * 2^-53 * max_rate < rate (Stream::uniform()'s value times
/// the peak rate, as doubles): the thinning's test as `word >> 11 < threshold`. The product grows
/// with m, so those m are 0 .. threshold - 1; found by bisection on the same double expression.
std::uint64_t thinning_threshold(double rate, double max_rate) {
  auto kept = [&](std::uint64_t m) { return static_cast<double>(m) * 0x1.0p-53 * max_rate < rate; };
  std::uint64_t lo = 0;                        // kept(m) for every m < lo
  std::uint64_t hi = std::uint64_t{1} << 53U;  // !kept(m) for every m >= hi
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (kept(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/// The arrival days of one arrival stream, in order: a Poisson process at the peak rate, thinned
/// to each weekday's rate (a candidate on a day below the peak rate is kept when uniform() *
/// max_rate < rate, i.e. when its word's top 53 bits are below keep_below[weekday]: the same test,
/// in integers; at the peak rate it is kept with no draw). A copy continues where the original
/// stands: Engine::plan keeps one where each part of the stream starts.
class ArrivalStream {
 public:
  ArrivalStream(const ArrivalProcess& p, const StreamFamily& family, std::size_t a, double horizon)
      : rng_(family, a, Purpose::kArrival),
        rate_(p.max_rate > 0.0 ? p.max_rate : 1.0),
        horizon_(horizon),
        live_(p.max_rate > 0.0) {
    for (std::size_t d = 0; d < 7 && live_; ++d) {
      thinned_[d] = p.weekday_rate[d] < p.max_rate;
      keep_below_[d] = thinning_threshold(p.weekday_rate[d], p.max_rate);
    }
  }

  /// The next arrival's day into t; false at the horizon (and from then on).
  bool next(double& t) {
    if (!live_) return false;
    for (;;) {
      t_ += exp1(rng_) / rate_;  // boost::random::exponential_distribution(rate)'s value
      if (t_ >= horizon_) {
        live_ = false;
        return false;
      }
      while (t_ >= day_end_) {
        day_end_ += 1.0;
        weekday_ = weekday_ == 6 ? 0 : weekday_ + 1;
      }
      if (thinned_[weekday_] && (rng_() >> 11U) >= keep_below_[weekday_]) continue;
      t = t_;
      return true;
    }
  }

 private:
  Stream rng_;
  double rate_;  // the peak rate
  double horizon_;
  bool live_;
  double t_ = 0.0;
  double day_end_ = 1.0;     // the candidate's day is [day_end - 1, day_end)
  std::size_t weekday_ = 0;  // floor(t) % 7
  std::array<std::uint64_t, 7> keep_below_{};
  std::array<bool, 7> thinned_{};
};

/// A part of a replication (Engine::plan): `count` customers of initial group `group` from the
/// one keyed `first` (its index in the replication), or of arrival stream `stream` from its
/// `first`-th arrival on, `arrivals` standing just before it.
struct PartSpec {
  int group = -1;
  int stream = -1;
  std::uint64_t first = 0;
  std::int64_t count = 0;
  std::optional<ArrivalStream> arrivals;
};

/// What a part of a replication leaves for the join (Replication::take_part, absorb).
struct PartData;

/// Everything one replication accumulates; one instance per simulate() call.
class Replication {
 public:
  Replication(const Model& model, std::uint64_t seed, int replication, const SimulationControl& c,
              Scratch& scratch)
      : m_(model),
        rep_(static_cast<std::uint64_t>(replication)),
        family_(seed, rep_),
        control_(c),
        s_count_(model.num_stages()),
        t_count_(static_cast<int>(model.report_times.size())),
        inv_report_every_(1.0 / model.report_every),
        has_one_off_(std::any_of(model.one_off.begin(), model.one_off.end(),
                                 [](double v) { return v != 0.0; })),
        has_resources_(!model.resources.empty()),
        has_referrals_(!model.referrals.empty()),
        causes_{model.num_touchpoints(), model.num_resources(),
                static_cast<int>(model.referrals.size())},
        visit_words_(static_cast<std::size_t>((s_count_ + 63) / 64)),
        time_to_convert_(scratch.time_to_convert),
        lane_block_(scratch.lane_block),
        arrival_t_(scratch.arrival_t),
        arrival_k_(scratch.arrival_k) {
    time_to_convert_.clear();
    arrival_t_.clear();
    arrival_k_.clear();
    result_.replication = replication;
    result_.num_stages = s_count_;
    result_.num_reports = t_count_;
    occupancy_diff_.assign(static_cast<std::size_t>((t_count_ + 1) * s_count_), 0);
    occ_end_ = occupancy_diff_.data() + static_cast<std::ptrdiff_t>(t_count_) * s_count_;
    result_.transitions.assign(static_cast<std::size_t>(s_count_ * s_count_), 0);
    result_.reached.assign(static_cast<std::size_t>(s_count_), 0);
    visited_.assign(static_cast<std::size_t>(s_count_), 0);
    result_.touchpoints.assign(model.touchpoints.size(), TouchpointTally{});
    tp_streams_.resize(model.touchpoints.size());
    tp_stream_owner_.assign(model.touchpoints.size(), ~std::uint64_t{0});
    ref_streams_.resize(model.referrals.size());
    ref_stream_owner_.assign(model.referrals.size(), ~std::uint64_t{0});
    if (c.outcomes != nullptr)
      *c.outcomes = CustomerOutcomes{model.num_touchpoints(), {}, {}, {}, {}};
    build_hot();
  }

  /// The whole replication.
  ReplicationResult run() {
    std::uint64_t index = 0;
    for (const auto& group : m_.initial) group_customers(group, group.count, index);
    for (std::size_t a = 0; a < m_.arrivals.size(); ++a) {
      arrivals(a, ArrivalStream(m_.arrivals[a], family_, a, m_.horizon), 0,
               std::numeric_limits<std::int64_t>::max());
    }
    if (has_resources_) serve();
    flush_progress();
    return finish();
  }

  /// One part of a split replication (Engine::plan): its customers, each until the horizon, an
  /// absorbing stage or a resource's queue (the join serves the queues); then take_part().
  void run_part(const PartSpec& part) {
    if (part.group >= 0) {
      std::uint64_t index = part.first;
      group_customers(m_.initial[static_cast<std::size_t>(part.group)], part.count, index);
    } else {
      arrivals(static_cast<std::size_t>(part.stream), *part.arrivals, part.first, part.count);
    }
    flush_progress();
  }

  /// What run_part() accumulated (defined below, after PartData).
  PartData take_part();

  /// Adds a part's results to this replication's, parts in part order: counts add up, sums add
  /// part by part, conversion times and logs follow each other, and the part's customers waiting
  /// for a resource join the queue in their order (as one replication would have queued them).
  void absorb(PartData&& part);

  /// After every part was absorbed: the resources' queue, then the result.
  ReplicationResult run_joined() {
    if (has_resources_) serve();
    flush_progress();
    return finish();
  }

 private:
  void build_hot() {
    const int g_count = m_.num_segments();
    hot_.resize(static_cast<std::size_t>(g_count * s_count_));
    for (int g = 0; g < g_count; ++g) {
      for (int s = 0; s < s_count_; ++s) {
        const auto gs = static_cast<std::size_t>(g * s_count_ + s);
        const auto si = static_cast<std::size_t>(s);
        StageHot& h = hot_[gs];
        h.rule = &m_.rule(g, s);
        h.mean = h.rule->dwell.family() == DwellFamily::kExponential ? h.rule->dwell.a() : 0.0;
        h.revenue_per_day = h.rule->revenue_per_day;
        h.tp_first = m_.tp_offsets[gs];
        h.tp_last = m_.tp_offsets[gs + 1];
        h.refers = has_referrals_ && m_.referral_offsets[si] != m_.referral_offsets[si + 1];
        h.stay_extra = h.refers || h.revenue_per_day > 0.0;
        if (m_.absorbing[si] == 0U) h.inline_next();
        if (m_.absorbing[si] != 0U) {
          h.kind = StageKind::kAbsorbing;
        } else if (has_resources_ && m_.served_by[si] >= 0) {
          h.kind = StageKind::kServed;
        } else {
          h.kind = h.tp_first == h.tp_last ? StageKind::kPlain : StageKind::kTouched;
        }
      }
    }
    const auto pairs = static_cast<std::size_t>(s_count_) * static_cast<std::size_t>(s_count_);
    move_extra_.assign(pairs, 0);
    for (std::size_t ft = 0; ft < pairs; ++ft) {
      const auto to = static_cast<StageId>(ft % static_cast<std::size_t>(s_count_));
      move_extra_[ft] = static_cast<std::uint8_t>(control_.events || to == m_.won ||
                                                  (has_one_off_ && m_.one_off[ft] != 0.0));
    }
  }

  [[nodiscard]] const StageHot& hot(StageId s) const { return hot_row_[s]; }

  // ---- arrivals ----------------------------------------------------------------------------
  /// Arrival stream a's customers from its `first`-th on, `count` at most (all: the whole stream),
  /// `stream` standing just before the first of them.
  void arrivals(std::size_t a, ArrivalStream stream, std::uint64_t first, std::int64_t count) {
    const ArrivalProcess& p = m_.arrivals[a];
    if (!(p.max_rate > 0.0)) return;
    const std::uint64_t base = (static_cast<std::uint64_t>(a) + 1U) << kStreamShift;
    const SegmentId segment = p.segment >= 0 ? p.segment : (m_.num_segments() == 1 ? 0 : -1);
    detail::LaneCohort lanes;
    int lane_tp = -1;
    const bool in_lanes = lane_setup(p.stage, segment, lanes, lane_tp);
    std::uint64_t k = first;
    int k_arrival = 0;
    double t = 0.0;
    for (std::int64_t i = 0; i < count && stream.next(t); ++i) {
      if (!in_lanes) {
        customer(base | k++, p.stage, p.segment, t);
        continue;
      }
      while (k_arrival < t_count_ && m_.report_times[static_cast<std::size_t>(k_arrival)] < t)
        ++k_arrival;
      arrival_t_.push_back(t);
      arrival_k_.push_back(k_arrival);  // report_index(t): arrival days only grow
      ++k;
      if (arrival_t_.size() == detail::kLaneBlock) arrival_block(lanes, base | k, segment, lane_tp);
    }
    if (in_lanes) arrival_block(lanes, base | k, segment, lane_tp);
  }

  /// The arrivals collected in arrival_t_ (their keys end just before `end_key`) through the lanes,
  /// or one by one when they would pass max_customers (which then stops the run where it must).
  void arrival_block(detail::LaneCohort& lanes, std::uint64_t end_key, SegmentId segment,
                     int lane_tp) {
    const auto n = static_cast<std::uint32_t>(arrival_t_.size());
    if (n == 0) return;
    const std::uint64_t first = end_key - n;
    if (static_cast<std::int64_t>(customers_ + n) > m_.max_customers) {
      for (std::uint32_t i = 0; i < n; ++i)
        customer(first + i, lanes.start, segment, arrival_t_[i]);
    } else {
      lanes.entry_t = arrival_t_.data();
      lanes.entry_ks = arrival_k_.data();
      lane_block(lanes, first, n, segment, lane_tp);
    }
    arrival_t_.clear();
    arrival_k_.clear();
  }

  // ---- one customer --------------------------------------------------------------------------
  /// `count` customers of an initial group from the one keyed `index` on (index is moved past them).
  void group_customers(const InitialGroup& group, std::int64_t count, std::uint64_t& index) {
    if (plain_cohort(group, count, index)) return;
    for (std::int64_t i = 0; i < count; ++i) customer(index++, group.stage, group.segment, 0.0);
  }

  /// A new customer, then every customer its referrals brought in (depth first).
  void customer(std::uint64_t key, StageId stage, SegmentId segment, double t) {
    new_customer(key, stage, segment, t, kCauseArrival);
    drain();
  }

  void drain() {
    while (!pending_.empty()) {
      const Pending p = pending_.back();
      pending_.pop_back();
      new_customer(p.key, p.stage, p.segment, p.time, p.cause);
    }
  }

  /// The customers of an initial group when nothing of theirs needs new_customer()'s general
  /// parts (no outcomes, event log or referrals; within max_customers): the same streams, draws and
  /// counts, with the per-customer checks hoisted out of the loop; in the vector lanes when they
  /// take the group (a segment drawn by shares: only there). False: not taken, the caller advances
  /// the group through customer().
  bool plain_cohort(const InitialGroup& group, std::int64_t count, std::uint64_t& index) {
    const SegmentId segment =
        group.segment >= 0 ? group.segment : (m_.num_segments() == 1 ? 0 : -1);
    if (control_.outcomes != nullptr || control_.events || has_referrals_ ||
        static_cast<std::int64_t>(customers_) + count > m_.max_customers) {
      return false;
    }
    enter_at(0.0);
    if (lane_cohort(group, count, segment, index)) return true;
    if (segment < 0) return false;
    const bool converted = m_.converted[static_cast<std::size_t>(group.stage)] != 0;
    hot_row_ = &hot_[static_cast<std::size_t>(segment * s_count_)];
    // Of the customer's state only these change while it advances here (no services, referrals or
    // outcomes), so the rest is set once.
    cur_ = Customer{0, 0, segment, 0, 0, 0, 0.0, converted};
    // The counters in locals (the counts the loop writes through int64_t pointers may alias
    // uint64_t members, which would then be reloaded after every count).
    const std::uint64_t first = index;
    std::uint64_t customers = customers_;
    for (std::int64_t i = 0; i < count; ++i) {
      if ((++customers & kCancelPollMask) == 0) {
        customers_ = customers;
        poll();
      }
      const std::uint64_t key = first + static_cast<std::uint64_t>(i);
      const std::uint64_t serial = ++serial_;
      cur_.key = key;
      cur_.serial = serial;
      cur_.converted = converted;
      report_from(entry_k_);
      advance(group.stage, 0.0, Stream(family_.path_key(key)), serial);
    }
    customers_ = customers;
    index = first + static_cast<std::uint64_t>(count);
    return true;
  }

  /// plain_cohort() in vector lanes (plain_lanes.hpp) when the group's stages suit them: blocks of customers advance in the lanes, and those that enter a stage the
  /// lanes do not take finish here, in customer order, so conversions keep the scalar order.
  bool lane_cohort(const InitialGroup& group, std::int64_t count, SegmentId segment,
                   std::uint64_t& index) {
    detail::LaneCohort c;
    int lane_tp = -1;
    if (!lane_setup(group.stage, segment, c, lane_tp)) return false;
    c.entry_k = entry_k_;
    for (std::int64_t done = 0; done < count;) {
      const auto n =
          static_cast<std::uint32_t>(std::min<std::int64_t>(detail::kLaneBlock, count - done));
      lane_block(c, index, n, segment, lane_tp);
      index += n;
      done += n;
    }
    return true;
  }

  /// The lanes' view of the stages for customers that start in `start`, of segment `segment` (-1:
  /// drawn by shares from the path stream's first word; the lanes then take only the stages that
  /// are the same in every segment). False: the lanes cannot take these customers.
  bool lane_setup(StageId start, SegmentId segment, detail::LaneCohort& c, int& lane_tp) const {
    if (!control_.vector_lanes || control_.outcomes != nullptr || control_.events ||
        has_referrals_ || s_count_ > detail::kLaneMaxStages || t_count_ > detail::kLaneMaxReports) {
      return false;
    }
    c.s_count = s_count_;
    const int g_first = segment >= 0 ? segment : 0;
    const int g_last = segment >= 0 ? segment + 1 : m_.num_segments();
    for (int s = 0; s < s_count_; ++s) {
      detail::LaneStage& ls = c.stages[static_cast<std::size_t>(s)];
      int tp = lane_tp;
      TouchpointId by_lane = -1;
      ls = lane_stage(hot_[static_cast<std::size_t>(g_first * s_count_ + s)], s, tp, by_lane);
      for (int g = g_first + 1; g < g_last && ls.kind != detail::LaneKind::kOther; ++g) {
        int tp_g = lane_tp;
        TouchpointId by_lane_g = -1;
        const detail::LaneStage other =
            lane_stage(hot_[static_cast<std::size_t>(g * s_count_ + s)], s, tp_g, by_lane_g);
        if (tp_g != tp || by_lane_g != by_lane || other.kind != ls.kind || other.mean != ls.mean ||
            !same_dwell(other.dwell, ls.dwell) || other.next_n != ls.next_n ||
            other.next != ls.next) {
          ls = detail::LaneStage{};  // differs between segments: handed back on entry
        }
      }
      if (ls.kind == detail::LaneKind::kCalendarMove) lane_tp = tp;
      if (ls.kind == detail::LaneKind::kTouched) {
        ls.touched = lane_touched_index(c, by_lane);
        if (ls.touched < 0) ls = detail::LaneStage{};  // more such touchpoints than the lanes keep
      }
    }
    c.start = start;
    const detail::LaneKind start_kind = c.stages[static_cast<std::size_t>(c.start)].kind;
    if (start_kind != detail::LaneKind::kPlain && start_kind != detail::LaneKind::kCalendarMove &&
        start_kind != detail::LaneKind::kTouched) {
      return false;
    }
    c.won = m_.won;
    c.converted = m_.converted[static_cast<std::size_t>(start)] != 0;
    c.path_base = family_.base(Purpose::kPath, 0);
    c.skip_words = segment >= 0 ? 0 : 1;
    if (lane_tp >= 0) {
      const Touchpoint& tp = m_.touchpoints[static_cast<std::size_t>(lane_tp)];
      c.tp_start = tp.schedule.calendar_start;
      c.tp_every = tp.schedule.calendar_every;
      c.tp_reach = tp.reach;
      c.tp_move_p = tp.move_probability;
      c.tp_move_to = tp.move_to;
      c.tp_base = family_.base(Purpose::kTouchpoint, tp.stream_key);
    }
    c.touchpoints = &m_.touchpoints;
    c.horizon = m_.horizon;
    c.report_times = m_.report_times.data();
    c.t_count = t_count_;
    c.inv_report_every = inv_report_every_;
    return true;
  }

  /// How the lanes treat stage s of one segment (its StageHot h); a stage with the lanes'
  /// calendar touchpoint sets `lane_tp` to it (when it was -1 or that touchpoint already), one
  /// with another touchpoint they can run lane by lane (kTouched) sets `by_lane` to its id.
  [[nodiscard]] detail::LaneStage lane_stage(const StageHot& h, StageId s, int& lane_tp,
                                             TouchpointId& by_lane) const {
    detail::LaneStage ls;
    static_assert(StageHot::kInlineNext <= std::tuple_size_v<decltype(ls.next)>);
    if (h.kind == StageKind::kAbsorbing) {
      if (!h.stay_extra) ls.kind = detail::LaneKind::kAbsorbing;
      return ls;
    }
    // a one-off value on a move from s: the move is the scalar engine's (move_extra)
    bool one_off = false;
    for (int to = 0; has_one_off_ && to < s_count_; ++to) {
      one_off = one_off || m_.one_off[static_cast<std::size_t>(s * s_count_ + to)] != 0.0;
    }
    if (h.stay_extra || h.next_n == 0 || one_off) return ls;
    bool touched = false;  // the calendar touchpoint, in the registers
    if (h.kind == StageKind::kTouched && h.tp_last == h.tp_first + 1) {
      const TouchpointId id = m_.touchpoints_for[h.tp_first];
      const Touchpoint& tp = m_.touchpoints[static_cast<std::size_t>(id)];
      if (lane_touchpoint(tp)) {
        touched = lane_tp < 0 || lane_tp == id;
        if (touched) lane_tp = id;
      } else if (!control_.contacts && !tp.has_next_override) {
        by_lane = id;
      }
    }
    if (h.kind != StageKind::kPlain && !touched && by_lane < 0) return ls;
    ls.kind = touched        ? detail::LaneKind::kCalendarMove
              : by_lane >= 0 ? detail::LaneKind::kTouched
                             : detail::LaneKind::kPlain;
    // (a touched stay draws its exit through H^{-1} whatever the family, as touched_visit() does)
    ls.mean = by_lane >= 0 ? 0.0 : h.mean;
    ls.dwell = ls.mean > 0.0 ? nullptr : &h.rule->dwell;
    ls.next_n = h.next_n;
    for (std::size_t i = 0; i < h.next_n; ++i) {
      ls.next[i] = static_cast<std::uint64_t>(h.next_keep_below[i]) << 32U |
                   static_cast<std::uint64_t>(h.next_keep[i]) << 16U |
                   static_cast<std::uint64_t>(h.next_alias[i]);
    }
    return ls;
  }

  /// Touchpoint id's index in c.touched, added if it is not there; -1 when c.touched is full.
  int lane_touched_index(detail::LaneCohort& c, TouchpointId id) const {
    for (int j = 0; j < c.touched_count; ++j) {
      if (c.touched[static_cast<std::size_t>(j)].id == id) return j;
    }
    if (c.touched_count == detail::kLaneTouchpoints) return -1;
    const Touchpoint& tp = m_.touchpoints[static_cast<std::size_t>(id)];
    c.touched[static_cast<std::size_t>(c.touched_count)] = {
        id, family_.base(Purpose::kTouchpoint, tp.stream_key)};
    return c.touched_count++;
  }

  /// Two segments' dwells of a stage draw the same days from the same E (null: exponential, the
  /// stage's mean compared apart).
  static bool same_dwell(const Dwell* a, const Dwell* b) {
    if (a == nullptr || b == nullptr) return a == b;
    return a->family() == b->family() && a->a() == b->a() && a->b() == b->b() &&
           a->values() == b->values() && a->has_tables() == b->has_tables();
  }

  /// Customers first .. first + n - 1 (n <= kLaneBlock) through the lanes; those handed back
  /// finish here in customer order, with the block's conversions in between in customer order, so
  /// sums keep the scalar engine's order. Counts them in customers_ as new_customer() does.
  void lane_block(const detail::LaneCohort& c, std::uint64_t first, std::uint32_t n,
                  SegmentId segment, int lane_tp) {
    detail::advance_lanes(c, first, n, result_.transitions.data(), occupancy_diff_.data(),
                          result_.reached.data(), lane_block_);
    if (lane_tp >= 0) {  // whole numbers: the same sums as one contact at a time
      TouchpointTally& tally = result_.touchpoints[static_cast<std::size_t>(lane_tp)];
      tally.contacts += static_cast<double>(lane_block_.tp_contacts);
      tally.reached += static_cast<double>(lane_block_.tp_reached);
      tally.moves += static_cast<double>(lane_block_.tp_moves);
    }
    for (int j = 0; j < c.touched_count; ++j) {
      const detail::LaneTouchpointCounts& k =
          lane_block_.touched_counts[static_cast<std::size_t>(j)];
      TouchpointTally& tally =
          result_.touchpoints[static_cast<std::size_t>(c.touched[static_cast<std::size_t>(j)].id)];
      tally.contacts += static_cast<double>(k.contacts);
      tally.reached += static_cast<double>(k.reached);
      tally.moves += static_cast<double>(k.moves);
    }
    auto& ejected = lane_block_.ejected;
    std::sort(ejected.begin(), ejected.end(),
              [](const auto& a, const auto& b) { return a.offset < b.offset; });
    auto entry = [&](std::uint32_t o) { return c.entry_t != nullptr ? c.entry_t[o] : 0.0; };
    std::uint32_t o = 0;
    std::size_t p = 0;
    // What customers before `end` did in the lanes that sums in customer order: conversions and paid contacts.
    auto settle_before = [&](std::uint32_t end) {
      for (; o < end; ++o) {
        const double t = lane_block_.conversion[o];
        if (!std::isnan(t)) time_to_convert_.push_back(t - entry(o));
      }
      for (; p < lane_block_.paid.size() && lane_block_.paid[p].offset < end; ++p) {
        const detail::LanePaid& paid = lane_block_.paid[p];
        const auto id =
            static_cast<std::size_t>(c.touched[static_cast<std::size_t>(paid.touched)].id);
        pay(m_.touchpoints[id], result_.touchpoints[id], paid.when);
      }
    };
    for (const detail::LaneEject& e : ejected) {
      settle_before(e.offset + 1);
      resume_from_lanes(c, e, first + e.offset, serial_ + e.offset + 1, segment, entry(e.offset),
                        lane_tp);
    }
    settle_before(n);
    serial_ += n;
    const std::uint64_t before = customers_;
    customers_ += n;
    if ((before | kCancelPollMask) < customers_)
      poll();  // passed a multiple of 1024, as the loop polls
    if (control_.vector_lane_customers != nullptr) *control_.vector_lane_customers += n;
    if (control_.vector_lane_handed_back != nullptr) {
      *control_.vector_lane_handed_back += static_cast<std::int64_t>(ejected.size());
    }
  }

  /// A touchpoint the lanes can run (LaneKind::kCalendarMove): a calendar grid only, free, no
  /// window, its only effect a move; and no contact log to write.
  [[nodiscard]] bool lane_touchpoint(const Touchpoint& tp) const {
    const Schedule& sch = tp.schedule;
    return !control_.contacts && sch.after_entry_days.empty() && !(sch.after_entry_every > 0.0) &&
           sch.calendar_days.empty() && sch.calendar_every > 0.0 && tp.cost == 0.0 &&
           tp.move_to >= 0 && !(tp.window > 0.0);
  }

  /// A customer the lanes handed back as it enters e.stage: the rest of its advance, here.
  /// `segment` -1: drawn by shares (the path stream's first word, as new_customer() draws it).
  [[gnu::noinline]] void resume_from_lanes(const detail::LaneCohort& c, const detail::LaneEject& e,
                                           std::uint64_t key, std::uint64_t serial,
                                           SegmentId segment, double first_seen, int lane_tp) {
    if (segment < 0) {
      Stream path(family_.path_key(key));
      segment = static_cast<SegmentId>(m_.segment_choice.sample(path()));
    }
    hot_row_ = &hot_[static_cast<std::size_t>(segment * s_count_)];
    cur_ = Customer{key, serial, segment, 0, 0, 0, first_seen, e.converted};
    path_rng_ = Stream(e.state);
    if (e.tp_open) {  // the touchpoint stream the lanes opened for this customer, where it stands
      tp_streams_[static_cast<std::size_t>(lane_tp)] = Stream(e.tp_state);
      tp_stream_owner_[static_cast<std::size_t>(lane_tp)] = serial;
    }
    for (int j = 0; j < c.touched_count; ++j) {  // and those of kTouched stages
      if (((lane_block_.touched_open[e.offset] >> j) & 1U) == 0) continue;
      const auto id = static_cast<std::size_t>(c.touched[static_cast<std::size_t>(j)].id);
      tp_streams_[id] = Stream(
          lane_block_.touched_state[static_cast<std::size_t>(e.offset) * detail::kLaneTouchpoints +
                                    static_cast<std::size_t>(j)]);
      tp_stream_owner_[id] = serial;
    }
    for (std::uint64_t m = e.visited; m != 0; m &= m - 1)
      visited_[static_cast<std::size_t>(__builtin_ctzll(m))] = serial;
    report_from(e.k_from);
    advance(static_cast<StageId>(e.stage), e.t);
  }

  /// The report index of a new customer's entry at t (cohorts enter together: one search per time).
  void enter_at(double t) {
    if (t != entry_t_) {
      entry_t_ = t;
      entry_k_ = report_index(t);
    }
  }

  void new_customer(std::uint64_t key, StageId stage, SegmentId segment, double t,
                    std::int16_t cause) {
    if (static_cast<std::int64_t>(customers_) >= m_.max_customers) too_many_customers(t);
    if ((++customers_ & kCancelPollMask) == 0) poll();
    path_rng_ = Stream(family_, key, Purpose::kPath);
    if (segment < 0) {
      segment = m_.num_segments() == 1
                    ? 0
                    : static_cast<SegmentId>(m_.segment_choice.sample(path_rng_()));
    }
    cur_ = Customer{key, ++serial_, segment, 0,
                    0,   0,         t,       m_.converted[static_cast<std::size_t>(stage)] != 0};
    hot_row_ = &hot_[static_cast<std::size_t>(segment * s_count_)];
    CustomerOutcomes* out = control_.outcomes;
    if (out != nullptr) {
      cur_.out_index = out->customer.size();
      out->customer.push_back(key);
      out->segment.push_back(segment);
      out->converted.push_back(0);
      out->first_reach.insert(out->first_reach.end(), m_.touchpoints.size(), std::int16_t{-1});
    }
    log(t, -1, stage, cause);
    enter_at(t);
    report_from(entry_k_);
    advance(stage, t);
  }

  [[noreturn]] void too_many_customers(double t) const {
    throw InputError(
        m_.scenario_file.empty() ? "<scenario>" : m_.scenario_file, 0, "max_customers",
        "replication " + std::to_string(rep_) + " would simulate more than " +
            std::to_string(m_.max_customers) + " customers (day " + std::to_string(t) +
            "): referrals outgrow the funnel; lower referrals' rate_per_day or raise max_customers");
  }

  /// Moves the customer from stage s at time t until an absorbing stage or the horizon.
  /// The path stream and the serial are kept in locals here: in members, every count written
  /// through an int64_t pointer (which may alias their uint64_t words) would reload them.
  [[gnu::always_inline]] inline void advance(StageId s, double t) {
    advance(s, t, path_rng_, cur_.serial);
  }

  /// advance() with the customer's path stream `rng` and serial given (the current customer's).
  [[gnu::always_inline]] inline void advance(StageId s, double t, Stream rng,
                                             const std::uint64_t serial) {
    for (;;) {
      visit(s, serial);
      const StageHot& h = hot(s);
      Visit v;
      if (h.kind == StageKind::kPlain) {  // the most common kind first
        v = plain_visit(h, s, t, rng);
      } else if (h.kind == StageKind::kAbsorbing) {
        stay(h, s, t, m_.horizon, true);
        return;
      } else if (h.kind == StageKind::kTouched) {
        path_rng_ = rng;
        v = touched_visit(h, s, t);
        rng = path_rng_;
      } else {
        request(s, t, m_.served_by[static_cast<std::size_t>(s)]);
        return;  // a coupling point: the global queue takes the customer from here
      }
      if (v.to < 0) return;  // still in s at the horizon
      move(s, v.to, v.time, v.cause);
      s = v.to;
      t = v.time;
    }
  }

  /// Counts the customer in `reached` on its first visit of s (visited_ holds the customer's serial).
  [[gnu::always_inline]] inline void visit(StageId s, std::uint64_t serial) {
    auto& mark = visited_[static_cast<std::size_t>(s)];
    result_.reached[static_cast<std::size_t>(s)] +=
        static_cast<std::int64_t>(mark != serial);  // branch-free
    mark = serial;
  }

  struct Visit {
    StageId to = -1;  // -1: the horizon came first
    double time = 0.0;
    std::int16_t cause = kCauseExit;
  };

  /// A stage visit without touchpoints: one exit draw, one next draw.
  [[gnu::always_inline]] inline Visit plain_visit(const StageHot& h, StageId s, double entry,
                                                  Stream& rng) {
    const StageRule& r = *h.rule;
    const double e = exp1(rng);
    const double exit = entry + (h.mean > 0.0 ? h.mean * e : r.dwell.inverse_cumulative_hazard(e));
    if (exit >= m_.horizon) {
      stay(h, s, entry, m_.horizon, true);
      return {};
    }
    stay(h, s, entry, exit, false);
    return {h.next_stage(rng()), exit, kCauseExit};
  }

  /// A stage visit with touchpoints (touched_stay.hpp): the exit's Exp(1) from the path stream,
  /// then the customer's own events until it leaves or the horizon comes.
  Visit touched_visit(const StageHot& h, StageId s, double entry) {
    const double target = exp1(path_rng_);  // exit when the accumulated hazard reaches this
    slots_.clear();
    for (std::uint32_t i = h.tp_first; i < h.tp_last; ++i) {
      const TouchpointId id = m_.touchpoints_for[i];
      slots_.push_back(detail::open_slot(id, m_.touchpoints[static_cast<std::size_t>(id)], entry));
    }
    TouchedHooks hooks{*this, s};
    const detail::StayEnd end =
        detail::touched_stay(h.rule->dwell, slots_.data(), slots_.size(), m_.touchpoints, entry,
                             target, m_.horizon, window_counter_, hooks);
    if (end.kind == detail::StayEnd::kHorizon) {
      stay(h, s, entry, m_.horizon, true);
      return {};
    }
    stay(h, s, entry, end.when, false);
    if (end.kind == detail::StayEnd::kExit) return {choose_next(h), end.when, kCauseExit};
    const TouchpointId tp = slots_[end.slot].tp;
    return {m_.touchpoints[static_cast<std::size_t>(tp)].move_to, end.when,
            static_cast<std::int16_t>(kCauseTouchpoint + tp)};
  }

  /// What a contact of touched_visit() counts, costs and records.
  struct TouchedHooks {
    Replication& r;
    StageId s;
    void contact(const detail::Slot& sl, const Touchpoint& tp, double when) {
      TouchpointTally& tally = r.result_.touchpoints[static_cast<std::size_t>(sl.tp)];
      tally.contacts += 1.0;
      r.pay(tp, tally, when);
    }
    Stream& stream(TouchpointId id) { return r.tp_stream(id); }
    void reached(const detail::Slot& sl, const Touchpoint&, double when) {
      r.result_.touchpoints[static_cast<std::size_t>(sl.tp)].reached += 1.0;
      if (r.control_.contacts) {
        r.result_.contacts.push_back(
            Contact{static_cast<std::int32_t>(r.rep_), static_cast<std::int64_t>(r.cur_.key), when,
                    static_cast<std::int16_t>(sl.tp), static_cast<std::int16_t>(s)});
      }
      if (r.control_.outcomes != nullptr) {
        auto& first_reach =
            r.control_.outcomes->first_reach[r.cur_.out_index * r.m_.touchpoints.size() +
                                             static_cast<std::size_t>(sl.tp)];
        if (first_reach < 0) first_reach = static_cast<std::int16_t>(s);
      }
    }
    void moved(const detail::Slot& sl, const Touchpoint&) {
      r.result_.touchpoints[static_cast<std::size_t>(sl.tp)].moves += 1.0;
    }
  };

  /// A contact's cost, in the touchpoint's tally and the replication's sums (undiscounted and
  /// discounted at day `when`); contacts are paid in the scalar engine's order (customer by
  /// customer, each in time order), so the sums do not depend on the lanes.
  void pay(const Touchpoint& tp, TouchpointTally& tally, double when) {
    tally.cost += tp.cost;
    cost_ += tp.cost;
    discounted_cost_ += tp.cost * discount(when);
  }

  /// Next stage on a natural exit: the latest running window with a next override, else the rule.
  StageId choose_next(const StageHot& h) {
    const detail::Slot* latest = nullptr;
    for (const detail::Slot& sl : slots_) {
      if (sl.window_end < kNever &&
          m_.touchpoints[static_cast<std::size_t>(sl.tp)].has_next_override &&
          (latest == nullptr || sl.window_order > latest->window_order)) {
        latest = &sl;
      }
    }
    if (latest == nullptr) return h.next_stage(path_rng_());
    const Touchpoint& tp = m_.touchpoints[static_cast<std::size_t>(latest->tp)];
    return tp.next_override_stages[tp.next_override.sample(path_rng_())];
  }

  Stream& tp_stream(TouchpointId id) {
    const auto i = static_cast<std::size_t>(id);
    if (tp_stream_owner_[i] != cur_.serial) {
      tp_streams_[i] =
          Stream(family_, cur_.key, Purpose::kTouchpoint, m_.touchpoints[i].stream_key, cur_.epoch);
      tp_stream_owner_[i] = cur_.serial;
    }
    return tp_streams_[i];
  }

  Stream& referral_stream(std::uint32_t j) {
    if (ref_stream_owner_[j] != cur_.serial) {
      ref_streams_[j] =
          Stream(family_, cur_.key, Purpose::kReferral, m_.referrals[j].stream_key, cur_.epoch);
      ref_stream_owner_[j] = cur_.serial;
    }
    return ref_streams_[j];
  }

  // ---- referrals -----------------------------------------------------------------------------
  /// The customer was in stage s over [from, to): each referral from s is a Poisson process there.
  [[gnu::noinline]] void refer(StageId s, double from, double to) {
    const auto first = m_.referral_offsets[static_cast<std::size_t>(s)];
    const auto last = m_.referral_offsets[static_cast<std::size_t>(s) + 1];
    for (auto i = first; i < last; ++i) {
      const std::uint32_t j = m_.referrals_for[i];
      const Referral& ref = m_.referrals[j];
      if (!(ref.rate_per_day > 0.0) || !(to > from)) continue;
      Stream& rng = referral_stream(j);
      for (double t = from;;) {
        t += exp1_inverse(rng) / ref.rate_per_day;
        if (t >= to) break;
        if (static_cast<std::int64_t>(customers_ + pending_.size()) >= m_.max_customers)
          too_many_customers(t);
        const std::uint64_t n = cur_.referrals_made++;
        const std::uint64_t key =
            kReferralKeyBit | (mix64(cur_.key ^ mix64(n + 0x9e3779b97f4a7c15ULL)) >> 1U);
        pending_.push_back(
            Pending{key, ref.to, ref.segment, t, causes_.referral(static_cast<int>(j))});
        ++referrals_;
      }
    }
  }

  // ---- resources -----------------------------------------------------------------------------
  /// The customer entered stage s, served by resource r, at time t: it draws everything this
  /// request needs, then waits for the hand-off to end (a Join event of the global queue).
  void request(StageId s, double t, int r) {
    const Resource& res = m_.resources[static_cast<std::size_t>(r)];
    Stream rng(family_, cur_.key, Purpose::kResource, res.stream_key, cur_.epoch);
    // Always the same draws in the same order, used or not: variants that add a hand-off or
    // patience leave the other draws of every customer as they were.
    const double e_handoff = exp1_inverse(rng);
    const double e_patience = exp1_inverse(rng);
    const double e_service = exp1_inverse(rng);
    const std::uint64_t outcome_word = rng();
    const double decay_u = rng.uniform();

    const double join =
        t + (res.has_handoff ? res.handoff.inverse_cumulative_hazard(e_handoff) : 0.0);
    if (join >= m_.horizon) {  // still in the hand-off at the horizon
      stay(s, t, m_.horizon, true);
      return;
    }
    const std::uint32_t id = allocate_request();
    Request& q = requests_[id];
    q.who = cur_;
    q.stage = s;
    q.resource = r;
    q.cls = res.segment_class[static_cast<std::size_t>(cur_.segment)];
    q.entry = t;
    q.join = join;
    q.service = res.service.inverse_cumulative_hazard(e_service);
    q.patience = res.has_patience ? res.patience.inverse_cumulative_hazard(e_patience) : kNever;
    q.outcome_word = outcome_word;
    q.decay_u = decay_u;
    q.state = RequestState::kHandoff;
    std::uint64_t* bits = &visit_bits_[static_cast<std::size_t>(id) * visit_words_];
    std::fill(bits, bits + visit_words_, 0);
    for (int v = 0; v < s_count_; ++v) {
      if (visited_[static_cast<std::size_t>(v)] == cur_.serial)
        bits[v / 64] |= std::uint64_t{1} << (v % 64);
    }
    push(join, QueueEventKind::kJoin, id, q.gen);
  }

  std::uint32_t allocate_request() {
    if (!free_requests_.empty()) {
      const std::uint32_t id = free_requests_.back();
      free_requests_.pop_back();
      return id;
    }
    requests_.emplace_back();
    visit_bits_.resize(requests_.size() * visit_words_);
    return static_cast<std::uint32_t>(requests_.size() - 1);
  }

  void free_request(std::uint32_t id) {
    Request& q = requests_[id];
    q.state = RequestState::kFree;
    ++q.gen;
    free_requests_.push_back(id);
  }

  void push(double time, QueueEventKind kind, std::uint32_t id, std::uint32_t gen) {
    events_.push(QueueEvent{time, ++event_seq_, id, gen, kind});
  }

  /// The coupled part of the replication: every queue event in time order, each customer going
  /// back to advancing on its own after its service or when it gives up.
  void serve() {
    queues_.reserve(m_.resources.size());
    for (std::size_t r = 0; r < m_.resources.size(); ++r) {
      const Resource& res = m_.resources[r];
      queues_.emplace_back(res, t_count_, m_.discount_per_day);
      if (res.staffing_times.size() > 1 && res.staffing_times[1] < m_.horizon) {
        push(res.staffing_times[1], QueueEventKind::kStaff, static_cast<std::uint32_t>(r), 1);
      }
    }
    const auto q_count = static_cast<std::size_t>(m_.num_resources());
    result_.queue_length.assign(static_cast<std::size_t>(t_count_) * q_count, 0);
    std::uint64_t handled = 0;
    while (!events_.empty()) {
      const QueueEvent e = events_.top();
      events_.pop();
      if ((++handled & kCancelPollMask) == 0) poll();
      record_queues(e.time);
      switch (e.kind) {
        case QueueEventKind::kJoin:
          join(e.id, e.time);
          break;
        case QueueEventKind::kAbandon:
          abandon(e.id, e.gen, e.time);
          break;
        case QueueEventKind::kServiceEnd:
          service_end(e.id, e.time);
          break;
        case QueueEventKind::kStaff:
          staff(e.id, e.gen, e.time);
          break;
      }
    }
    record_queues(kNever);
    // Customers still waiting or in service at the horizon stay in their served stage.
    for (std::uint32_t id = 0; id < requests_.size(); ++id) {
      if (requests_[id].state == RequestState::kFree) continue;
      const Request q = requests_[id];
      restore(id);
      free_request(id);
      report_from(report_index(q.entry));
      stay(q.stage, q.entry, m_.horizon, true);
      drain();  // referrals made in a served stage
    }
    for (auto& rq : queues_) rq.advance_clock(m_.horizon);
  }

  /// Queue lengths at every report time before `t` (the state after all events at or before it).
  void record_queues(double t) {
    const auto q_count = queues_.size();
    while (next_report_ < t_count_ && m_.report_times[static_cast<std::size_t>(next_report_)] < t) {
      for (std::size_t r = 0; r < q_count; ++r) {
        result_.queue_length[static_cast<std::size_t>(next_report_) * q_count + r] =
            queues_[r].waiting();
      }
      ++next_report_;
    }
  }

  void join(std::uint32_t id, double t) {
    Request& q = requests_[id];
    detail::ResourceQueue& rq = queues_[static_cast<std::size_t>(q.resource)];
    if (rq.server_free()) {
      rq.count_join(false);
      start_service(id, t);
      return;
    }
    rq.count_join(true);
    q.state = RequestState::kWaiting;
    rq.enqueue(t, q.cls, {id, q.gen});
    if (q.patience < kNever && t + q.patience < m_.horizon)
      push(t + q.patience, QueueEventKind::kAbandon, id, q.gen);
  }

  void start_service(std::uint32_t id, double t) {
    Request& q = requests_[id];
    q.state = RequestState::kInService;
    q.start = t;
    queues_[static_cast<std::size_t>(q.resource)].start_service(t, t - q.join, report_index(t));
    const double end = t + q.service;
    if (end < m_.horizon) push(end, QueueEventKind::kServiceEnd, id, q.gen);
  }

  void abandon(std::uint32_t id, std::uint32_t gen, double t) {
    const Request& q = requests_[id];
    if (q.gen != gen || q.state != RequestState::kWaiting)
      return;  // served before its patience ran out
    detail::ResourceQueue& rq = queues_[static_cast<std::size_t>(q.resource)];
    rq.leave_queue(t, t - q.join);
    rq.count_abandon();
    const Resource& res = m_.resources[static_cast<std::size_t>(q.resource)];
    resume(id, t, res.abandon_to, causes_.abandon(q.resource));
  }

  void service_end(std::uint32_t id, double t) {
    const Request& q = requests_[id];
    const int r = q.resource;
    queues_[static_cast<std::size_t>(r)].end_service(t);
    const Resource& res = m_.resources[static_cast<std::size_t>(r)];
    StageId to = 0;
    if (res.has_outcome) {
      to = res.outcome_stages[res.outcome.sample(q.outcome_word)];
    } else {
      const StageRule& rule = m_.rule(q.who.segment, q.stage);
      to = rule.next_stages[rule.next.sample(q.outcome_word)];
    }
    // The chance of the decaying outcome halves every half-life of waiting.
    if (to == res.decay_stage && !(q.decay_u < std::exp(-res.decay_per_day * (q.start - q.join))))
      to = res.decay_to;
    try_start(r, t);
    resume(id, t, to, causes_.service(r));
  }

  void staff(std::uint32_t r, std::uint32_t index, double t) {
    const Resource& res = m_.resources[r];
    queues_[r].set_level(t, res.staffing_levels[index]);
    if (index + 1 < res.staffing_times.size() && res.staffing_times[index + 1] < m_.horizon) {
      push(res.staffing_times[index + 1], QueueEventKind::kStaff, r, index + 1);
    }
    try_start(static_cast<int>(r), t);
  }

  /// Free servers of resource r take waiting customers: highest class first, FIFO within.
  void try_start(int r, double t) {
    detail::ResourceQueue& rq = queues_[static_cast<std::size_t>(r)];
    auto live = [this](detail::QueueEntry e) {
      const Request& q = requests_[e.first];
      return q.gen == e.second && q.state == RequestState::kWaiting;
    };
    detail::QueueEntry e;
    while (rq.server_free() && rq.pop(e, live)) {
      rq.leave_queue(t, t - requests_[e.first].join);
      start_service(e.first, t);
    }
  }

  /// Makes the customer of request `id` the current one again (its state and visit marks).
  void restore(std::uint32_t id) {
    cur_ = requests_[id].who;
    hot_row_ = &hot_[static_cast<std::size_t>(cur_.segment * s_count_)];
    cur_.serial = ++serial_;
    const std::uint64_t* bits = &visit_bits_[static_cast<std::size_t>(id) * visit_words_];
    for (int v = 0; v < s_count_; ++v) {
      if ((bits[v / 64] >> (v % 64)) & 1U) visited_[static_cast<std::size_t>(v)] = cur_.serial;
    }
  }

  /// The customer of request `id` leaves its served stage for `to` at time t and advances on its
  /// own again, with fresh streams (next epoch).
  void resume(std::uint32_t id, double t, StageId to, std::int16_t cause) {
    const Request q = requests_[id];
    restore(id);
    free_request(id);
    report_from(report_index(q.entry));
    stay(q.stage, q.entry, t, false);
    move(q.stage, to, t, cause);
    ++cur_.epoch;
    path_rng_ = Stream(family_, cur_.key, Purpose::kPath, 0, cur_.epoch);
    advance(to, t);
    drain();
  }

  // ---- accounting ----------------------------------------------------------------------------
  /// exp(-discount_per_day * t), remembered for the last time asked: a customer's stays are
  /// contiguous, so each stay's start is the previous one's end and one exp() per stay suffices.
  [[nodiscard]] double discount(double t) {
    if (!(m_.discount_per_day > 0.0)) return 1.0;
    if (t != discount_t_) {
      discount_t_ = t;
      discount_v_ = std::exp(-m_.discount_per_day * t);
    }
    return discount_v_;
  }

  /// First report index k with report_times[k] >= t (T if none).
  [[nodiscard]] int report_index(double t) const {
    return detail::report_index(m_.report_times.data(), t_count_, inv_report_every_, t);
  }

  /// The customer was in stage s over [from, to); `to_horizon` means still there at the horizon.
  /// Stays of a customer are contiguous, so `from`'s report index is the previous stay's end.
  void stay(StageId s, double from, double to, bool to_horizon) {
    stay(hot(s), s, from, to, to_horizon);
  }

  [[gnu::always_inline]] inline void stay(const StageHot& h, StageId s, double from, double to,
                                          bool to_horizon) {
    // The stay counts at its first report row and is taken off at the row after its end (the
    // difference array); most stays end before the next report time, where the two cancel: one
    // comparison and no update (two updates of the same counter by every customer would make
    // each customer wait for the last one's through memory).
    if (to_horizon) {  // the customer's last stay: nothing to take off (the row past the last report is never read)
      occ_from_[s] += 1;
      k_from_ = t_count_;
      occ_from_ = occ_end_;
      next_report_t_ = kNever;
    } else if (to > next_report_t_) {
      occ_from_[s] += 1;
      report_from(report_index_after(k_from_, to));
      occ_from_[s] -= 1;
    }
    if (h.stay_extra) stay_extra(h, s, from, to);
  }

  /// Starts the next stay at report index k (the first report time at or after its start).
  void report_from(int k) {
    k_from_ = k;
    occ_from_ = occupancy_diff_.data() + static_cast<std::ptrdiff_t>(k) * s_count_;
    next_report_t_ = k < t_count_ ? m_.report_times[static_cast<std::size_t>(k)] : kNever;
  }

  /// report_index(t) for t > report_times[k]: usually k + 1, without the search.
  [[nodiscard]] int report_index_after(int k, double t) const {
    const int next = k + 1;
    if (next < t_count_ && t <= m_.report_times[static_cast<std::size_t>(next)]) return next;
    return report_index(t);
  }

  /// Referrals and revenue of a stay (StageHot::stay_extra).
  [[gnu::noinline]] void stay_extra(const StageHot& h, StageId s, double from, double to) {
    if (h.refers) refer(s, from, to);
    if (h.revenue_per_day > 0.0 && to > from) earn(h.revenue_per_day, from, to);
  }

  /// Revenue of a stay over [from, to) at `rate` per day, undiscounted and discounted.
  [[gnu::noinline]] void earn(double rate, double from, double to) {
    revenue_ += rate * (to - from);
    const double d = m_.discount_per_day;
    if (d > 0.0) {
      const double at_from = discount(from);  // the previous stay's end: usually remembered
      discounted_revenue_ += rate * (at_from - discount(to)) / d;
    } else {
      discounted_revenue_ += rate * (to - from);
    }
  }

  void move(StageId from, StageId to, double t, std::int16_t cause) {
    const auto fs = static_cast<std::size_t>(from);
    const auto ts = static_cast<std::size_t>(to);
    const std::size_t ft = fs * static_cast<std::size_t>(s_count_) + ts;
    result_.transitions[ft] += 1;  // drop-off is counted from these in finish()
    // One test for the rare parts: a won target, a one-off value, the event log.
    if (move_extra_[ft] != 0) move_extra(from, to, t, cause);
  }

  [[gnu::noinline]] void move_extra(StageId from, StageId to, double t, std::int16_t cause) {
    const auto fs = static_cast<std::size_t>(from);
    const auto ts = static_cast<std::size_t>(to);
    if (has_one_off_) {
      const double value = m_.one_off[fs * static_cast<std::size_t>(s_count_) + ts];
      if (value != 0.0) {
        revenue_ += value;
        discounted_revenue_ += value * discount(t);
      }
    }
    if (to == m_.won && !cur_.converted) {
      cur_.converted = true;
      time_to_convert_.push_back(t - cur_.first_seen);
      if (control_.outcomes != nullptr) control_.outcomes->converted[cur_.out_index] = 1;
    }
    log(t, from, to, cause);
  }

  void log(double t, StageId from, StageId to, std::int16_t cause) {
    if (!control_.events) return;
    result_.events.push_back(
        Event{static_cast<std::int32_t>(rep_), static_cast<std::int64_t>(cur_.key), t,
              static_cast<std::int16_t>(from), static_cast<std::int16_t>(to), cause});
  }

  void poll() {
    flush_progress();
    if (control_.cancel != nullptr && control_.cancel->load(std::memory_order_relaxed))
      throw Cancelled();
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
    const int q_count = m_.num_resources();
    result_.num_resources = q_count;
    result_.queue_wait.assign(static_cast<std::size_t>(t_count_ * q_count), kNaN);
    if (result_.queue_length.empty())
      result_.queue_length.assign(static_cast<std::size_t>(t_count_ * q_count), 0);
    std::vector<double> resource_metrics;
    for (int r = 0; r < q_count; ++r) {
      detail::ResourceQueue& rq = queues_[static_cast<std::size_t>(r)];
      cost_ += rq.staff_cost();
      discounted_cost_ += rq.discounted_staff_cost();
      const auto values = rq.metrics(m_.horizon);
      resource_metrics.insert(resource_metrics.end(), values.begin(), values.end());
      for (int k = 0; k < t_count_; ++k)
        result_.queue_wait[static_cast<std::size_t>(k * q_count + r)] = rq.period_wait(k);
    }
    if (control_.outcomes != nullptr) sort_outcomes(*control_.outcomes);

    const auto customers = static_cast<double>(customers_);
    const auto conversions = static_cast<double>(time_to_convert_.size());
    auto& mt = result_.metrics;
    mt.assign(static_cast<std::size_t>(kNumFixedMetrics + s_count_), 0.0);
    mt.insert(mt.end(), resource_metrics.begin(), resource_metrics.end());
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
    mt[kReferrals] = static_cast<double>(referrals_);
    // Drop-off of a stage: its moves to absorbing stages other than the won one.
    for (int s = 0; s < s_count_; ++s) {
      std::int64_t lost = 0;
      for (int to = 0; to < s_count_; ++to) {
        if (m_.absorbing[static_cast<std::size_t>(to)] != 0U && to != m_.won) {
          lost += result_.transitions[static_cast<std::size_t>(s * s_count_ + to)];
        }
      }
      mt[static_cast<std::size_t>(kNumFixedMetrics + s)] = static_cast<double>(lost);
    }
    return std::move(result_);
  }

  /// Referred customers are keyed by a hash: restore the increasing-key order comparisons rely on.
  static void sort_outcomes(CustomerOutcomes& out) {
    if (std::is_sorted(out.customer.begin(), out.customer.end())) return;
    const std::size_t n = out.customer.size();
    const auto k = static_cast<std::size_t>(out.touchpoints);
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return out.customer[a] < out.customer[b]; });
    CustomerOutcomes sorted{out.touchpoints, {}, {}, {}, {}};
    sorted.customer.reserve(n);
    sorted.segment.reserve(n);
    sorted.converted.reserve(n);
    sorted.first_reach.reserve(n * k);
    for (std::size_t i : order) {
      sorted.customer.push_back(out.customer[i]);
      sorted.segment.push_back(out.segment[i]);
      sorted.converted.push_back(out.converted[i]);
      sorted.first_reach.insert(sorted.first_reach.end(),
                                out.first_reach.begin() + static_cast<std::ptrdiff_t>(i * k),
                                out.first_reach.begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
    }
    out = std::move(sorted);
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
  std::uint64_t rep_;
  StreamFamily family_;
  const SimulationControl& control_;
  int s_count_;
  int t_count_;
  double inv_report_every_;
  bool has_one_off_;
  bool has_resources_;
  bool has_referrals_;
  CauseIds causes_;
  std::size_t visit_words_;  // 64-bit words of a saved visit set
  ReplicationResult result_;

  std::vector<std::int64_t> occupancy_diff_;  // [(T + 1) * S]
  std::vector<StageHot> hot_;                 // [G * S]
  const StageHot* hot_row_ = nullptr;         // the current customer's segment's row of hot_
  std::vector<std::uint8_t> move_extra_;      // [S * S] 1: the move (from, to) takes move_extra()
  double discount_t_ = 0.0;                   // discount(): the last time asked and its value
  double discount_v_ = 1.0;
  std::vector<double>& time_to_convert_;  // Scratch's, as are lane_block_ and arrival_*_
  std::vector<detail::Slot> slots_;
  std::vector<Stream> tp_streams_;
  std::vector<std::uint64_t> tp_stream_owner_;
  std::vector<std::uint64_t> visited_;  // [S] serial of the last customer who visited the stage
  std::vector<Stream> ref_streams_;
  std::vector<std::uint64_t> ref_stream_owner_;
  std::vector<Pending> pending_;  // referred customers not yet advanced (a stack)
  std::uint64_t referrals_ = 0;
  std::uint64_t serial_ = 0;

  // resources: requests (customers in served stages), the global queue, one state per resource
  std::vector<Request> requests_;
  std::vector<std::uint64_t> visit_bits_;  // [requests * visit_words_] the saved visit sets
  std::vector<std::uint32_t> free_requests_;
  std::priority_queue<QueueEvent, std::vector<QueueEvent>, std::greater<>> events_;
  std::uint64_t event_seq_ = 0;
  std::vector<detail::ResourceQueue> queues_;
  int next_report_ = 0;
  double revenue_ = 0.0;
  double cost_ = 0.0;
  double discounted_revenue_ = 0.0;
  double discounted_cost_ = 0.0;
  std::uint64_t customers_ = 0;
  std::uint64_t reported_ = 0;
  std::uint64_t window_counter_ = 0;

  // the customer being advanced
  Customer cur_;
  int k_from_ = 0;  // report index of the start of the current stay (set by report_from())
  std::int64_t* occ_from_ = nullptr;  // its row of occupancy_diff_
  std::int64_t* occ_end_ = nullptr;   // the row past the last report (stays to the horizon)
  double next_report_t_ = kNever;     // report_times[k_from_], or never
  double entry_t_ = kNaN;             // the last new customer's entry time and its report index
  int entry_k_ = 0;
  Stream path_rng_;                       // segment, then E and next choice of each visit
  detail::LaneBlock& lane_block_;         // lane_block()'s results
  std::vector<double>& arrival_t_;        // arrivals waiting for the lanes: entry days,
  std::vector<std::int64_t>& arrival_k_;  // and their report indices
};

struct PartData {
  std::vector<std::int64_t> occupancy_diff;
  std::vector<std::int64_t> transitions;
  std::vector<std::int64_t> reached;
  std::vector<TouchpointTally> touchpoints;
  std::vector<Event> events;
  std::vector<Contact> contacts;
  std::vector<double> time_to_convert;
  double revenue = 0.0;
  double cost = 0.0;
  double discounted_revenue = 0.0;
  double discounted_cost = 0.0;
  std::uint64_t customers = 0;
  std::vector<Request> requests;  // customers waiting for a resource's queue, in their order
  std::vector<std::uint64_t> visit_bits;  // their visit sets
};

PartData Replication::take_part() {
  PartData d;
  d.occupancy_diff = std::move(occupancy_diff_);
  d.transitions = std::move(result_.transitions);
  d.reached = std::move(result_.reached);
  d.touchpoints = std::move(result_.touchpoints);
  d.events = std::move(result_.events);
  d.contacts = std::move(result_.contacts);
  d.time_to_convert = time_to_convert_;  // (the thread's scratch keeps its memory)
  d.revenue = revenue_;
  d.cost = cost_;
  d.discounted_revenue = discounted_revenue_;
  d.discounted_cost = discounted_cost_;
  d.customers = customers_;
  d.requests = std::move(requests_);
  d.visit_bits = std::move(visit_bits_);
  return d;
}

void Replication::absorb(PartData&& d) {
  for (std::size_t i = 0; i < occupancy_diff_.size(); ++i)
    occupancy_diff_[i] += d.occupancy_diff[i];
  for (std::size_t i = 0; i < result_.transitions.size(); ++i)
    result_.transitions[i] += d.transitions[i];
  for (std::size_t i = 0; i < result_.reached.size(); ++i) result_.reached[i] += d.reached[i];
  for (std::size_t i = 0; i < result_.touchpoints.size(); ++i) {
    TouchpointTally& t = result_.touchpoints[i];
    const TouchpointTally& p = d.touchpoints[i];
    t.contacts += p.contacts;  // whole numbers: exact
    t.reached += p.reached;
    t.moves += p.moves;
    t.cost += p.cost;
  }
  result_.events.insert(result_.events.end(), d.events.begin(), d.events.end());
  result_.contacts.insert(result_.contacts.end(), d.contacts.begin(), d.contacts.end());
  time_to_convert_.insert(time_to_convert_.end(), d.time_to_convert.begin(),
                          d.time_to_convert.end());
  revenue_ += d.revenue;
  cost_ += d.cost;
  discounted_revenue_ += d.discounted_revenue;
  discounted_cost_ += d.discounted_cost;
  customers_ += d.customers;
  reported_ += d.customers;  // (each part reported its own customers)
  // The part allocated its requests in order and freed none (that happens in serve() only), so
  // their order is the order one replication would have pushed their joins in.
  for (std::size_t i = 0; i < d.requests.size(); ++i) {
    const std::uint32_t id = allocate_request();
    requests_[id] = d.requests[i];
    std::copy_n(d.visit_bits.begin() + static_cast<std::ptrdiff_t>(i * visit_words_), visit_words_,
                visit_bits_.begin() + static_cast<std::ptrdiff_t>(id * visit_words_));
    push(requests_[id].join, QueueEventKind::kJoin, id, requests_[id].gen);
  }
}

/// One replication at a time per thread (a replication calls out to no user code), so one
/// scratch per thread.
Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

namespace detail {

struct PlanState {
  int replication = 0;
  std::uint64_t seed = 0;
  bool whole = true;  // one part: Replication::run(), as simulate() always did
  std::vector<PartSpec> parts;
};

struct PartState {
  int replication = 0;
  int part = 0;
  std::optional<ReplicationResult> whole;  // of a one-part plan
  PartData data;
};

}  // namespace detail

ReplicationPlan::ReplicationPlan() = default;
ReplicationPlan::~ReplicationPlan() = default;
ReplicationPlan::ReplicationPlan(const ReplicationPlan&) = default;
ReplicationPlan& ReplicationPlan::operator=(const ReplicationPlan&) = default;
ReplicationPlan::ReplicationPlan(ReplicationPlan&&) noexcept = default;
ReplicationPlan& ReplicationPlan::operator=(ReplicationPlan&&) noexcept = default;
int ReplicationPlan::replication() const noexcept { return state_ ? state_->replication : 0; }
int ReplicationPlan::parts() const noexcept {
  return state_ ? static_cast<int>(state_->parts.size()) : 0;
}

ReplicationPart::ReplicationPart() = default;
ReplicationPart::~ReplicationPart() = default;
ReplicationPart::ReplicationPart(ReplicationPart&&) noexcept = default;
ReplicationPart& ReplicationPart::operator=(ReplicationPart&&) noexcept = default;

bool Engine::vector_lanes_available() noexcept { return detail::lanes_width() > 1; }

const char* Engine::vector_lanes_target() noexcept { return detail::lanes_target(); }

int Engine::vector_lane_width() noexcept { return static_cast<int>(detail::lanes_width()); }

std::int64_t Engine::vector_lane_targets() noexcept { return detail::lanes_compiled_targets(); }

ReplicationPlan Engine::plan(int replication, const SimulationControl& control) const {
  auto state = std::make_shared<detail::PlanState>();
  state->replication = replication;
  state->seed = control.has_seed ? control.seed_override : model_.seed;
  const std::int64_t per = control.part_customers > 0 ? control.part_customers : kPartCustomers;
  std::int64_t initial = 0;
  double expected = 0.0;  // arrivals expected at most (the peak rate all the time)
  for (const InitialGroup& g : model_.initial) initial += g.count;
  for (const ArrivalProcess& p : model_.arrivals)
    expected += std::max(0.0, p.max_rate) * model_.horizon;
  // Streams are drawn here only where the parts could be many (a plan costs them a second pass).
  if (control.outcomes == nullptr && model_.referrals.empty() &&
      static_cast<double>(initial) + expected > 0.5 * static_cast<double>(per)) {
    std::vector<PartSpec> parts;
    std::int64_t total = 0;
    std::uint64_t index = 0;
    for (std::size_t g = 0; g < model_.initial.size(); ++g) {
      const std::int64_t count = model_.initial[g].count;
      for (std::int64_t first = 0; first < count; first += per) {
        parts.push_back(PartSpec{static_cast<int>(g), -1, index + static_cast<std::uint64_t>(first),
                                 std::min(per, count - first), std::nullopt});
      }
      index += static_cast<std::uint64_t>(count);
      total += count;
    }
    const StreamFamily family(state->seed, static_cast<std::uint64_t>(replication));
    for (std::size_t a = 0; a < model_.arrivals.size(); ++a) {
      ArrivalStream stream(model_.arrivals[a], family, a, model_.horizon);
      std::uint64_t k = 0;
      for (;;) {
        const ArrivalStream start = stream;
        std::int64_t n = 0;
        double t = 0.0;
        while (n < per && stream.next(t)) ++n;
        if (n > 0) parts.push_back(PartSpec{-1, static_cast<int>(a), k, n, start});
        k += static_cast<std::uint64_t>(n);
        total += n;
        if (n < per) break;
      }
    }
    if (parts.size() > 1 && total <= model_.max_customers) {
      state->whole = false;
      state->parts = std::move(parts);
    }
  }
  if (state->whole) state->parts.resize(1);
  ReplicationPlan plan;
  plan.state_ = std::move(state);
  return plan;
}

ReplicationPart Engine::simulate_part(const ReplicationPlan& plan, int part,
                                      const SimulationControl& control) const {
  const detail::PlanState& ps = *plan.state_;
  if (part < 0 || part >= static_cast<int>(ps.parts.size()))
    throw InternalError("simulate_part: no such part");
  Replication rep(model_, ps.seed, ps.replication, control, thread_scratch());
  ReplicationPart out;
  out.state_ = std::make_unique<detail::PartState>();
  out.state_->replication = ps.replication;
  out.state_->part = part;
  if (ps.whole) {
    out.state_->whole = rep.run();
  } else {
    rep.run_part(ps.parts[static_cast<std::size_t>(part)]);
    out.state_->data = rep.take_part();
  }
  return out;
}

ReplicationResult Engine::join(const ReplicationPlan& plan, std::vector<ReplicationPart> parts,
                               const SimulationControl& control) const {
  const detail::PlanState& ps = *plan.state_;
  if (parts.size() != ps.parts.size()) throw InternalError("join: not every part of the plan");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const detail::PartState* p = parts[i].state_.get();
    if (p == nullptr || p->replication != ps.replication || p->part != static_cast<int>(i)) {
      throw InternalError("join: the parts are not those of the plan, in order");
    }
  }
  if (ps.whole) return std::move(*parts.front().state_->whole);
  Replication rep(model_, ps.seed, ps.replication, control, thread_scratch());
  for (ReplicationPart& p : parts) {
    rep.absorb(std::move(p.state_->data));
    p.state_.reset();
  }
  return rep.run_joined();
}

ReplicationResult Engine::simulate(int replication, const SimulationControl& control) const {
  const ReplicationPlan p = plan(replication, control);
  if (p.state_->whole) {
    Replication rep(model_, p.state_->seed, replication, control, thread_scratch());
    return rep.run();
  }
  std::vector<ReplicationPart> parts;
  parts.reserve(static_cast<std::size_t>(p.parts()));
  for (int i = 0; i < p.parts(); ++i) parts.push_back(simulate_part(p, i, control));
  return join(p, std::move(parts), control);
}

}  // namespace lcsim
