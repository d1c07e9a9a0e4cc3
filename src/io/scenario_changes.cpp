#include "lcsim/io/scenario_changes.hpp"

#include "yaml_load.hpp"
#include "yaml_tree.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace lcsim {
namespace yaml_tree {
namespace {

constexpr int kMaxDepth = 500;
/// yaml_load refuses documents above this before they are built; the copy checks it again.
constexpr std::size_t kMaxNodes = yaml_load::kMaxExpandedNodes;

/// Copies a yaml-cpp tree (aliases expanded). `budget` bounds the node count (alias bombs).
Tree copy_tree(const YAML::Node& node, int source, int depth, std::size_t& budget,
               const std::string& file, const std::string& field) {
  if (depth > kMaxDepth || budget == 0) {
    throw InputError(file, 0, field, "the YAML is nested too deeply or is too large");
  }
  --budget;
  Tree tree;
  tree.source = source;
  if (const YAML::Mark mark = node.Mark(); !mark.is_null()) tree.line = mark.line + 1;
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      tree.kind = Tree::Kind::kScalar;
      tree.scalar = node.Scalar();
      tree.tag = node.Tag();
      break;
    case YAML::NodeType::Sequence:
      tree.kind = Tree::Kind::kSeq;
      tree.flow = node.Style() == YAML::EmitterStyle::Flow;
      for (const auto& item : node)
        tree.values.push_back(copy_tree(item, source, depth + 1, budget, file, field));
      break;
    case YAML::NodeType::Map:
      tree.kind = Tree::Kind::kMap;
      tree.flow = node.Style() == YAML::EmitterStyle::Flow;
      for (auto it = node.begin(); it != node.end(); ++it) {
        tree.keys.push_back(copy_tree(it->first, source, depth + 1, budget, file, field));
        tree.values.push_back(copy_tree(it->second, source, depth + 1, budget, file, field));
      }
      break;
    default:  // Null, Undefined
      break;
  }
  return tree;
}

}  // namespace

Tree copy(const YAML::Node& node, int source, const std::string& file, const std::string& field) {
  std::size_t budget = kMaxNodes;
  return copy_tree(node, source, 0, budget, file, field);
}

Tree load(const std::string& text, const std::string& file, const std::string& field, bool value,
          int source) {
  std::vector<YAML::Node> documents;
  const std::string prefix =
      value ? "value '" + text + "' is not valid YAML: " : "YAML syntax error: ";
  try {
    documents = yaml_load::load_all(text);
  } catch (const YAML::Exception& e) {
    const int line = value || e.mark.is_null() ? 0 : e.mark.line + 1;
    throw InputError(file, line, field, prefix + e.msg);
  }
  if (documents.size() > 1) {
    throw InputError(file, 0, field,
                     (value ? "value '" + text + "' is not one YAML value: " : std::string()) +
                         expected_got("one YAML document", std::to_string(documents.size())));
  }
  if (documents.empty()) return Tree{};
  return copy(documents.front(), source, file, field);
}

