/// @file touched_stay.hpp
/// One customer's stay in a stage with touchpoints: a small event loop over the customer's own
/// events (the exit, each touchpoint's contacts, the ends of effect windows), the hazard clock
/// re-aimed whenever the factor changes. Shared by the scalar engine (touched_visit) and the
/// vector lanes (which run such stays lane by lane), so both make the same draws and the same
/// arithmetic; what a contact costs or records is the caller's (the Hooks). Internal to the engine.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "lcsim/model/dwell.hpp"
#include "lcsim/model/model.hpp"
#include "lcsim/rng/stream.hpp"

namespace lcsim::detail {

/// A touchpoint that can contact the customer in its current stage: the next contact on each
/// schedule and the customer's window, if one is running.
struct Slot {
  TouchpointId tp = 0;
  double next_offset =
      std::numeric_limits<double>::infinity();  // after-entry schedule, days since stage entry
  double next_calendar = std::numeric_limits<double>::infinity();
  double window_end = std::numeric_limits<double>::infinity();
  std::uint64_t window_order = 0;  // larger = started later
};

/// Touchpoint `id`'s slot for a stay that starts at `entry`: its first contacts at or after it.
inline Slot open_slot(TouchpointId id, const Touchpoint& tp, double entry) {
  return Slot{id, tp.schedule.next_after_entry(0.0, false),
              tp.schedule.next_calendar(entry, false)};
}

/// How a touched stay ended.
struct StayEnd {
  enum Kind : std::uint8_t {
    kHorizon,  ///< still in the stage at the horizon
    kExit,     ///< left at `when` on the dwell's exit (the next stage is the caller's to choose)
    kMove,     ///< moved at `when` by slot `slot`'s contact (to its touchpoint's move_to)
  } kind = kHorizon;
  double when = 0.0;
  std::size_t slot = 0;
};

/// The stay from `entry` under `dwell` with the touchpoints of slots[0, n) (open_slot()), exit
/// when the accumulated hazard reaches `target` (an Exp(1) draw). `window_counter` numbers the
/// windows as they start (Slot::window_order). Hooks, called in the order of the contacts:
///   void contact(const Slot&, const Touchpoint&, double when)   a contact is made (before its draws)
///   Stream& stream(TouchpointId)                                 the customer's stream of the touchpoint
///   void reached(const Slot&, const Touchpoint&, double when)    the contact reached the customer
///   void moved(const Slot&, const Touchpoint&)                   and moved it (the stay ends)
/// On return the slots hold the windows still running (for the next stage's choice).
template <class Hooks>
[[gnu::always_inline]] inline StayEnd touched_stay(const Dwell& dwell, Slot* slots, std::size_t n,
                                                   const std::vector<Touchpoint>& touchpoints,
                                                   double entry, double target, double horizon,
                                                   std::uint64_t& window_counter, Hooks& hooks) {
  constexpr double kNever = std::numeric_limits<double>::infinity();
  double consumed = 0.0;  // factor-weighted hazard up to d_mark
  double d_mark = 0.0;    // dwell time of the last factor change
  double h_mark = 0.0;    // H(d_mark)
  double factor = 1.0;
  double exit = entry + dwell.inverse_cumulative_hazard(target);

  // Re-aims the exit time after a factor change at time `now`.
  auto reaim = [&](double now) {
    const double d_now = now - entry;
    const double h_now = dwell.cumulative_hazard(d_now);
    consumed += factor * (h_now - h_mark);
    h_mark = h_now;
    d_mark = d_now;
    factor = 1.0;
    for (std::size_t j = 0; j < n; ++j) {
      if (slots[j].window_end < kNever)
        factor *= touchpoints[static_cast<std::size_t>(slots[j].tp)].hazard_factor;
    }
    const double remaining = std::max(0.0, target - consumed);
    exit = entry + std::max(d_mark, dwell.inverse_cumulative_hazard(h_mark + remaining / factor));
  };

  for (;;) {
    enum { kToExit, kContact, kWindowEnd } kind = kToExit;
    double when = exit;
    std::size_t which = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const Slot& sl = slots[j];
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
    if (when >= horizon) return {StayEnd::kHorizon, when, 0};
    if (kind == kToExit) return {StayEnd::kExit, when, 0};
    Slot& sl = slots[which];
    const Touchpoint& tp = touchpoints[static_cast<std::size_t>(sl.tp)];
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
    hooks.contact(sl, tp, when);
    Stream& rng = hooks.stream(sl.tp);
    if (!(rng.uniform() < tp.reach)) continue;
    hooks.reached(sl, tp, when);
    if (tp.move_to >= 0 && rng.uniform() < tp.move_probability) {
      hooks.moved(sl, tp);
      return {StayEnd::kMove, when, which};
    }
    if (tp.window > 0.0) {
      sl.window_end = when + tp.window;
      sl.window_order = ++window_counter;
      reaim(when);
    }
  }
}

}  // namespace lcsim::detail
