#include "lcsim/model/alias_table.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "lcsim/rng/stream.hpp"
#include "support/stats.hpp"

namespace lcsim {
namespace {

TEST(AliasTableTest, frequencies_match_weights_by_chi_square) {
  const std::vector<double> w = {0.30, 0.10, 0.45, 0.15};
  const AliasTable table(w);
  std::vector<double> counts(w.size(), 0.0);
  Stream rng(7, 0, 0, Purpose::kPath);
  const int n = 200000;
  for (int i = 0; i < n; ++i) counts[table.sample(rng())] += 1.0;
  std::vector<double> expected;
  for (double p : w) expected.push_back(p * n);
  EXPECT_GT(test::chi_square_pvalue(counts, expected), 1e-4);
}

TEST(AliasTableTest, never_returns_zero_weight_entries) {
  const AliasTable table({0.0, 1.0, 0.0});
  Stream rng(1, 0, 0, Purpose::kPath);
  for (int i = 0; i < 10000; ++i) EXPECT_EQ(table.sample(rng()), 1U);
  // extreme words
  EXPECT_EQ(table.sample(0), 1U);
  EXPECT_EQ(table.sample(~std::uint64_t{0}), 1U);
}

TEST(AliasTableTest, unnormalised_weights_are_accepted) {
  const AliasTable table({2.0, 2.0});
  EXPECT_EQ(table.size(), 2U);
  EXPECT_EQ(table.sample(0), 0U);
  EXPECT_EQ(table.sample(~std::uint64_t{0}), 1U);
}

TEST(AliasTableTest, rejects_bad_weights) {
  EXPECT_THROW(AliasTable(std::vector<double>{}), std::invalid_argument);
  EXPECT_THROW(AliasTable({-0.1, 1.1}), std::invalid_argument);
  EXPECT_THROW(AliasTable({0.0, 0.0}), std::invalid_argument);
  EXPECT_THROW(AliasTable({std::nan(""), 1.0}), std::invalid_argument);
}

}  // namespace
}  // namespace lcsim
