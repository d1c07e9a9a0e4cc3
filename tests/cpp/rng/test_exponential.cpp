// lcsim::exp1 (rng/exponential.hpp) against Boost's exponential_distribution on the same streams:
// the same values bit for bit and the same words used, accepted first tries and rejected ones (the
// wedge and the tail) alike, at rate 1 and divided by other rates.
#include "lcsim/rng/exponential.hpp"

#include <gtest/gtest.h>

#include <boost/random/exponential_distribution.hpp>
#include <cstring>

#include "lcsim/rng/stream.hpp"

namespace lcsim {
namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(ExponentialTest, exp1_draws_boosts_values_with_the_same_words) {
  boost::random::exponential_distribution<double> boost_exp1(1.0);
  boost::random::exponential_distribution<double> boost_rate(0.37);
  const StreamFamily family(11, 3);
  std::int64_t rejected_first_tries = 0;
  double largest = 0.0;
  for (std::uint64_t customer = 0; customer < 20000; ++customer) {
    Stream a(family.path_key(customer));
    Stream b = a;
    Stream c = a;
    for (int i = 0; i < 20; ++i) {
      const std::uint64_t w = Stream(a).operator()();
      const double* x = boost::random::detail::exponential_table<double>::table_x;
      const double first =
          static_cast<double>((w & ~(std::uint64_t{1} << 11U)) >> 8U) * 0x1.0p-56 * x[w & 0xffU];
      rejected_first_tries += first < x[(w & 0xffU) + 1] ? 0 : 1;
      const double ours = exp1(a);
      const double theirs = boost_exp1(b);
      ASSERT_TRUE(same_bits(ours, theirs))
          << customer << " " << i << ": " << ours << " vs " << theirs;
      ASSERT_EQ(a.state(), b.state()) << "the same words used";
      largest = std::max(largest, ours);
      // At another rate: exp1 / rate is Boost's exponential_distribution(rate).
      Stream d = c;
      ASSERT_TRUE(same_bits(exp1(c) / 0.37, boost_rate(d)));
      ASSERT_EQ(c.state(), d.state());
    }
  }
  EXPECT_GT(rejected_first_tries, 3000) << "rejections (wedges and tails) were exercised";
  EXPECT_GT(largest, 7.7) << "the tail (x > table_x[1] = 7.69...) was drawn";
}

}  // namespace
}  // namespace lcsim
