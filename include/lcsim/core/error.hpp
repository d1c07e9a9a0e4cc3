/// @file error.hpp
/// The exception hierarchy of lcsim. Every boundary (CLI, Python) translates these exactly once.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace lcsim {

/// Base of every error lcsim throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One problem found in user input: where it is and what was expected.
struct Problem {
  std::string file;      ///< input file name ("<string>" for text without a file)
  int line = 0;          ///< 1-based line, 0 when unknown
  std::string field;     ///< dotted path of the field, e.g. "stages.lead.next.mql"
  std::string message;   ///< what was expected and what was found
  bool warning = false;  ///< warnings do not make input invalid

  /// "file:line: field: message" (or "warning: ..." prefixed for warnings).
  [[nodiscard]] std::string to_string() const;
};

/// Bad user input (scenario, CSV, option). Carries every problem found, errors first.
class InputError : public Error {
 public:
  /// @param problems at least one problem with warning == false
  explicit InputError(std::vector<Problem> problems);
  /// Convenience for a single problem.
  InputError(std::string file, int line, std::string field, std::string message);

  [[nodiscard]] const std::vector<Problem>& problems() const noexcept { return problems_; }
  [[nodiscard]] const std::string& file() const noexcept { return problems_.front().file; }
  [[nodiscard]] int line() const noexcept { return problems_.front().line; }
  [[nodiscard]] const std::string& field() const noexcept { return problems_.front().field; }

 private:
  std::vector<Problem> problems_;
};

/// Filesystem or HDF5 failure; the message names the path.
class IoError : public Error {
 public:
  using Error::Error;
};

/// The user asked to stop (Ctrl-C); no partial result was kept.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

/// A broken invariant inside lcsim: a bug, please report it.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Builds the uniform message body "expected <what>, got <value>".
[[nodiscard]] std::string expected_got(const std::string& what, const std::string& got);

}  // namespace lcsim
