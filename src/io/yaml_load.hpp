/// @file yaml_load.hpp
/// Internal to src/io: the one way lcsim reads YAML text into yaml-cpp nodes.
///
/// YAML::LoadAll of yaml-cpp 0.7 (Debian 12) never returns for a text with a stray ',' where a
/// block node is expected (",", "- a\n,", "---\n, b": the scanner's FLOW_ENTRY token is never
/// consumed, so it yields empty documents for ever, growing memory), and it expands nothing, so an
/// alias bomb stays small in yaml-cpp but explodes in any code that walks the tree. load_all first
/// reads the text's parse events (no nodes): it refuses a document that makes no progress, more
/// than kMaxDocuments documents, and a document whose tree, aliases expanded, has more than
/// kMaxExpandedNodes nodes; then it calls YAML::LoadAll. See docs/hardening.md.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <vector>

namespace lcsim::yaml_load {

/// Most nodes of one document with every alias expanded (a scenario has a few thousand).
inline constexpr std::size_t kMaxExpandedNodes = 1'000'000;
/// Most documents in one text (a scenario is one).
inline constexpr std::size_t kMaxDocuments = 1000;

/// Every document of `text`, as YAML::LoadAll gives them.
/// @throws YAML::ParserException (with the mark of the problem) for a syntax error, a stray ','
///         at the start of a block node, too many documents, or an alias bomb. yaml-cpp's own
///         nesting limit (YAML::DeepRecursion, "bad file") is rethrown as "nested too deeply".
[[nodiscard]] std::vector<YAML::Node> load_all(const std::string& text);

}  // namespace lcsim::yaml_load
