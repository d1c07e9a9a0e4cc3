#include "lcsim/calibrate/option_spelling.hpp"

#include <array>
#include <stdexcept>

namespace lcsim {
namespace {

struct Spellings {
  std::string_view key;
  std::string_view cpp;
  std::string_view cli;
  std::string_view python;
};

constexpr std::array<Spellings, 9> kSpellings{{
    {"drop_duplicates", "LogOptions::drop_duplicates = true", "--drop-duplicates",
     "drop_duplicates=True"},
    {"drop_invalid", "LogOptions::drop_invalid = true", "--drop-invalid", "on_invalid=\"drop\""},
    {"stages", "LogOptions::stages", "--stages a,b,...", "stages=[...]"},
    {"stage_map", "LogOptions::stage_map", "--stage-map map.yaml", "stage_map={...}"},
    {"won", "CalibrateOptions::won", "--won STAGE", "won=\"STAGE\""},
    {"censor_at", "LogOptions::censor_at", "--censor-at", "censor_at="},
    {"date_means=end-of-day", "SnapshotOptions::date_means = DateMeans::kEndOfDay",
     "--date-means end-of-day", "date_means=\"end-of-day\""},
    {"date_means=start-of-day", "SnapshotOptions::date_means = DateMeans::kStartOfDay",
     "--date-means start-of-day", "date_means=\"start-of-day\""},
    {"columns", "the *_column options", "--columns KEY=NAME,...", "columns={...}"},
}};

}  // namespace

std::string option_hint(std::string_view key, OptionSpelling spelling) {
  for (const Spellings& s : kSpellings) {
    if (s.key != key) continue;
    switch (spelling) {
      case OptionSpelling::kCli:
        return std::string(s.cli);
      case OptionSpelling::kPython:
        return std::string(s.python);
      case OptionSpelling::kCpp:
        break;
    }
    return std::string(s.cpp);
  }
  throw std::invalid_argument("option_hint: unknown option key '" + std::string(key) + "'");
}

}  // namespace lcsim
