#include <pybind11/stl.h>

#include <memory>

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
      "study_read", [](const std::string& path, const std::string& name) { return std::make_shared<Run>(Study::read_run(path, name)); },
      py::arg("path"), py::arg("name"), py::call_guard<py::gil_scoped_release>(), "Reads a run back from a study.");
  m.def("hdf5_version", &Study::hdf5_version, "Version of the HDF5 library the core is linked with.");
}

}  // namespace lcsim::python
