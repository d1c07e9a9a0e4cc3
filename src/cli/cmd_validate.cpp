#include <iostream>

#include "commands.hpp"
#include "lcsim/io/scenario_yaml.hpp"

namespace lcsim::cli {

void add_validate(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "validate", "Check scenario files; print every problem as file:line: field: message");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("scenario", *files, "Scenario YAML file(s)")->required();
  cmd->callback([files, &exit_code] {
    for (const auto& path : *files) {
      int errors = 0;
      int warnings = 0;
      for (const auto& p : validate_file(path)) {
        std::cerr << p.to_string() << '\n';
        (p.warning ? warnings : errors) += 1;
      }
      if (errors > 0) {
        exit_code = 2;
        std::cout << path << ": " << errors << " error(s), " << warnings << " warning(s)\n";
      } else {
        std::cout << path << ": ok"
                  << (warnings > 0 ? " (" + std::to_string(warnings) + " warning(s))" : "") << '\n';
      }
    }
  });
}

}  // namespace lcsim::cli
