/// @file customer_paths.hpp
/// The customers' paths of a stage-change log in flat arrays (EventLog::customers).
///
/// Rows are grouped by customer: customer c's entries are [offsets()[c], offsets()[c + 1]) of the
/// arrays times(), stage_ids() and lines() (14 bytes an entry); a customer keeps its id in one
/// shared character buffer and its segment as a number. Stage and segment names are stored once.
/// A 3 M-row log of 1.1 M accounts so takes about 70 MB instead of a std::string per field.
/// Indexing and iterating give views (CustomerPath, StageEntry) that read the arrays: they are
/// valid while the CustomerPaths lives (moving it keeps them valid) and are cheap to copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lcsim {

/// A customer's entry into a stage (a view into CustomerPaths).
struct StageEntry {
  double time;               ///< days since the epoch
  const std::string& stage;  ///< stage name (after the stage map)
  int line;                  ///< line of the row in the file
};

class CustomerPaths;

/// Random-access iterator over positions 0..n of a container whose operator[] returns a view.
template <class Container, class Value>
class ViewIterator {
 public:
  using iterator_category = std::random_access_iterator_tag;
  using value_type = Value;
  using difference_type = std::ptrdiff_t;
  using reference = Value;
  using pointer = void;

  ViewIterator() = default;
  ViewIterator(const Container* c, std::size_t i) : c_(c), i_(i) {}
  Value operator*() const { return (*c_)[i_]; }
  Value operator[](difference_type k) const { return (*c_)[i_ + static_cast<std::size_t>(k)]; }
  ViewIterator& operator++() {
    ++i_;
    return *this;
  }
  ViewIterator operator++(int) {
    ViewIterator old = *this;
    ++i_;
    return old;
  }
  ViewIterator& operator--() {
    --i_;
    return *this;
  }
  ViewIterator operator--(int) {
    ViewIterator old = *this;
    --i_;
    return old;
  }
  ViewIterator& operator+=(difference_type k) {
    i_ += static_cast<std::size_t>(k);
    return *this;
  }
  ViewIterator& operator-=(difference_type k) {
    i_ -= static_cast<std::size_t>(k);
    return *this;
  }
  friend ViewIterator operator+(ViewIterator it, difference_type k) { return it += k; }
  friend ViewIterator operator+(difference_type k, ViewIterator it) { return it += k; }
  friend ViewIterator operator-(ViewIterator it, difference_type k) { return it -= k; }
  friend difference_type operator-(const ViewIterator& a, const ViewIterator& b) {
    return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
  }
  friend bool operator==(const ViewIterator& a, const ViewIterator& b) { return a.i_ == b.i_; }
  friend auto operator<=>(const ViewIterator& a, const ViewIterator& b) { return a.i_ <=> b.i_; }

 private:
  const Container* c_ = nullptr;
  std::size_t i_ = 0;
};

/// One customer's entries in time order (a view into CustomerPaths).
class StageEntries {
 public:
  StageEntries(const CustomerPaths& paths, std::size_t first, std::size_t count)
      : paths_(&paths), first_(first), count_(count) {}
  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] StageEntry operator[](std::size_t i) const;
  [[nodiscard]] StageEntry front() const { return (*this)[0]; }
  [[nodiscard]] StageEntry back() const { return (*this)[count_ - 1]; }
  [[nodiscard]] ViewIterator<StageEntries, StageEntry> begin() const { return {this, 0}; }
  [[nodiscard]] ViewIterator<StageEntries, StageEntry> end() const { return {this, count_}; }
  /// Index of the first entry in the CustomerPaths arrays.
  [[nodiscard]] std::size_t first() const { return first_; }

 private:
  const CustomerPaths* paths_;
  std::size_t first_;
  std::size_t count_;
};

/// One customer's path (a view into CustomerPaths).
struct CustomerPath {
  std::string_view id;
  const std::string& segment;  ///< empty without a segment column
  StageEntries entries;        ///< at least one, sorted by time (ties keep file order)
};

