// Private to the Python module: one bind_* function per library module.
#pragma once

#include <pybind11/pybind11.h>

namespace lcsim::python {

void register_exceptions(pybind11::module_& m);
void bind_model(pybind11::module_& m);
void bind_run(pybind11::module_& m);
void bind_io(pybind11::module_& m);
void bind_analysis(pybind11::module_& m);
void bind_calibrate(pybind11::module_& m);

}  // namespace lcsim::python
