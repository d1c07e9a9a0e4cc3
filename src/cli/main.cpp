// lcsim command line: thin shell over the library. Exit 0 ok, 2 bad input, 1 internal error,
// 130 cancelled (Ctrl-C).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/core/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"lcsim: discrete-event simulation of customer lifecycles for what-if analysis"};
  app.set_version_flag("--version", std::string("lcsim ") + lcsim::kVersion);
  app.require_subcommand(1);
  int exit_code = 0;
  lcsim::cli::add_validate(app, exit_code);
  lcsim::cli::add_run(app, exit_code);
  lcsim::cli::add_analyze(app, exit_code);
  lcsim::cli::add_compare(app, exit_code);
  lcsim::cli::add_sweep(app, exit_code);
  lcsim::cli::add_synth(app, exit_code);
  lcsim::cli::add_calibrate(app, exit_code);
  lcsim::cli::add_report(app, exit_code);
  lcsim::cli::add_app(app, exit_code);
  lcsim::cli::add_optimise(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line: the option, what it takes and what it got; the help of the verb it belongs to.
    std::string verb;
    for (const CLI::App* sub : app.get_subcommands()) verb = " " + sub->get_name();
    std::cerr << "lcsim" << verb << ": " << e.what() << " (see lcsim" << verb << " --help)\n";
    return 2;
  } catch (const lcsim::InputError& e) {
    for (const auto& p : e.problems()) std::cerr << p.to_string() << '\n';
    return 2;
  } catch (const lcsim::Cancelled&) {
    std::cerr << "lcsim: cancelled; nothing was written\n";
    return 130;
  } catch (const lcsim::IoError& e) {
    // A file that cannot be read or written, or is not a study: the message names the path. Like
    // bad input, it is the caller's to fix (exit 2, as `lcsim report` says for a StudyError);
    // exit 1 is kept for bugs.
    std::cerr << "lcsim: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "lcsim: internal error: " << e.what() << '\n';
    return 1;
  }
  return exit_code;
}
