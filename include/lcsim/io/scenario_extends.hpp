/// @file scenario_extends.hpp
/// Variants as "a base plus a change": a scenario file that says `extends: baseline.yaml` and gives
/// only what differs. See docs/scenario.md, "Variants".
#pragma once

#include <string>

#include "lcsim/model/scenario.hpp"

namespace lcsim {

/// A variant with its bases applied.
struct ResolvedScenario {
  std::string text;  ///< the whole scenario as YAML, without `extends:` or `changes:`
  Sources sources;   ///< the files read and where each field was written
};

/// Resolves `extends:` in a scenario's YAML text. The base path is relative to the directory of
/// `file` (to the working directory for "<string>"); the base may itself extend another file.
/// The variant's own top-level keys are merged into its base first (mappings key by key, lists and
/// scalars replaced, a null removes the key), then its `changes:` (dotted path -> value, as
/// apply_changes) are applied in order.
///
/// @throws InputError naming the file and line of: a YAML syntax error in any file of the chain, an
///   `extends` that is not a file path or names a file that cannot be read, a cycle (naming each
///   file of it), a `changes` that is not a mapping or names an unknown path, and `changes:` in a
///   file without `extends:`. A text without `extends:` is returned as is, with empty sources.
[[nodiscard]] ResolvedScenario resolve_extends(const std::string& text, const std::string& file);

}  // namespace lcsim
