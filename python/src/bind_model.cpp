#include <pybind11/stl.h>

#include <memory>

#include "bindings.hpp"
#include "lcsim/io/scenario_changes.hpp"
#include "lcsim/io/scenario_yaml.hpp"
#include "lcsim/model/compile.hpp"

namespace py = pybind11;

namespace lcsim::python {
namespace {

/// Errors and warnings of a YAML scenario as (file, line, field, message, warning) tuples.
py::list check_yaml(const std::string& text, const std::string& file) {
  std::vector<Problem> problems;
  try {
    problems = check(parse_scenario(text, file));
  } catch (const InputError& e) {
    problems = e.problems();
  }
  py::list out;
  for (const auto& p : problems)
    out.append(py::make_tuple(p.file, p.line, p.field, p.message, p.warning));
  return out;
}

}  // namespace

void bind_model(py::module_& m) {
  m.def("check_yaml", &check_yaml, py::arg("text"), py::arg("file") = "<string>",
        "Every problem of a YAML scenario as (file, line, field, message, warning) tuples.");
  m.def(
      "canonical_yaml",
      [](const std::string& text, const std::string& file) {
        return to_yaml(parse_scenario(text, file));
      },
      py::arg("text"), py::arg("file") = "<string>",
      "The scenario re-emitted in lcsim's canonical YAML form.");
  m.def(
      "apply_changes", &apply_changes, py::arg("text"), py::arg("changes"),
      py::arg("file") = "<string>",
      "YAML text with (dotted path, YAML value text) changes applied in order; a null value removes the field. "
      "Raises lcsim.ScenarioError for an unknown path (listing close matches) or a value that is not YAML.");

  py::class_<Model, std::shared_ptr<Model>>(m, "Model",
                                            "A compiled, validated scenario (see lcsim.Scenario).")
      .def_readonly("name", &Model::name)
      .def_readonly("stage_names", &Model::stage_names)
      .def_readonly("segment_names", &Model::segment_names)
      .def_readonly("touchpoint_names", &Model::touchpoint_names)
      .def_readonly("report_times", &Model::report_times)
      .def_readonly("horizon", &Model::horizon)
      .def_readonly("seed", &Model::seed)
      .def_readonly("replications", &Model::replications)
      .def_readonly("scenario_text", &Model::scenario_text)
      .def_readonly("scenario_extends", &Model::scenario_extends)
      .def_readonly("scenario_own_text", &Model::scenario_own_text);
  m.def(
      "compile_yaml",
      [](const std::string& text, const std::string& file, const std::vector<std::string>& extends,
         const std::string& own_text) {
        Scenario scenario = parse_scenario(text, file);
        if (!extends
                 .empty()) {  // a resolved variant rebuilt from its text (pickled): keep its provenance
          scenario.sources.files = {file};
          scenario.sources.files.insert(scenario.sources.files.end(), extends.begin(),
                                        extends.end());
          scenario.sources.own_text = own_text;
        }
        return std::make_shared<Model>(compile(scenario));
      },
      py::arg("text"), py::arg("file") = "<string>",
      py::arg("extends") = std::vector<std::string>{}, py::arg("own_text") = "",
      "Parses (resolving extends:) and compiles a scenario; raises lcsim.ScenarioError. `extends` and "
      "`own_text` restore the provenance of a variant given by its resolved text.");
}

}  // namespace lcsim::python
