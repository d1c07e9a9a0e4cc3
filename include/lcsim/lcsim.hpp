/// @file lcsim.hpp
/// Umbrella header: the public API of lcsim.
#pragma once

#include "lcsim/analysis/markov.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/core/types.hpp"
#include "lcsim/core/version.hpp"
#include "lcsim/engine/engine.hpp"
#include "lcsim/engine/replication_result.hpp"
#include "lcsim/io/scenario_changes.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/io/study.hpp"
#include "lcsim/model/alias_table.hpp"
#include "lcsim/model/compile.hpp"
#include "lcsim/model/dwell.hpp"
#include "lcsim/model/model.hpp"
#include "lcsim/model/scenario.hpp"
#include "lcsim/rng/stream.hpp"
#include "lcsim/run/compare.hpp"
#include "lcsim/run/run.hpp"
#include "lcsim/run/run_arrays.hpp"
#include "lcsim/run/sweep.hpp"
