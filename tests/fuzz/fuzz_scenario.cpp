// libFuzzer harness: scenario YAML -> parse_scenario -> compile (the front door of `lcsim run`,
// `lcsim validate` and lcsim.load). See docs/hardening.md.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A file name in a directory that does not exist: an `extends:` of the input cannot read files.
  const std::string file = "/nonexistent-lcsim-fuzz/scenario.yaml";
  lcsim_fuzz::guarded(file, [&] {
    const lcsim::Scenario scenario = lcsim::parse_scenario(text, file);
    (void)lcsim::check(scenario);
    const lcsim::Model model = lcsim::compile(scenario);
    (void)model;
  });
  return 0;
}
