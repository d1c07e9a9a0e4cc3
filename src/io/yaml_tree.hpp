/// @file yaml_tree.hpp
/// Internal to src/io: a value-semantic copy of a YAML document, changed by dotted path
/// (scenario_changes.cpp) and merged across files (scenario_extends.cpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lcsim::yaml_tree {

// yaml-cpp nodes are shared references (aliases are the same node, and assigning one Node variable
// to another rebinds the tree under it), so changes are made on this value-semantic copy instead.
struct Tree {
  enum class Kind { kNull, kScalar, kMap, kSeq };
  Kind kind = Kind::kNull;
  std::string scalar;
  std::string tag;           ///< scalar tag as yaml-cpp reports it: "?" plain, "!" quoted, ...
  bool flow = false;         ///< written in flow style ({...} or [...])
  std::vector<Tree> keys;    ///< kMap: keys, parallel to `values`
  std::vector<Tree> values;  ///< kMap: values; kSeq: items
  int source = 0;            ///< which file it was read from (an index the caller chooses)
  int line = 0;              ///< 1-based line in that file, 0 when unknown

  [[nodiscard]] bool is_text_key(std::string_view name) const {
    return kind == Kind::kScalar && scalar == name;
  }
  /// Index of the entry with key `name` in a mapping, or npos.
  [[nodiscard]] std::size_t find(std::string_view name) const {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].is_text_key(name)) return i;
    }
    return npos;
  }
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

/// Copies a yaml-cpp node (aliases expanded, node count bounded against alias bombs); every node
/// is marked with `source` and its line. @throws InputError (file, field) when too large or deep
[[nodiscard]] Tree copy(const YAML::Node& node, int source, const std::string& file,
                        const std::string& field);

/// Parses one YAML document into a Tree; an empty text is a null.
/// @param value how problems are reported: about a value (`file`, line 0, `field`, "value '...'") or
///   else in the text itself (`file`, line of the error)
[[nodiscard]] Tree load(const std::string& text, const std::string& file, const std::string& field,
                        bool value, int source = 0);

/// The tree as block-style YAML text (flow style kept where it was written), ending in a newline.
[[nodiscard]] std::string emit(const Tree& tree);

/// Applies one change at a dotted path (see apply_changes in lcsim/io/scenario_changes.hpp); a
/// null `value` removes. A key the change adds is marked like `key_origin`.
/// @throws InputError (file, line 0, field = path) for unknown or malformed paths
void apply_change(Tree& root, const std::string& path, const Tree& value, const std::string& file,
                  const Tree& key_origin);

/// One dotted path of a tree and the node it names: a mapping entry's key, or a list's item.
struct PathNode {
  std::string path;
  const Tree* node = nullptr;
};

/// Every dotted path (list items as `[i]`) in document order; `prefix` is the path of `tree`.
[[nodiscard]] std::vector<PathNode> paths(const Tree& tree, const std::string& prefix = "");

}  // namespace lcsim::yaml_tree
