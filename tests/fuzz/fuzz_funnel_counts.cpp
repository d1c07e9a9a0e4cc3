// libFuzzer harness: a funnel-count file (CSV: period, stage, entries) -> parse_funnel_counts (the
// front door of `lcsim calibrate --funnel-counts` and lcsim.calibrate). See docs/hardening.md.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_common.hpp"
#include "lcsim/calibrate/funnel_fit.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string file = "funnel.csv";
  lcsim_fuzz::guarded(file, [&] {
    std::istringstream in(text);
    const lcsim::FunnelCounts counts = lcsim::parse_funnel_counts(in, file);
    (void)counts;
  });
  return 0;
}
