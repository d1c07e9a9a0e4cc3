// lcsim._core: a thin 1:1 binding of the C++ library; conveniences live in python/lcsim/*.py.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "lcsim/core/version.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "lcsim C++ core (private; use the lcsim package)";
  m.attr("__version__") = lcsim::kVersion;
  m.attr("boost_version") = lcsim::kBoostVersion;
  lcsim::python::register_exceptions(m);
  lcsim::python::bind_model(m);
  lcsim::python::bind_run(m);
  lcsim::python::bind_io(m);
  lcsim::python::bind_analysis(m);
  lcsim::python::bind_calibrate(m);
}
