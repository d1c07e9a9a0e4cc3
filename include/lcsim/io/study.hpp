/// @file study.hpp
/// A study: one HDF5 file of runs. Layout: docs/format.md.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lcsim/run/compare.hpp"
#include "lcsim/run/optimisation.hpp"
#include "lcsim/run/run.hpp"
#include "lcsim/run/sweep.hpp"

namespace lcsim {

/// Format version written into every study (attribute format_version = [major, minor]).
inline constexpr int kStudyFormatMajor = 1;
inline constexpr int kStudyFormatMinor =
    4;  // 1.1: /comparisons and /sweeps; 1.2: resources and queues;
        // 1.3: parameter draws of runs with uncertainty;
        // 1.4: /optimisations

/// Static functions over a study file; each call opens and closes the file, so no handle outlives it.
class Study {
 public:
  /// Adds `run` as /runs/<name>. Atomic: the study is written to a temporary file beside it and
  /// renamed over it, under an exclusive lock, so a killed writer leaves the previous study intact and
  /// concurrent writers do not lose each other's runs. Creates the file if needed.
  /// @throws InputError if a run of that name exists or the name is not a valid run name
  /// @throws IoError on filesystem or HDF5 failure
  /// @throws InternalError if the Run is inconsistent (array sizes); nothing is written then
  static void append(const std::string& path, const Run& run, const std::string& name);

  /// Names of the complete runs, sorted. @throws IoError (missing file, not an lcsim study,
  /// unsupported major format version)
  [[nodiscard]] static std::vector<std::string> list_runs(const std::string& path);

  /// Reads a run back, equal to what was appended (info.name is the name it is stored under).
  /// @throws InputError for an unknown name, IoError
  [[nodiscard]] static Run read_run(const std::string& path, const std::string& name);

  /// Adds a comparison in one atomic append: the base run as /runs/<name>.base, variant k as
  /// /runs/<name>.v<k+1>, and /comparisons/<name> with the deltas, who-changed tables, verdicts and
  /// options (layout: docs/format.md).
  /// @throws InputError if a comparison or one of its run names exists, or the name is invalid
  static void append_comparison(const std::string& path, const Comparison& comparison,
                                const std::string& name);
  [[nodiscard]] static std::vector<std::string> list_comparisons(const std::string& path);
  /// Reads a comparison back (runs included), equal to what was appended except run info.name,
  /// which is the stored run name. @throws InputError for an unknown name
  [[nodiscard]] static Comparison read_comparison(const std::string& path, const std::string& name);

  /// Adds a sweep in one atomic append: point i's run as /runs/<name>.p<i>, and /sweeps/<name> with
  /// the design, the parameter paths and a table of the points' values.
  static void append_sweep(const std::string& path, const Sweep& sweep, const std::string& name);
  [[nodiscard]] static std::vector<std::string> list_sweeps(const std::string& path);
  /// Checks, without writing, that append_sweep(path, a sweep of `points` points, name) would find
  /// its names valid and free, so a caller can fail before simulating (append_sweep checks again
  /// under its lock). A missing study passes.
  /// @throws InputError with the same messages as append_sweep; IoError for a file that is no study
  static void check_sweep_names(const std::string& path, const std::string& name,
                                std::size_t points);
  [[nodiscard]] static Sweep read_sweep(const std::string& path, const std::string& name);

  /// Adds an optimisation in one atomic append: /optimisations/<name> with its settings, the table
  /// of every trial, the chosen plan and the verdict, and its selection step as the comparison
  /// /comparisons/<name> (with its runs /runs/<name>.base, /runs/<name>.v<k>).
  /// @throws InputError if the optimisation, the comparison or one of its runs exists, the name is
  /// invalid, or the levers and columns are not distinct non-empty names
  static void append_optimisation(const std::string& path, const Optimisation& optimisation,
                                  const std::string& name);
  [[nodiscard]] static std::vector<std::string> list_optimisations(const std::string& path);
  [[nodiscard]] static Optimisation read_optimisation(const std::string& path,
                                                      const std::string& name);

  /// Version of the HDF5 library lcsim is linked with, "major.minor.release" (to check that a
  /// process has only one HDF5: h5py must be built against the same library).
  [[nodiscard]] static std::string hdf5_version();
};

}  // namespace lcsim
