// Private to the CLI: option checks whose messages are short and human ("--replications: expected a
// whole number of at least 1, got 0"), instead of CLI11's ranges over the whole double range.
#pragma once

#include <CLI/CLI.hpp>

namespace lcsim::cli::checks {

/// A whole number >= 1 (replications, threads, trials ...).
CLI::Validator positive_int();
/// A whole number >= `min`.
CLI::Validator int_at_least(long long min);
/// A whole number in [min, max].
CLI::Validator int_between(long long min, long long max);
/// A number > 0.
CLI::Validator positive();
/// A number >= 0.
CLI::Validator non_negative();
/// A number in [min, max].
CLI::Validator between(double min, double max);

}  // namespace lcsim::cli::checks
