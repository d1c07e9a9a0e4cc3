// Random streams (include/lcsim/rng/stream.hpp): keyed, counter-based, reproducible; words are
// uniform and streams of neighbouring customers, purposes and epochs are independent.
#include "lcsim/rng/stream.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/random/exponential_distribution.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "support/stats.hpp"

namespace lcsim {
namespace {

constexpr double kAlpha = 1e-4;  // fixed seeds: a p-value below this means a broken generator

TEST(StreamTest, same_key_same_words_and_the_family_form_agrees) {
  Stream a(7, 3, 12345, Purpose::kTouchpoint, 99, 2);
  Stream b(StreamFamily(7, 3), 12345, Purpose::kTouchpoint, 99, 2);
  Stream c(StreamFamily(7, 3).key(12345, Purpose::kTouchpoint, 99, 2));
  for (int i = 0; i < 100; ++i) {
    const auto w = a();
    EXPECT_EQ(w, b());
    EXPECT_EQ(w, c());
  }
}

TEST(StreamTest, every_part_of_the_key_selects_another_stream) {
  const std::uint64_t base = Stream(1, 0, 5, Purpose::kPath)();
  EXPECT_NE(base, Stream(2, 0, 5, Purpose::kPath)());
  EXPECT_NE(base, Stream(1, 1, 5, Purpose::kPath)());
  EXPECT_NE(base, Stream(1, 0, 6, Purpose::kPath)());
  EXPECT_NE(base, Stream(1, 0, 5, Purpose::kArrival)());
  EXPECT_NE(base, Stream(1, 0, 5, Purpose::kPath, 1)());
  EXPECT_NE(base, Stream(1, 0, 5, Purpose::kPath, 0, 1)());
  // seed and replication are not interchangeable
  EXPECT_NE(Stream(1, 2, 5, Purpose::kPath)(), Stream(2, 1, 5, Purpose::kPath)());
}

/// Chi-square of the top 8 bits of words against uniform over 256 cells.
double byte_uniformity_pvalue(const std::vector<std::uint64_t>& words, unsigned shift) {
  std::vector<double> observed(256, 0.0);
  for (auto w : words) observed[(w >> shift) & 0xffU] += 1.0;
  const std::vector<double> expected(256, static_cast<double>(words.size()) / 256.0);
  return test::chi_square_pvalue(observed, expected);
}

TEST(StreamTest, words_are_uniform_within_a_stream_and_across_customers) {
  std::vector<std::uint64_t> within;
  Stream s(11, 0, 0, Purpose::kPath);
  for (int i = 0; i < 200000; ++i) within.push_back(s());
  std::vector<std::uint64_t> first;  // the first word of 200,000 consecutive customers
  for (std::uint64_t c = 0; c < 200000; ++c) first.push_back(Stream(11, 0, c, Purpose::kPath)());
  for (unsigned shift : {0U, 24U, 56U}) {
    EXPECT_GT(byte_uniformity_pvalue(within, shift), kAlpha) << "within, bits " << shift;
    EXPECT_GT(byte_uniformity_pvalue(first, shift), kAlpha) << "across, bits " << shift;
  }
}

/// Chi-square of a 16 x 16 table of pairs (top 4 bits of x, top 4 bits of y) against independence.
double pair_independence_pvalue(const std::vector<std::array<std::uint64_t, 2>>& pairs) {
  std::vector<double> observed(256, 0.0);
  for (const auto& p : pairs) observed[((p[0] >> 60U) << 4U) | (p[1] >> 60U)] += 1.0;
  const std::vector<double> expected(256, static_cast<double>(pairs.size()) / 256.0);
  return test::chi_square_pvalue(observed, expected);
}

TEST(StreamTest, neighbouring_customers_purposes_and_epochs_are_independent) {
  constexpr std::uint64_t kN = 100000;
  std::vector<std::array<std::uint64_t, 2>> customers;
  std::vector<std::array<std::uint64_t, 2>> purposes;
  std::vector<std::array<std::uint64_t, 2>> epochs;
  std::vector<std::array<std::uint64_t, 2>> successive;
  for (std::uint64_t c = 0; c < kN; ++c) {
    Stream a(3, 0, c, Purpose::kPath);
    const std::uint64_t w = a();
    customers.push_back({w, Stream(3, 0, c + 1, Purpose::kPath)()});
    purposes.push_back({w, Stream(3, 0, c, Purpose::kTouchpoint)()});
    epochs.push_back({w, Stream(3, 0, c, Purpose::kPath, 0, 1)()});
    successive.push_back({w, a()});
  }
  EXPECT_GT(pair_independence_pvalue(customers), kAlpha);
  EXPECT_GT(pair_independence_pvalue(purposes), kAlpha);
  EXPECT_GT(pair_independence_pvalue(epochs), kAlpha);
  EXPECT_GT(pair_independence_pvalue(successive), kAlpha);
}

TEST(StreamTest, uniform_is_in_the_unit_interval_with_the_right_mean_and_exponentials_match) {
  Stream s(5, 1, 2, Purpose::kPath);
  double sum = 0.0;
  constexpr int kN = 100000;
  std::vector<double> e;
  boost::random::exponential_distribution<double> exp1(1.0);
  for (int i = 0; i < kN; ++i) {
    const double u = s.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    e.push_back(exp1(s));
  }
  EXPECT_NEAR(sum / kN, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / kN));
  EXPECT_GT(test::ks_pvalue(e, [](double x) { return x <= 0.0 ? 0.0 : -std::expm1(-x); }), kAlpha);
}

}  // namespace
}  // namespace lcsim
