#include "log_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <numeric>
#include <utility>

#include "lcsim/core/format.hpp"
#include "lcsim/core/input_file.hpp"
#include "text.hpp"

namespace lcsim::calibrate_log {
namespace {

namespace text = calibrate_text;

/// Errors listed before the rest are summarised in one line.
constexpr std::size_t kMaxErrors = 50;

}  // namespace

// ---- problems ------------------------------------------------------------------------------------

void Problems::error(int line, const std::string& field, std::string message) {
  if (errors_.size() < kMaxErrors) {
    errors_.push_back(Problem{file_, line, field, std::move(message), false});
  } else {
    ++errors_not_listed_;
  }
}

void Problems::warning(int line, const std::string& field, std::string message) {
  warnings_.push_back(Problem{file_, line, field, std::move(message), true});
}

void Problems::throw_if_errors() {
  if (errors_.empty()) return;
  throw InputError(take_listed_errors());
}

std::vector<Problem> Problems::take_listed_errors() {
  if (errors_not_listed_ > 0) {
    errors_.push_back(Problem{
        file_, 0, "", std::to_string(errors_not_listed_) + " more errors not listed", false});
  }
  errors_not_listed_ = 0;
  std::vector<Problem> out = std::move(errors_);
  errors_.clear();
  return out;
}

void Problems::warn_lines(std::vector<int>& lines, const std::string& field,
                          const std::string& what, std::size_t listed) {
  if (lines.empty()) return;
  std::sort(lines.begin(), lines.end());
  warning(lines.front(), field,
          std::to_string(lines.size()) + " " + what + ": " + text::lines(lines, listed));
}

// ---- files and rows ------------------------------------------------------------------------------

std::string read_all(std::istream& in, const std::string& file) {
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError("cannot read " + file);
  return content;
}

std::ifstream open_input(const std::string& path) {
  // Regular files only: a device (/dev/zero) would be read for ever, a FIFO can block for ever.
  if (const std::string why = input_file_problem(path); !why.empty()) {
    throw IoError("cannot open " + path + " for reading: " + why);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path + " for reading");
  return in;
}

std::vector<csv::Record> read_table(const std::string& content, const std::string& file,
                                    const std::string& columns, char separator) {
  std::vector<csv::Record> records = csv::read_records(content, file, separator);
  if (records.empty()) {
    throw InputError(file, 0, "",
                     "empty file: expected a header row naming the columns " + columns);
  }
  return records;
}

void for_each_row(const std::vector<csv::Record>& records, Problems& problems,
                  const std::string& unit,
                  const std::function<void(const csv::Record&)>& read_row) {
  for (std::size_t i = 1; i < records.size(); ++i) read_row(records[i]);
  if (records.size() == 1) {
    problems.error(records.front().line, "",
                   "no data rows: expected one row per " + unit + " after the header");
  }
}

Header::Header(const csv::Record& header) : line_(header.line) {
  for (const auto& f : header.fields) names_.push_back(text::trim(f));
}

int Header::find(const std::string& name, Problems& problems) const {
  int found = -1;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] != name) continue;
    if (found >= 0) {
      problems.error(line_, name,
                     "column '" + name + "' appears twice (columns " + std::to_string(found + 1) +
                         " and " + std::to_string(i + 1) + ")");
      break;
    }
    found = static_cast<int>(i);
  }
  if (found < 0) {
    problems.error(line_, name,
                   expected_got("a column named '" + name + "'", "columns " + text::join(names_)) +
                       did_you_mean(name, names_));
  }
  return found;
}

int Header::find_optional(const std::string& name, Problems& problems) const {
  if (name.empty() || std::find(names_.begin(), names_.end(), name) == names_.end()) return -1;
  return find(name, problems);
}

bool check_width(const csv::Record& record, std::size_t columns, Problems& problems) {
  if (record.fields.size() == columns) return true;
  problems.error(record.line, "",
                 expected_got(std::to_string(columns) + " fields (as in the header)",
                              std::to_string(record.fields.size())));
  return false;
}

std::string field(const csv::Record& record, int col) {
  return text::trim(record.fields[static_cast<std::size_t>(col)]);
}

std::string required_field(const csv::Record& record, int col, const std::string& column,
                           const std::string& what, Problems& problems, bool& ok) {
  std::string value = field(record, col);
  if (value.empty()) {
    problems.error(record.line, column, expected_got(what, "an empty value"));
    ok = false;
  }
  return value;
}

std::string timestamp_expected() { return std::string("a timestamp (") + kTimestampFormats + ")"; }

std::optional<Timestamp> timestamp_field(const std::string& text, int line,
                                         const std::string& column, const std::string& what,
                                         Problems& problems, bool& ok, DateOrder order) {
  if (text.empty()) {
    problems.error(line, column, expected_got(what, "an empty value"));
    ok = false;
    return std::nullopt;
  }
  std::optional<Timestamp> time = parse_timestamp(text, order);
  if (!time) {
    problems.error(line, column, expected_got(what, "'" + text + "'"));
    ok = false;
  }
  return time;
}

// ---- stage names ---------------------------------------------------------------------------------

bool StageNames::known(const std::string& name) const {
  return std::find(stages_.begin(), stages_.end(), name) != stages_.end();
}

