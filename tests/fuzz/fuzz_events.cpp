// libFuzzer harness: a stage-change log (CSV) -> parse_event_log -> stays_of (the events front
// door of `lcsim calibrate` and lcsim.calibrate). The last byte picks the options (see
// lcsim_fuzz::split_options), so the fuzzer explores the separator, date order, drop_invalid and
// stage-list branches while a seed (ending in a newline) reads with the defaults. See docs/hardening.md.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_common.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/calibrate/touchpoint_lift.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const lcsim_fuzz::Split input = lcsim_fuzz::split_options(data, size);
  const std::string& text = input.text;
  const unsigned flags = input.flags;
  lcsim::LogOptions options;
  if (flags & 1) options.drop_invalid = true;
  if (flags & 2) options.drop_duplicates = true;
  if (flags & 4) options.separator = ';';
  if (flags & 8) options.date_order = (flags & 16) ? lcsim::DateOrder::kDayFirst : lcsim::DateOrder::kMonthFirst;
  if (flags & 32) options.segment_column = "segment";
  if (flags & 64) {
    options.stages = {"lead", "mql", "sql", "won", "lost"};
    options.absorbing = {"won", "lost"};
  }
  if (flags & 128) options.censor_at = "2024-06-30";
  const std::string file = "events.csv";
  lcsim_fuzz::guarded(file, [&] {
    std::istringstream in(text);
    const lcsim::EventLog log = lcsim::parse_event_log(in, file, options);
    (void)lcsim::stays_of(log);
  });
  return 0;
}
