#include "yaml_load.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace lcsim::yaml_load {
namespace {

/// Reads parse events only: the expanded size of every node (an alias counts as the size of its
/// anchor's node), and where each document starts.
class Guard : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    start_ = mark;
    stack_.clear();
    total_ = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, 1); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    for (const Open& open : stack_) {
      if (open.anchor == anchor) {
        // yaml-cpp links the alias to the node being built: a cycle that expands for ever.
        throw YAML::ParserException(mark, "an alias refers to a node that contains it (a cycle)");
      }
    }
    const auto it = sizes_.find(anchor);
    leaf(mark, 0, it == sizes_.end() ? 1 : it->second);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(mark, anchor, 1);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

  [[nodiscard]] const YAML::Mark& start() const { return start_; }

 private:
  struct Open {
    YAML::anchor_t anchor;
    std::size_t size;  ///< expanded nodes so far, the container itself included
  };

  /// Counts `n` more nodes of the document (every node once, an alias as its anchor's size).
  void count(const YAML::Mark& mark, std::size_t n) {
    total_ += n;
    if (total_ > kMaxExpandedNodes) {
      throw YAML::ParserException(mark, "the document has more than " +
                                            std::to_string(kMaxExpandedNodes) +
                                            " nodes with its aliases expanded (an alias bomb?)");
    }
  }
  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t n) {
    count(mark, n);
    if (anchor != 0) sizes_[anchor] = n;
    if (!stack_.empty()) stack_.back().size += n;
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    count(mark, 1);
    stack_.push_back(Open{anchor, 1});
  }
  void close() {
    if (stack_.empty()) return;
    const Open done = stack_.back();
    stack_.pop_back();
    if (done.anchor != 0) sizes_[done.anchor] = done.size;
    if (!stack_.empty()) stack_.back().size += done.size;
  }

  YAML::Mark start_;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, std::size_t> sizes_;
  std::size_t total_ = 0;  ///< expanded nodes of the document so far
};

bool same(const YAML::Mark& a, const YAML::Mark& b) {
  return a.pos == b.pos && a.line == b.line && a.column == b.column;
}

}  // namespace

std::vector<YAML::Node> load_all(const std::string& text) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    Guard guard;
    std::size_t documents = 0;
    YAML::Mark previous;
    while (parser.HandleNextDocument(guard)) {
      if (documents > 0 && same(guard.start(), previous)) {
        // yaml-cpp's LoadAll would return empty documents here for ever.
        throw YAML::ParserException(
            guard.start(), "unexpected ',' (a ',' separates items only inside [...] or {...})");
      }
      previous = guard.start();
      if (++documents > kMaxDocuments) {
        throw YAML::ParserException(
            guard.start(), "more than " + std::to_string(kMaxDocuments) + " YAML documents");
      }
    }
    return YAML::LoadAll(text);
  } catch (const YAML::DeepRecursion& e) {
    throw YAML::ParserException(
        e.mark, "nested too deeply (more than " + std::to_string(e.depth()) + " levels)");
  }
}

}  // namespace lcsim::yaml_load
