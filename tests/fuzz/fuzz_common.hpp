// Shared by the libFuzzer harnesses of tests/fuzz/ (see docs/hardening.md).
//
// A harness feeds one input to one front door of lcsim. Bad input must end in lcsim::InputError
// (or IoError for a stream that cannot be read): anything else escaping -- another exception, a
// crash, a sanitizer report, a hang, a huge allocation -- is a finding. `accept` checks what the
// front door promises about an InputError: at least one problem, every problem an error or a
// warning with a non-empty message naming the file it was given.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "lcsim/core/error.hpp"

namespace lcsim_fuzz {

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "lcsim fuzz finding: %s: %s\n", what, detail.c_str());
  std::abort();
}

/// The text of an input and its option bits: the last byte XOR '\n' (so a file ending in a newline
/// reads with no bits set), and the text before that byte.
struct Split {
  std::string text;
  unsigned flags = 0;
};
inline Split split_options(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return {};
  Split out;
  out.text.assign(reinterpret_cast<const char*>(data), size - 1);
  out.flags = static_cast<unsigned>(data[size - 1] ^ '\n');
  return out;
}

/// Checks the problems of an InputError from a front door given `file` as the input's name.
inline void accept(const lcsim::InputError& e, const std::string& file) {
  if (e.problems().empty()) fail("InputError without problems", e.what());
  bool any_error = false;
  for (const auto& p : e.problems()) {
    if (p.message.empty()) fail("problem without a message", p.to_string());
    if (p.file.empty()) fail("problem without a file", p.to_string());
    any_error = any_error || !p.warning;
  }
  (void)file;
  if (!any_error) fail("InputError with warnings only", e.what());
}

/// Runs `body`; an InputError is accepted (and checked), anything else is a finding.
template <typename Body>
void guarded(const std::string& file, Body&& body) {
  try {
    body();
  } catch (const lcsim::InputError& e) {
    accept(e, file);
  } catch (const lcsim::IoError& e) {
    // a stream that cannot be read: fine, it names the input
    if (std::string(e.what()).empty()) fail("IoError without a message", "");
  } catch (const lcsim::InternalError& e) {
    fail("InternalError (a bug)", e.what());
  } catch (const std::exception& e) {
    fail("untyped exception", e.what());
  }
}

}  // namespace lcsim_fuzz