namespace {

void emit(YAML::Emitter& out, const Tree& tree) {
  switch (tree.kind) {
    case Tree::Kind::kNull:
      out << YAML::Null;
      break;
    case Tree::Kind::kScalar:
      if (tree.tag == "?" || tree.tag.empty()) {
        out << tree.scalar;  // plain (yaml-cpp quotes it only if it cannot be plain)
      } else if (tree.tag == "!" || tree.tag == "tag:yaml.org,2002:str") {
        out << YAML::DoubleQuoted << tree.scalar;  // quoted: stays a string
      } else {
        out << YAML::VerbatimTag(tree.tag) << tree.scalar;
      }
      break;
    case Tree::Kind::kSeq:
      out << (tree.flow ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
      for (const auto& item : tree.values) emit(out, item);
      out << YAML::EndSeq;
      break;
    case Tree::Kind::kMap:
      out << (tree.flow ? YAML::Flow : YAML::Block) << YAML::BeginMap;
      for (std::size_t i = 0; i < tree.keys.size(); ++i) {
        out << YAML::Key;
        emit(out, tree.keys[i]);
        out << YAML::Value;
        emit(out, tree.values[i]);
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

std::string emit(const Tree& tree) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, tree);
  if (!out.good()) throw InternalError("apply_changes: cannot write YAML: " + out.GetLastError());
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

namespace {

// ---- paths -------------------------------------------------------------------------------------

struct Token {
  std::string key;
  bool bracket = false;  ///< written [i]: addresses a list item only
};

[[nodiscard]] bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<Token> split_path(const std::string& path, const std::string& file) {
  const auto bad = [&](const std::string& why) {
    return InputError(file, 0, path, "malformed path '" + path + "': " + why);
  };
  if (path.empty()) throw InputError(file, 0, "", "empty path");
  std::vector<Token> tokens;
  std::size_t i = 0;
  bool expect_key = true;  // at the start or after '.'
  while (i < path.size()) {
    const char c = path[i];
    if (c == '[') {
      if (expect_key && !tokens.empty()) throw bad("'[' right after '.'");
      const std::size_t close = path.find(']', i);
      if (close == std::string::npos) throw bad("'[' without ']'");
      const std::string index = path.substr(i + 1, close - i - 1);
      if (!all_digits(index)) throw bad("expected a list index in [], got '" + index + "'");
      tokens.push_back(Token{index, true});
      i = close + 1;
      expect_key = false;
    } else if (c == '.') {
      if (expect_key) throw bad("empty key");
      expect_key = true;
      ++i;
    } else if (c == ']') {
      throw bad("']' without '['");
    } else {
      if (!expect_key) throw bad("expected '.' or '[' after ']'");
      std::size_t end = i;
      while (end < path.size() && path[end] != '.' && path[end] != '[' && path[end] != ']') ++end;
      tokens.push_back(Token{path.substr(i, end - i), false});
      i = end;
      expect_key = false;
    }
  }
  if (expect_key) throw bad("empty key");
  return tokens;
}

std::string append_key(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string append_index(const std::string& prefix, std::size_t index) {
  return prefix + "[" + std::to_string(index) + "]";
}

void collect_paths(const Tree& tree, const std::string& prefix, std::vector<PathNode>& out) {
  if (tree.kind == Tree::Kind::kMap) {
    for (std::size_t i = 0; i < tree.keys.size(); ++i) {
      if (tree.keys[i].kind != Tree::Kind::kScalar) continue;
      const std::string path = append_key(prefix, tree.keys[i].scalar);
      out.push_back(PathNode{path, &tree.keys[i]});
      collect_paths(tree.values[i], path, out);
    }
  } else if (tree.kind == Tree::Kind::kSeq) {
    for (std::size_t i = 0; i < tree.values.size(); ++i) {
      const std::string path = append_index(prefix, i);
      out.push_back(PathNode{path, &tree.values[i]});
      collect_paths(tree.values[i], path, out);
    }
  }
}

// ---- close matches (difflib.SequenceMatcher.ratio, without junk) -------------------------------

std::size_t matching_characters(std::string_view a, std::string_view b) {
  std::size_t total = 0;
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  std::vector<std::array<std::size_t, 4>> queue{{0, a.size(), 0, b.size()}};
  while (!queue.empty()) {
    const auto [alo, ahi, blo, bhi] = queue.back();
    queue.pop_back();
    // Longest common block of a[alo, ahi) and b[blo, bhi), earliest in a, then in b.
    std::size_t best_i = alo;
    std::size_t best_j = blo;
    std::size_t best = 0;
    std::fill(previous.begin(), previous.end(), 0);
    for (std::size_t i = alo; i < ahi; ++i) {
      for (std::size_t j = blo; j < bhi; ++j) {
        current[j + 1] = a[i] == b[j] ? previous[j] + 1 : 0;
        if (current[j + 1] > best) {
          best = current[j + 1];
          best_i = i + 1 - best;
          best_j = j + 1 - best;
        }
      }
      std::swap(previous, current);
      std::fill(current.begin(), current.end(), 0);
    }
    if (best == 0) continue;
    total += best;
    if (alo < best_i && blo < best_j) queue.push_back({alo, best_i, blo, best_j});
    if (best_i + best < ahi && best_j + best < bhi)
      queue.push_back({best_i + best, ahi, best_j + best, bhi});
  }
  return total;
}

double similarity(std::string_view a, std::string_view b) {
  if (a.empty() && b.empty()) return 1.0;
  return 2.0 * static_cast<double>(matching_characters(a, b)) /
         static_cast<double>(a.size() + b.size());
}

/// Up to 5 candidates with similarity >= 0.6, best first (ties in document order).
std::vector<std::string> close_matches(const std::string& word,
                                       const std::vector<std::string>& candidates) {
  std::vector<std::pair<double, std::size_t>> scored;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const double score = similarity(word, candidates[i]);
    if (score >= 0.6) scored.emplace_back(score, i);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  std::vector<std::string> out;
  for (std::size_t k = 0; k < scored.size() && k < 5; ++k)
    out.push_back(candidates[scored[k].second]);
  return out;
}

std::string did_you_mean(const std::vector<std::string>& matches) {
  if (matches.empty()) return "";
  std::string out = "; did you mean ";
  for (std::size_t i = 0; i < matches.size(); ++i) {
    if (i > 0) out += i + 1 == matches.size() ? " or " : ", ";
    out += "'" + matches[i] + "'";
  }
  return out + "?";
}

// ---- applying one change -----------------------------------------------------------------------

std::string describe(const Tree& tree) {
  switch (tree.kind) {
    case Tree::Kind::kNull:
      return "empty";
    case Tree::Kind::kScalar:
      return "a value (" + tree.scalar + "), not a mapping or list";
    case Tree::Kind::kMap:
      return "a mapping";
    case Tree::Kind::kSeq:
      return "a list";
  }
  return "";
}

class Applier {
 public:
  Applier(Tree& root, std::string file) : root_(root), file_(std::move(file)) {}

  void apply(const std::string& path, const Tree& value, const Tree& key_origin) {
    const std::vector<Token> tokens = split_path(path, file_);
    const bool remove = value.kind == Tree::Kind::kNull;

    Tree* node = &root_;
    std::string where;  // canonical path of `node`
    for (std::size_t k = 0; k + 1 < tokens.size(); ++k) {
      const Token& token = tokens[k];
      if (node->kind == Tree::Kind::kMap && !token.bracket) {
        const std::size_t at = node->find(token.key);
        if (at == Tree::npos) {
          unknown(path, tokens, k, where,
                  where.empty() ? "no key '" + token.key + "' at the top level"
                                : "no key '" + token.key + "' in '" + where + "'",
                  true);
        }
        node = &node->values[at];
        where = append_key(where, token.key);
      } else if (node->kind == Tree::Kind::kSeq) {
        const std::size_t index = item_index(path, tokens, k, where, *node);
        node = &node->values[index];
        where = append_index(where, index);
      } else {
        unknown(path, tokens, k, where, container_problem(where, *node, token), false);
      }
    }

    const Token& last = tokens.back();
    const std::size_t k = tokens.size() - 1;
    if (node == &root_ && root_.kind == Tree::Kind::kNull && !last.bracket && !remove) {
      root_.kind = Tree::Kind::kMap;  // an empty document: the first key makes it a mapping
    }
    if (node->kind == Tree::Kind::kMap && !last.bracket) {
      const std::size_t at = node->find(last.key);
      if (remove) {
        if (at != Tree::npos) {
          node->keys.erase(node->keys.begin() + static_cast<std::ptrdiff_t>(at));
          node->values.erase(node->values.begin() + static_cast<std::ptrdiff_t>(at));
        }
      } else if (at != Tree::npos) {
        node->values[at] = value;
        if (key_origin.line !=
            0) {  // the change, not the key it replaced, says where it was written
          node->keys[at].source = key_origin.source;
          node->keys[at].line = key_origin.line;
        }
      } else {
        Tree key;
        key.kind = Tree::Kind::kScalar;
        key.scalar = last.key;
        key.tag = "?";
        key.source = key_origin.source;
        key.line = key_origin.line;
        node->keys.push_back(std::move(key));
        node->values.push_back(value);
      }
    } else if (node->kind == Tree::Kind::kSeq) {
      const std::size_t index = item_index(path, tokens, k, where, *node);
      if (remove) {
        node->values.erase(node->values.begin() + static_cast<std::ptrdiff_t>(index));
      } else {
        node->values[index] = value;
      }
    } else {
      unknown(path, tokens, k, where, container_problem(where, *node, last), false);
    }
  }

 private:
  static std::string container_problem(const std::string& where, const Tree& node,
                                       const Token& token) {
    const std::string name = where.empty() ? std::string("the document") : "'" + where + "'";
    if (node.kind == Tree::Kind::kMap && token.bracket) {
      return name + " is a mapping, not a list";
    }
    return name + " is " + describe(node);
  }

  std::size_t item_index(const std::string& path, const std::vector<Token>& tokens, std::size_t k,
                         const std::string& where, const Tree& list) {
    const Token& token = tokens[k];
    const std::size_t n = list.values.size();
    const std::string range =
        n == 0 ? std::string("it is empty") : "indices 0 to " + std::to_string(n - 1);
    if (!all_digits(token.key)) {
      unknown(
          path, tokens, k, where,
          "'" + where + "' is a list; expected an index (" + range + "), got '" + token.key + "'",
          false);
    }
    std::size_t index = 0;
    const auto [ptr, ec] =
        std::from_chars(token.key.data(), token.key.data() + token.key.size(), index);
    if (ec != std::errc() || ptr != token.key.data() + token.key.size() || index >= n) {
      unknown(path, tokens, k, where,
              "'" + where + "' has " + std::to_string(n) + (n == 1 ? " item" : " items") + " (" +
                  range + "), no item " + token.key,
              false);
    }
    return index;
  }

  /// Throws the "unknown path" InputError. `k` is the first token that could not be followed, `where`
  /// the canonical path before it.
  [[noreturn]] void unknown(const std::string& path, const std::vector<Token>& tokens,
                            std::size_t k, const std::string& where, const std::string& detail,
                            bool missing_key) const {
    // The path as the existing paths are written (list items as [i]), for the similarity.
    std::string query = where;
    for (std::size_t i = k; i < tokens.size(); ++i) {
      query = tokens[i].bracket || all_digits(tokens[i].key) ? query + "[" + tokens[i].key + "]"
                                                             : append_key(query, tokens[i].key);
    }
    std::vector<PathNode> nodes;
    collect_paths(root_, "", nodes);
    std::vector<std::string> existing;
    for (const auto& entry : nodes) existing.push_back(entry.path);
    const std::vector<std::string> matches = close_matches(query, existing);
    std::string message = "unknown path '" + path + "'";
    if (!(missing_key && !matches.empty())) message += " (" + detail + ")";
    message += did_you_mean(matches);
    throw InputError(file_, 0, path, message);
  }

  Tree& root_;
  std::string file_;
};

}  // namespace

void apply_change(Tree& root, const std::string& path, const Tree& value, const std::string& file,
                  const Tree& key_origin) {
  Applier(root, file).apply(path, value, key_origin);
}

std::vector<PathNode> paths(const Tree& tree, const std::string& prefix) {
  std::vector<PathNode> out;
  collect_paths(tree, prefix, out);
  return out;
}

}  // namespace yaml_tree

namespace {

using yaml_tree::all_digits;
using yaml_tree::Tree;

// ---- values as JSON ----------------------------------------------------------------------------

/// Strict YAML 1.2 core floats, as lcsim's scenario parser reads numbers.
std::optional<double> to_double(std::string_view text) {
  for (const auto word : {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}) {
    if (text == word) return std::numeric_limits<double>::infinity();
  }
  for (const auto word : {"-.inf", "-.Inf", "-.INF"}) {
    if (text == word) return -std::numeric_limits<double>::infinity();
  }
  for (const auto word : {".nan", ".NaN", ".NAN"}) {
    if (text == word) return std::numeric_limits<double>::quiet_NaN();
  }
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  for (const char c : text) {
    const bool ok =
        (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
    if (!ok) return std::nullopt;
  }
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x",
                        static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_scalar(const Tree& tree) {
  if (tree.tag != "?" && !tree.tag.empty()) return json_string(tree.scalar);  // quoted or tagged
  const std::string& s = tree.scalar;
  for (const auto word : {"true", "True", "TRUE"}) {
    if (s == word) return "true";
  }
  for (const auto word : {"false", "False", "FALSE"}) {
    if (s == word) return "false";
  }
  // Integers as written (without '+' and leading zeros); other numbers as Python's repr writes them.
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (all_digits(digits)) {
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    return (negative && digits != "0" ? "-" : "") + std::string(digits);
  }
  if (const auto number = to_double(s)) {
    if (std::isnan(*number)) return "NaN";
    if (std::isinf(*number)) return *number > 0 ? "Infinity" : "-Infinity";
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, *number);
    std::string text(buffer, result.ptr);
    if (text.find_first_of(".en") == std::string::npos) text += ".0";
    return text;
  }
  return json_string(s);
}

std::string to_json(const Tree& tree) {
  switch (tree.kind) {
    case Tree::Kind::kNull:
      return "null";
    case Tree::Kind::kScalar:
      return json_scalar(tree);
    case Tree::Kind::kSeq: {
      std::string out = "[";
      for (std::size_t i = 0; i < tree.values.size(); ++i) {
        if (i > 0) out += ", ";
        out += to_json(tree.values[i]);
      }
      return out + "]";
    }
    case Tree::Kind::kMap: {
      std::string out = "{";
      for (std::size_t i = 0; i < tree.keys.size(); ++i) {
        if (i > 0) out += ", ";
        const Tree& key = tree.keys[i];
        out += json_string(key.kind == Tree::Kind::kScalar ? key.scalar : to_json(key));
        out += ": " + to_json(tree.values[i]);
      }
      return out + "}";
    }
  }
  return "null";
}

std::string trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

std::string apply_changes(const std::string& yaml_text, const std::vector<Change>& changes,
                          const std::string& file) {
  Tree root = yaml_tree::load(yaml_text, file, "", false);
  for (const auto& [path, value_text] : changes) {
    yaml_tree::apply_change(root, path, yaml_tree::load(value_text, file, path, true), file,
                            Tree{});
  }
  return yaml_tree::emit(root);
}

std::vector<std::string> scenario_paths(const std::string& yaml_text, const std::string& file) {
  const Tree root = yaml_tree::load(yaml_text, file, "", false);
  std::vector<std::string> out;
  for (const auto& entry : yaml_tree::paths(root)) out.push_back(entry.path);
  return out;
}

std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> values;
  int depth = 0;
  char quote = 0;
  std::size_t start = 0;
  const auto add = [&](std::size_t end) {
    std::string value = trim(std::string_view(text).substr(start, end - start));
    if (value.empty()) {
      throw InputError(
          "--set", 0, "",
          "empty value in '" + text + "' (write ~ to remove a field; quote a value with a comma)");
    }
    values.push_back(std::move(value));
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (quote == '"' && c == '\\') {
        ++i;  // escaped character
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == ',' && depth == 0) {
      add(i);
      start = i + 1;
    }
  }
  add(text.size());
  return values;
}

ChangeValues parse_changes(const std::string& text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos) {
    throw InputError("--set", 0, "", expected_got("PATH=VALUE[,VALUE...]", "'" + text + "'"));
  }
  ChangeValues out;
  out.path = trim(std::string_view(text).substr(0, eq));
  if (out.path.empty()) {
    throw InputError("--set", 0, "",
                     "no path before '=' in '" + text + "' (expected PATH=VALUE[,VALUE...])");
  }
  try {
    out.values = split_values(text.substr(eq + 1));
  } catch (const InputError& e) {
    throw InputError("--set", 0, out.path, e.problems().front().message);
  }
  return out;
}

std::string yaml_value_to_json(const std::string& yaml_value, const std::string& what) {
  return to_json(yaml_tree::load(yaml_value, "<value>", what, true));
}

}  // namespace lcsim
