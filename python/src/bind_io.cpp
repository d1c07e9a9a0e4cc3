#include <pybind11/stl.h>

#include <memory>
#include <tuple>

#include "bindings.hpp"
#include "lcsim/io/study.hpp"

namespace py = pybind11;

namespace lcsim::python {

void bind_io(py::module_& m) {
  m.def("study_append", &Study::append, py::arg("path"), py::arg("run"), py::arg("name"),
        py::call_guard<py::gil_scoped_release>(), "Adds a run to a study file atomically.");
  m.def("study_runs", &Study::list_runs, py::arg("path"), py::call_guard<py::gil_scoped_release>(),
        "Names of the complete runs in a study.");
  m.def(
      "study_read",
      [](const std::string& path, const std::string& name) {
        return std::make_shared<Run>(Study::read_run(path, name));
      },
      py::arg("path"), py::arg("name"), py::call_guard<py::gil_scoped_release>(),
      "Reads a run back from a study.");
  m.def(
      "study_append_comparison",
      [](const std::string& path, const Comparison& c, const std::string& name) {
        Study::append_comparison(path, c, name);
      },
      py::arg("path"), py::arg("comparison"), py::arg("name"),
      py::call_guard<py::gil_scoped_release>(),
      "Adds a comparison (its runs, deltas and who-changed tables) atomically.");
  m.def("study_comparisons", &Study::list_comparisons, py::arg("path"),
        py::call_guard<py::gil_scoped_release>(), "Names of the comparisons in a study.");
  m.def(
      "study_read_comparison",
      [](const std::string& path, const std::string& name) {
        return std::make_shared<Comparison>(Study::read_comparison(path, name));
      },
      py::arg("path"), py::arg("name"), py::call_guard<py::gil_scoped_release>(),
      "Reads a comparison back.");
  m.def(
      "study_append_sweep",
      [](const std::string& path, const std::string& name, const std::string& design,
         const std::vector<std::string>& parameters,
         const std::vector<std::vector<std::string>>& values,
         const std::vector<std::shared_ptr<Run>>& runs) {
        Sweep sweep{design, parameters, {}};
        for (std::size_t i = 0; i < runs.size(); ++i)
          sweep.points.push_back(SweepPoint{values.at(i), *runs[i]});
        const py::gil_scoped_release release;
        Study::append_sweep(path, sweep, name);
      },
      py::arg("path"), py::arg("name"), py::arg("design"), py::arg("parameters"), py::arg("values"),
      py::arg("runs"), "Adds a sweep: one run per point, with its parameter values as JSON text.");
  m.def("study_sweeps", &Study::list_sweeps, py::arg("path"),
        py::call_guard<py::gil_scoped_release>(), "Names of the sweeps in a study.");
  m.def(
      "study_read_sweep",
      [](const std::string& path, const std::string& name) {
        Sweep sweep;
        {
          const py::gil_scoped_release release;
          sweep = Study::read_sweep(path, name);
        }
        std::vector<std::vector<std::string>> values;
        std::vector<std::shared_ptr<Run>> runs;
        for (auto& p : sweep.points) {
          values.push_back(p.values);
          runs.push_back(std::make_shared<Run>(std::move(p.run)));
        }
        return py::make_tuple(sweep.design, sweep.parameters, values, runs);
      },
      py::arg("path"), py::arg("name"), "Reads a sweep back: (design, parameters, values, runs).");
  m.def(
      "study_append_optimisation",
      [](const std::string& path, const std::string& name, const std::string& settings,
         const std::vector<std::string>& levers, const std::vector<std::string>& columns,
         const std::vector<
             std::tuple<int, std::string, std::vector<std::string>, std::vector<double>>>& trials,
         const std::string& chosen, const std::vector<std::string>& verdict,
         const Comparison& selection) {
        Optimisation o{settings, levers, columns, {}, chosen, verdict, selection};
        for (const auto& [number, phase, values, numbers] : trials) {
          o.trials.push_back(OptimisationTrial{number, phase, values, numbers});
        }
        const py::gil_scoped_release release;
        Study::append_optimisation(path, o, name);
      },
      py::arg("path"), py::arg("name"), py::arg("settings"), py::arg("levers"), py::arg("columns"),
      py::arg("trials"), py::arg("chosen"), py::arg("verdict"), py::arg("selection"),
      "Adds an optimisation: its trials (number, phase, lever values as JSON text, numbers), the chosen plan, "
      "the verdict and the selection comparison.");
  m.def("study_optimisations", &Study::list_optimisations, py::arg("path"),
        py::call_guard<py::gil_scoped_release>(), "Names of the optimisations in a study.");
  m.def(
      "study_read_optimisation",
      [](const std::string& path, const std::string& name) {
        Optimisation o;
        {
          const py::gil_scoped_release release;
          o = Study::read_optimisation(path, name);
        }
        py::list trials;
        for (const auto& t : o.trials)
          trials.append(py::make_tuple(t.number, t.phase, t.values, t.numbers));
        return py::make_tuple(o.settings, o.levers, o.columns, trials, o.chosen, o.verdict,
                              std::make_shared<Comparison>(std::move(o.selection)));
      },
      py::arg("path"), py::arg("name"),
      "Reads an optimisation back: (settings, levers, columns, trials, chosen, verdict, selection).");
  m.def("hdf5_version", &Study::hdf5_version,
        "Version of the HDF5 library the core is linked with.");
}

}  // namespace lcsim::python
