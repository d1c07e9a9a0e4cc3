// Translates lcsim exceptions into the Python classes of lcsim.errors, exactly once.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "lcsim/core/error.hpp"

namespace py = pybind11;

namespace lcsim::python {
namespace {

py::object error_class(const char* name) { return py::module_::import("lcsim.errors").attr(name); }

py::list problem_tuples(const std::vector<Problem>& problems) {
  py::list out;
  for (const auto& p : problems)
    out.append(py::make_tuple(p.file, p.line, p.field, p.message, p.warning));
  return out;
}

}  // namespace

void register_exceptions(py::module_& /*m*/) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      const py::object cls = error_class("ScenarioError");
      const py::object exc = cls(e.what(), problem_tuples(e.problems()));
      PyErr_SetObject(cls.ptr(), exc.ptr());
    } catch (const IoError& e) {
      const py::object cls = error_class("StudyError");
      PyErr_SetString(cls.ptr(), e.what());
    } catch (const Cancelled&) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });
}

}  // namespace lcsim::python
