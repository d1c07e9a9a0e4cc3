/// @file scenario_changes.hpp
/// Changing a scenario's YAML text by dotted path (what-if variants, sweeps). See docs/scenario.md,
/// "Changing a scenario by path".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lcsim/core/error.hpp"

namespace lcsim {

/// One change: a dotted path and the new value as YAML text ("0.3", "[1, 3]",
/// "{mql: 0.5, lost: 0.5}", "~" or "null" to remove the field).
using Change = std::pair<std::string, std::string>;

/// Applies `changes` in order to the YAML text of a scenario and returns the re-emitted text (keys
/// keep their order and flow/block style; comments and anchors are not kept).
///
/// Paths are dotted: mapping keys by name, list items by 0-based index, written either `.0` or
/// `[0]` (`touchpoints.webinar.reach`, `arrivals.streams.0.rate_per_day`,
/// `arrivals.initial[0].count`). A change replaces the value at the path, adds a new key under an
/// existing mapping (a misspelt leaf key is then caught by the schema check, with its own
/// did-you-mean), or, with a null value, removes the key or list item (removing an absent key of an
/// existing mapping does nothing). The result is not validated: parse_scenario and compile do that.
///
/// @param file names the scenario in messages
/// @throws InputError (field = the path) when the parent of the path does not exist, an index is out
///   of range, the path descends into a scalar, the path is malformed, or the value is not valid
///   YAML; unknown paths list up to 5 close existing paths ("unknown path 'touchpoint.webinar.reach';
///   did you mean 'touchpoints.webinar.reach'?"). Also when the text itself is not one YAML document.
[[nodiscard]] std::string apply_changes(const std::string& yaml_text,
                                        const std::vector<Change>& changes,
                                        const std::string& file = "<string>");

/// Every dotted path of a YAML document (list items as `[i]`), in document order.
/// @throws InputError when the text is not valid YAML
[[nodiscard]] std::vector<std::string> scenario_paths(const std::string& yaml_text,
                                                      const std::string& file = "<string>");

/// A path with its values, as given to `lcsim sweep --set PATH=V1,V2,...`.
struct ChangeValues {
  std::string path;
  std::vector<std::string> values;  ///< YAML texts, in the order given
};

/// Splits "PATH=V1,V2,..." at the first '='; the values at commas outside [], {} and quotes (so
/// "stages.lead.next={mql: 0.6, lost: 0.4}" is one value and "x=[1,3],[2,4]" two). Values are
/// trimmed. @throws InputError (file "--set") without '=', with an empty path or an empty value
[[nodiscard]] ChangeValues parse_changes(const std::string& text);

/// The values part of parse_changes: "V1,V2,..." split at top-level commas, trimmed.
[[nodiscard]] std::vector<std::string> split_values(const std::string& text);

/// The JSON text of a YAML value, as a sweep stores its points' values: plain scalars that lcsim
/// reads as numbers become JSON numbers (.inf / .nan as Infinity / NaN, as Python's json writes
/// them), true/false become booleans, null/~ becomes null, other scalars JSON strings; mappings and
/// lists are converted recursively. @throws InputError (field = `what`) if it is not valid YAML
[[nodiscard]] std::string yaml_value_to_json(const std::string& yaml_value,
                                             const std::string& what = "");

}  // namespace lcsim