/// The paths of every customer, in order of first occurrence in the file.
class CustomerPaths {
 public:
  [[nodiscard]] std::size_t size() const { return segment_.size(); }
  [[nodiscard]] bool empty() const { return segment_.empty(); }
  [[nodiscard]] CustomerPath operator[](std::size_t c) const {
    return CustomerPath{id(c), segment_names_[segment_[c]],
                        StageEntries(*this, offsets_[c], offsets_[c + 1] - offsets_[c])};
  }
  [[nodiscard]] CustomerPath front() const { return (*this)[0]; }
  [[nodiscard]] CustomerPath back() const { return (*this)[size() - 1]; }
  [[nodiscard]] ViewIterator<CustomerPaths, CustomerPath> begin() const { return {this, 0}; }
  [[nodiscard]] ViewIterator<CustomerPaths, CustomerPath> end() const { return {this, size()}; }

  [[nodiscard]] std::string_view id(std::size_t c) const {
    const std::size_t from = c == 0 ? 0 : id_end_[c - 1];
    return std::string_view(ids_).substr(from, id_end_[c] - from);
  }
  /// Entries of customer c: [offsets()[c], offsets()[c + 1]) (size() + 1 values).
  [[nodiscard]] std::span<const std::uint64_t> offsets() const { return offsets_; }
  [[nodiscard]] std::span<const double> times() const { return time_; }
  /// Stage of each entry, an index into stage_names().
  [[nodiscard]] std::span<const std::uint16_t> stage_ids() const { return stage_; }
  [[nodiscard]] std::span<const std::int32_t> lines() const { return line_; }
  /// Segment of each customer, an index into segment_names().
  [[nodiscard]] std::span<const std::uint32_t> segment_ids() const { return segment_; }
  /// Stage names by id (in order of first use, not the funnel order of EventLog::stages).
  [[nodiscard]] const std::vector<std::string>& stage_names() const { return stage_names_; }
  [[nodiscard]] const std::vector<std::string>& segment_names() const { return segment_names_; }
  /// Entries of all customers.
  [[nodiscard]] std::size_t entry_count() const { return time_.size(); }

  // ---- building (the log reader) ---------------------------------------------------------------
  /// Names of the stage ids and segment ids that add_entry and add_customer will use.
  void set_names(std::vector<std::string> stages, std::vector<std::string> segments) {
    stage_names_ = std::move(stages);
    segment_names_ = std::move(segments);
    if (segment_names_.empty()) segment_names_.emplace_back();
  }
  /// Room for `customers` customers, `entries` entries and `id_chars` characters of ids.
  void reserve(std::size_t customers, std::size_t entries, std::size_t id_chars) {
    offsets_.reserve(customers + 1);
    segment_.reserve(customers);
    id_end_.reserve(customers);
    ids_.reserve(id_chars);
    time_.reserve(entries);
    stage_.reserve(entries);
    line_.reserve(entries);
  }
  /// Starts a customer: its entries are those added until the next begin_customer.
  void begin_customer(std::string_view id, std::uint32_t segment) {
    if (offsets_.empty()) offsets_.push_back(0);
    ids_.append(id);
    id_end_.push_back(ids_.size());
    segment_.push_back(segment);
    offsets_.push_back(time_.size());
  }
  void add_entry(double time, std::uint16_t stage, std::int32_t line) {
    time_.push_back(time);
    stage_.push_back(stage);
    line_.push_back(line);
    ++offsets_.back();
  }
  /// Sets the segment of the customer begun last.
  void set_last_segment(std::uint32_t segment) { segment_.back() = segment; }
  /// Removes the customer begun last (one without entries).
  void drop_last_customer() {
    ids_.resize(id_end_.size() > 1 ? id_end_[id_end_.size() - 2] : 0);
    id_end_.pop_back();
    segment_.pop_back();
    offsets_.pop_back();
  }

 private:
  friend class StageEntries;
  std::vector<std::uint64_t> offsets_;  ///< size() + 1 (empty when there are no customers)
  std::vector<double> time_;
  std::vector<std::uint16_t> stage_;
  std::vector<std::int32_t> line_;
  std::string ids_;                    ///< every id, one after the other
  std::vector<std::uint64_t> id_end_;  ///< end of each id in ids_
  std::vector<std::uint32_t> segment_;
  std::vector<std::string> stage_names_;
  std::vector<std::string> segment_names_{std::string()};
};

inline StageEntry StageEntries::operator[](std::size_t i) const {
  const std::size_t k = first_ + i;
  return StageEntry{paths_->time_[k], paths_->stage_names_[paths_->stage_[k]], paths_->line_[k]};
}

}  // namespace lcsim
