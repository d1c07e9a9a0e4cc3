/// @file resource_queue.hpp
/// The state of one resource (a team of servers) during a replication: who waits in which class,
/// how many servers are busy and staffed, and the time integrals behind utilisation, mean queue
/// length and staffing cost. Private to the engine; it holds no customer state, only request ids.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <utility>
#include <vector>

#include "lcsim/engine/replication_result.hpp"
#include "lcsim/model/model.hpp"

namespace lcsim::detail {

/// A waiting request: (request id, generation). Stale entries (the customer gave up, or the id was
/// reused) are skipped when popped, so giving up costs O(1).
using QueueEntry = std::pair<std::uint32_t, std::uint32_t>;

class ResourceQueue {
 public:
  ResourceQueue(const Resource& resource, int reports, double discount_per_day)
      : r_(resource),
        discount_per_day_(discount_per_day),
        classes_(static_cast<std::size_t>(resource.num_classes)),
        period_wait_sum_(static_cast<std::size_t>(reports), 0.0),
        period_wait_n_(static_cast<std::size_t>(reports), 0),
        level_(resource.staffing_levels.front()) {}

  /// Integrates the step functions (waiting, busy, staffed) up to time t; call before any change.
  void advance_clock(double t) {
    const double dt = t - last_;
    if (dt <= 0.0) return;
    queue_area_ += static_cast<double>(waiting_) * dt;
    busy_area_ += static_cast<double>(busy_) * dt;
    staffed_area_ += static_cast<double>(level_) * dt;
    const double d = discount_per_day_;
    discounted_staffed_area_ += static_cast<double>(level_) *
                                (d > 0.0 ? (std::exp(-d * last_) - std::exp(-d * t)) / d : dt);
    last_ = t;
  }

  [[nodiscard]] bool server_free() const noexcept { return busy_ < level_; }
  [[nodiscard]] std::int64_t waiting() const noexcept { return waiting_; }

  void set_level(double t, int level) {
    advance_clock(t);
    level_ = level;
  }

  /// A customer who found every server busy joins class `cls` at time t.
  void enqueue(double t, int cls, QueueEntry entry) {
    advance_clock(t);
    classes_[static_cast<std::size_t>(cls)].push_back(entry);
    ++waiting_;
  }

  /// The next entry to serve, highest class first, FIFO within a class; `live` tells whether an
  /// entry is still waiting. Returns false when nobody waits.
  template <class Live>
  bool pop(QueueEntry& out, Live&& live) {
    for (auto& q : classes_) {
      while (!q.empty()) {
        const QueueEntry e = q.front();
        q.pop_front();
        if (live(e)) {
          out = e;
          return true;
        }
      }
    }
    return false;
  }

  /// One waiting customer left the queue at t (served or gave up) after `queued` days in it.
  void leave_queue(double t, double queued) {
    advance_clock(t);
    --waiting_;
    queue_time_sum_ += queued;
    ++queue_time_n_;
  }

  void start_service(double t, double wait, int period) {
    advance_clock(t);
    ++busy_;
    ++served_;
    waits_.push_back(wait);
    period_wait_sum_[static_cast<std::size_t>(period)] += wait;
    ++period_wait_n_[static_cast<std::size_t>(period)];
  }

  void end_service(double t) {
    advance_clock(t);
    --busy_;
  }

  /// A customer joined; one who found a free server is served at once (zero time in queue).
  void count_join(bool found_busy) {
    ++joined_;
    if (found_busy) {
      ++found_busy_;
    } else {
      ++queue_time_n_;
    }
  }
  void count_abandon() { ++abandoned_; }

  /// Staffing cost over [0, horizon], undiscounted and discounted; call after the final clock.
  [[nodiscard]] double staff_cost() const { return r_.cost_per_server_day * staffed_area_; }
  [[nodiscard]] double discounted_staff_cost() const {
    return r_.cost_per_server_day * discounted_staffed_area_;
  }

  /// The ResourceMetric values (after advance_clock(horizon)); reorders the waits.
  [[nodiscard]] std::vector<double> metrics(double horizon) {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> m(static_cast<std::size_t>(kNumResourceMetrics), kNaN);
    m[kJoined] = static_cast<double>(joined_);
    m[kServed] = static_cast<double>(served_);
    m[kAbandoned] = static_cast<double>(abandoned_);
    if (joined_ > 0) m[kWaited] = static_cast<double>(found_busy_) / static_cast<double>(joined_);
    if (!waits_.empty()) {
      double sum = 0.0;
      for (double w : waits_) sum += w;
      m[kWaitMean] = sum / static_cast<double>(waits_.size());
      m[kWaitP95] = quantile(waits_, 0.95);
    }
    if (queue_time_n_ > 0) m[kQueueTimeMean] = queue_time_sum_ / static_cast<double>(queue_time_n_);
    if (horizon > 0.0) m[kQueueMean] = queue_area_ / horizon;
    if (staffed_area_ > 0.0) m[kUtilisation] = busy_area_ / staffed_area_;
    m[kStaffCost] = staff_cost();
    return m;
  }

  /// Mean wait of the services started in each report period (NaN where none started).
  [[nodiscard]] double period_wait(int k) const {
    const auto i = static_cast<std::size_t>(k);
    return period_wait_n_[i] > 0 ? period_wait_sum_[i] / static_cast<double>(period_wait_n_[i])
                                 : std::numeric_limits<double>::quiet_NaN();
  }

 private:
  /// Linear interpolation between order statistics (numpy's default, type 7).
  static double quantile(std::vector<double>& x, double q) {
    const double pos = q * static_cast<double>(x.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    std::nth_element(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(lo), x.end());
    const double a = x[lo];
    if (lo + 1 >= x.size()) return a;
    const double b = *std::min_element(x.begin() + static_cast<std::ptrdiff_t>(lo + 1), x.end());
    return a + (pos - static_cast<double>(lo)) * (b - a);
  }

  const Resource& r_;
  double discount_per_day_;
  std::vector<std::deque<QueueEntry>> classes_;
  std::vector<double> waits_;
  std::vector<double> period_wait_sum_;
  std::vector<std::int64_t> period_wait_n_;
  int level_ = 0;
  int busy_ = 0;
  std::int64_t waiting_ = 0;
  double last_ = 0.0;
  double queue_area_ = 0.0;
  double busy_area_ = 0.0;
  double staffed_area_ = 0.0;
  double discounted_staffed_area_ = 0.0;
  std::int64_t joined_ = 0;
  std::int64_t found_busy_ = 0;
  std::int64_t served_ = 0;
  std::int64_t abandoned_ = 0;
  double queue_time_sum_ = 0.0;
  std::int64_t queue_time_n_ = 0;
};

}  // namespace lcsim::detail
