#include <gtest/gtest.h>

#include <cmath>

#include "lcsim/model/model.hpp"

namespace lcsim {
namespace {

TEST(ScheduleTest, after_entry_lists_and_repeats) {
  Schedule s;
  s.after_entry_days = {1.0, 3.0};
  s.after_entry_every = 7.0;
  s.after_entry_start = 7.0;
  EXPECT_EQ(s.next_after_entry(0.0, false), 1.0);
  EXPECT_EQ(s.next_after_entry(1.0, false), 1.0);
  EXPECT_EQ(s.next_after_entry(1.0, true), 3.0);
  EXPECT_EQ(s.next_after_entry(3.0, true), 7.0);
  EXPECT_EQ(s.next_after_entry(7.0, true), 14.0);
  EXPECT_EQ(s.next_after_entry(15.0, false), 21.0);
  EXPECT_TRUE(std::isinf(s.next_calendar(0.0, false)));
}

TEST(ScheduleTest, calendar_grid_from_start) {
  Schedule s;
  s.calendar_every = 7.0;
  s.calendar_start = 7.0;
  s.calendar_days = {2.5};
  EXPECT_EQ(s.next_calendar(0.0, false), 2.5);
  EXPECT_EQ(s.next_calendar(2.5, true), 7.0);
  EXPECT_EQ(s.next_calendar(7.0, false), 7.0);
  EXPECT_EQ(s.next_calendar(7.0, true), 14.0);
  EXPECT_EQ(s.next_calendar(700.01, false), 707.0);
}

TEST(ScheduleTest, strict_query_always_moves_forward) {
  Schedule s;
  s.calendar_every = 0.1;  // not exactly representable: rounding must not stall
  double t = 0.0;
  for (int i = 0; i < 10000; ++i) {
    const double next = s.next_calendar(t, true);
    ASSERT_GT(next, t);
    t = next;
  }
  EXPECT_NEAR(t, 1000.0, 1e-6);
}

TEST(ScheduleTest, empty_schedule_never_contacts) {
  const Schedule s;
  EXPECT_TRUE(std::isinf(s.next_after_entry(0.0, false)));
  EXPECT_TRUE(std::isinf(s.next_calendar(0.0, false)));
}

}  // namespace
}  // namespace lcsim
