// libFuzzer harness: a snapshot file (CSV: customer, date, stage) -> parse_snapshots -> count_panel
// (the snapshots front door of `lcsim calibrate --snapshots` and lcsim.calibrate). The last byte
// picks the options (lcsim_fuzz::split_options). See docs/hardening.md.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_common.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const lcsim_fuzz::Split input = lcsim_fuzz::split_options(data, size);
  const std::string& text = input.text;
  const unsigned flags = input.flags;
  lcsim::SnapshotOptions options;
  if (flags & 1) {
    options.stages = {"lead", "mql", "sql", "won", "lost"};
    options.absorbing = {"won", "lost"};
  }
  if (flags & 2) options.stage_map = {{"Lead", "lead"}, {"Closed Won", "won"}};
  if (flags & 4) options.epoch = "2024-01-01";
  if (flags & 8) options.time_column = "timestamp";
  const std::string file = "snapshots.csv";
  lcsim_fuzz::guarded(file, [&] {
    std::istringstream in(text);
    const lcsim::SnapshotLog log = lcsim::parse_snapshots(in, file, options);
    if (!log.customers.empty()) (void)lcsim::count_panel(log);
  });
  return 0;
}
