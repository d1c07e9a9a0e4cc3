#include "lcsim/io/scenario_extends.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "lcsim/core/format.hpp"
#include "lcsim/core/input_file.hpp"
#include "yaml_tree.hpp"

namespace lcsim {
namespace {

namespace fs = std::filesystem;
using yaml_tree::Tree;

constexpr std::string_view kExtends = "extends";
constexpr std::string_view kChanges = "changes";

/// The path a file is compared by when looking for cycles.
std::string identity(const std::string& path) {
  std::error_code error;
  const fs::path canonical = fs::weakly_canonical(fs::absolute(path, error), error);
  return error ? path : canonical.string();
}

/// Merges `patch` into `into`, both mappings: mappings merge key by key, anything else replaces,
/// a null removes the key.
void merge(Tree& into, const Tree& patch) {
  for (std::size_t i = 0; i < patch.keys.size(); ++i) {
    const Tree& key = patch.keys[i];
    const Tree& value = patch.values[i];
    const std::size_t at = key.kind == Tree::Kind::kScalar ? into.find(key.scalar) : Tree::npos;
    if (value.kind == Tree::Kind::kNull) {
      if (at != Tree::npos) {
        into.keys.erase(into.keys.begin() + static_cast<std::ptrdiff_t>(at));
        into.values.erase(into.values.begin() + static_cast<std::ptrdiff_t>(at));
      }
    } else if (at == Tree::npos) {
      into.keys.push_back(key);
      into.values.push_back(value);
    } else if (into.values[at].kind == Tree::Kind::kMap && value.kind == Tree::Kind::kMap) {
      merge(into.values[at], value);
    } else {
      into.keys[at] = key;
      into.values[at] = value;
    }
  }
}

class Resolver {
 public:
  ResolvedScenario resolve(const std::string& text, const std::string& file) {
    Tree root = resolve_file(text, file);
    ResolvedScenario out;
    out.text = yaml_tree::emit(root);
    if (files_.size() > 1) {
      out.sources.files = files_;
      out.sources.own_text = text;
      for (const auto& entry : yaml_tree::paths(root)) {
        out.sources.origins.emplace(entry.path, std::pair{entry.node->source, entry.node->line});
      }
    }
    return out;
  }

 private:
  /// The tree of `text` with its bases applied; its own nodes are marked with its index in files_.
  Tree resolve_file(const std::string& text, const std::string& file) {
    const int source = static_cast<int>(files_.size());
    files_.push_back(file);
    identities_.push_back(identity(file));
    Tree own = yaml_tree::load(text, file, "", false, source);
    if (own.kind != Tree::Kind::kMap) return own;  // the schema check says what is wrong
    const std::size_t extends_at = own.find(kExtends);
    const std::size_t changes_at = own.find(kChanges);
    if (extends_at == Tree::npos) {
      if (changes_at != Tree::npos) {
        // A misspelt `extends:` ("extnds:") is the likely cause: name it, on its own line.
        for (const Tree& key : own.keys) {
          if (key.kind != Tree::Kind::kScalar || key.scalar == kChanges) continue;
          const std::string hint =
              did_you_mean(key.scalar, std::vector<std::string_view>{kExtends});
          if (!hint.empty()) {
            throw InputError(file, key.line, key.scalar,
                             "unknown key '" + key.scalar + "' in a file with 'changes:'" + hint);
          }
        }
        throw InputError(file, own.keys[changes_at].line, std::string(kChanges),
                         "'changes:' lists changes to a base scenario, but this file has no "
                         "'extends:' naming one (add 'extends: baseline.yaml')");
      }
      return own;
    }

    const Tree& extends_key = own.keys[extends_at];
    const Tree& extends = own.values[extends_at];
    if (extends.kind != Tree::Kind::kScalar || extends.scalar.empty()) {
      throw InputError(file, extends_key.line, std::string(kExtends),
                       "expected the path of the base scenario file (relative to this file), "
                       "e.g. 'extends: baseline.yaml'");
    }
    const fs::path here = file == "<string>" ? fs::path() : fs::path(file).parent_path();
    const std::string base_file = (here / extends.scalar).lexically_normal().string();
    const std::string base_identity = identity(base_file);
    for (std::size_t i = 0; i < identities_.size(); ++i) {
      if (identities_[i] != base_identity) continue;
      std::string chain;
      for (std::size_t j = i; j < files_.size(); ++j) chain += files_[j] + " extends ";
      throw InputError(file, extends_key.line, std::string(kExtends),
                       "extends cycle: " + chain + base_file);
    }
    std::string base_text;
    if (!read(base_file, base_text)) {
      throw InputError(
          file, extends_key.line, std::string(kExtends),
          "cannot read the base scenario '" + extends.scalar + "' (looked for " + base_file + ")");
    }
    Tree base = resolve_file(base_text, base_file);
    if (base.kind != Tree::Kind::kMap) {
      throw InputError(base_file, base.line, "",
                       expected_got("a scenario (a mapping)", "a document that is not a mapping"));
    }

    Tree patch;
    patch.kind = Tree::Kind::kMap;
    for (std::size_t i = 0; i < own.keys.size(); ++i) {
      if (i == extends_at || i == changes_at) continue;
      patch.keys.push_back(own.keys[i]);
      patch.values.push_back(own.values[i]);
    }
    merge(base, patch);

    if (changes_at != Tree::npos) apply(base, own.keys[changes_at], own.values[changes_at], file);
    return base;
  }

  /// Applies a `changes:` mapping (dotted path -> value) to `base`, in order.
  static void apply(Tree& base, const Tree& key, const Tree& changes, const std::string& file) {
    if (changes.kind == Tree::Kind::kNull) return;
    if (changes.kind != Tree::Kind::kMap) {
      throw InputError(file, key.line, std::string(kChanges),
                       "expected a mapping of dotted paths to new values, e.g. "
                       "'touchpoints.webinar.reach: 0.3'");
    }
    for (std::size_t i = 0; i < changes.keys.size(); ++i) {
      const Tree& path = changes.keys[i];
      if (path.kind != Tree::Kind::kScalar) {
        throw InputError(file, path.line, std::string(kChanges),
                         "expected a dotted path as the key");
      }
      try {
        yaml_tree::apply_change(base, path.scalar, changes.values[i], file, path);
      } catch (const InputError& e) {
        Problem problem = e.problems().front();
        problem.line = path.line;
        problem.field = std::string(kChanges) + "." + path.scalar;
        throw InputError(std::vector<Problem>{problem});
      }
    }
  }

  static bool read(const std::string& path, std::string& text) {
    if (!input_file_problem(path, kMaxScenarioBytes).empty())
      return false;  // a device, a FIFO, too large
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
  }

  std::vector<std::string> files_;
  std::vector<std::string> identities_;
};

}  // namespace

ResolvedScenario resolve_extends(const std::string& text, const std::string& file) {
  return Resolver().resolve(text, file);
}

}  // namespace lcsim