void StageNames::check(Problems& problems) {
  if (!stages_.empty()) {
    for (const auto& [crm, stage] : stage_map_) {
      if (!known(stage)) {
        problems.error(0, "stage_map." + crm,
                       "maps to unknown stage '" + stage + "' (expected one of: " +
                           text::join(stages_) + ")" + did_you_mean(stage, stages_));
      }
    }
    for (const auto& stage : absorbing_) {
      if (!known(stage)) {
        problems.error(0, "absorbing",
                       "unknown stage '" + stage + "' (expected one of: " + text::join(stages_) +
                           ")" + did_you_mean(stage, stages_));
      }
    }
  }
  accepted_ = stages_;
  for (const auto& [crm, stage] : stage_map_) {
    accepted_.push_back(crm);
    accepted_.push_back(stage);
  }
  std::sort(accepted_.begin(), accepted_.end());
  accepted_.erase(std::unique(accepted_.begin(), accepted_.end()), accepted_.end());
}

std::optional<std::string> StageNames::resolve(const std::string& raw, std::string& message) const {
  std::string stage = raw;
  if (!stage_map_.empty()) {
    const auto it = stage_map_.find(raw);
    if (it != stage_map_.end()) {
      stage = it->second;
    } else if (!std::binary_search(accepted_.begin(), accepted_.end(), raw)) {
      std::vector<std::string> keys;
      for (const auto& entry : stage_map_) keys.push_back(entry.first);
      message = "unknown stage '" + raw +
                "': not in the stage map (expected one of: " + text::join(keys) + ")" +
                did_you_mean(raw, accepted_);
      return std::nullopt;
    }
  }
  if (!stages_.empty() && !known(stage)) {
    message = "unknown stage '" + stage + "'" +
              (stage != raw ? " (mapped from '" + raw + "')" : std::string()) +
              " (expected one of: " + text::join(stages_) + ")" + did_you_mean(stage, stages_);
    return std::nullopt;
  }
  return stage;
}

std::optional<std::string> StageNames::field(const csv::Record& record, int col,
                                             const std::string& column, Problems& problems,
                                             bool& ok) const {
  const std::string raw = required_field(record, col, column, "a stage name", problems, ok);
  if (raw.empty()) return std::nullopt;
  std::string message;
  std::optional<std::string> stage = resolve(raw, message);
  if (!stage) {
    problems.error(record.line, column, message);
    ok = false;
  }
  return stage;
}

// ---- funnel order ------------------------------------------------------------------------------

std::vector<std::string> path_order(const std::vector<std::string>& names,
                                    const std::vector<std::vector<std::size_t>>& paths,
                                    const std::vector<std::string>& absorbing) {
  std::vector<std::uint64_t> offsets{0};
  std::vector<std::uint32_t> stages;
  for (const auto& path : paths) {
    for (const std::size_t s : path) stages.push_back(static_cast<std::uint32_t>(s));
    offsets.push_back(stages.size());
  }
  return path_order(names, offsets, stages, absorbing);
}

std::vector<std::string> path_order(const std::vector<std::string>& names,
                                    std::span<const std::uint64_t> offsets,
                                    std::span<const std::uint32_t> stages,
                                    const std::vector<std::string>& absorbing) {
  const std::size_t n = names.size();
  // before[a * n + b]: customers who entered a (first time) before their first entry into b.
  std::vector<std::size_t> before(n * n, 0);
  std::vector<std::size_t> first_visits;
  std::vector<std::uint8_t> seen(n, 0);
  for (std::size_t c = 0; c + 1 < offsets.size(); ++c) {
    first_visits.clear();
    for (const std::uint32_t s : stages.subspan(offsets[c], offsets[c + 1] - offsets[c])) {
      if (seen[s] != 0) continue;
      seen[s] = 1;
      for (const std::size_t earlier : first_visits) ++before[earlier * n + s];
      first_visits.push_back(s);
    }
    for (const std::size_t s : first_visits) seen[s] = 0;
  }
  const auto ahead = [&](std::size_t a, std::size_t b) {
    return before[a * n + b] > before[b * n + a];
  };
  std::vector<long> score(n, 0);  // over all stages: those a stage comes before minus after
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = 0; b < n; ++b) {
      if (ahead(a, b)) ++score[a];
      if (ahead(b, a)) --score[a];
    }
  }
  std::vector<std::uint8_t> out_way(n, 0);
  for (std::size_t s = 0; s < n; ++s) {
    out_way[s] = std::find(absorbing.begin(), absorbing.end(), names[s]) != absorbing.end() ? 1 : 0;
  }
  // Kahn's order on "most customers entered a before b": next is a stage no remaining stage
  // comes before (in a loop, the one fewest come before), the non-absorbing ones first; ties go
  // to the higher score, then to the first seen.
  std::vector<std::uint8_t> placed(n, 0);
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t best = n;
    std::size_t best_behind = 0;
    for (std::size_t s = 0; s < n; ++s) {
      if (placed[s] != 0) continue;
      std::size_t behind = 0;
      for (std::size_t b = 0; b < n; ++b) {
        if (placed[b] == 0 && ahead(b, s)) ++behind;
      }
      const bool better =
          best == n || out_way[s] < out_way[best] ||
          (out_way[s] == out_way[best] &&
           (behind < best_behind || (behind == best_behind && score[s] > score[best])));
      if (better) {
        best = s;
        best_behind = behind;
      }
    }
    placed[best] = 1;
    out.push_back(names[best]);
  }
  return out;
}

// ---- probabilities -------------------------------------------------------------------------------

std::vector<double> exact_probabilities(const std::vector<double>& weights) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> p;
  p.reserve(weights.size());
  for (const double w : weights) p.push_back(w / total);
  if (p.empty()) return p;
  double head = 0.0;
  for (std::size_t i = 0; i + 1 < p.size(); ++i) head += p[i];
  p.back() = std::max(0.0, 1.0 - head);
  for (int iteration = 0; iteration < 8 && head + p.back() != 1.0; ++iteration) {
    p.back() = std::nextafter(p.back(), head + p.back() < 1.0 ? 2.0 : 0.0);
  }
  return p;
}

}  // namespace lcsim::calibrate_log
