#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <atomic>
#include <memory>
#include <optional>

#include "bindings.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/run/run.hpp"
#include "lcsim/run/run_arrays.hpp"
#include "numpy_owner.hpp"

namespace py = pybind11;

namespace lcsim::python {
namespace {

using Shape = std::vector<py::ssize_t>;

py::ssize_t ssize(std::size_t n) { return static_cast<py::ssize_t>(n); }

/// Simulates with the GIL released. Every 100 ms the calling thread takes the GIL back briefly to
/// check for Ctrl-C and to call `progress(customers, replications_done)`; either raising stops the
/// workers within a fraction of a second and the exception propagates, with no Run returned.
std::shared_ptr<Run> simulate_py(const Model& model, int replications, std::optional<std::uint64_t> seed,
                                 int threads, bool events, const std::string& name, const py::object& progress) {
  std::atomic<bool> cancel{false};
  std::unique_ptr<py::error_already_set> python_error;
  RunOptions options;
  options.replications = replications;
  options.has_seed = seed.has_value();
  options.seed = seed.value_or(0);
  options.threads = threads;
  options.events = events;
  options.name = name;
  options.cancel = &cancel;
  options.on_progress = [&](std::int64_t customers, int done) noexcept {
    const py::gil_scoped_acquire gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!progress.is_none()) progress(customers, done);
    } catch (py::error_already_set& e) {
      if (!python_error) python_error = std::make_unique<py::error_already_set>(std::move(e));
      cancel = true;
    }
  };
  std::shared_ptr<Run> run;
  {
    const py::gil_scoped_release release;
    try {
      run = std::make_shared<Run>(simulate(model, options));
    } catch (const Cancelled&) {
      if (!python_error) throw;
    }
  }
  if (python_error) throw *python_error;
  return run;
}

py::dict arrays_of(const Run& run) {
  RunArrays a = pack(run);
  const auto r = ssize(a.replications);
  const auto t = ssize(a.reports);
  const auto s = ssize(a.stages);
  py::dict out;
  out["replication"] = to_numpy(std::move(a.replication), Shape{r});
  out["occupancy"] = to_numpy(std::move(a.occupancy), Shape{r, t, s});
  out["transitions"] = to_numpy(std::move(a.transitions), Shape{r, s, s});
  out["reached"] = to_numpy(std::move(a.reached), Shape{r, s});
  out["touchpoints"] = to_numpy(std::move(a.touchpoint_tallies), Shape{r, ssize(a.touchpoints), 4});
  out["metrics"] = to_numpy(std::move(a.metric_values), Shape{r, ssize(a.metrics)});
  return out;
}

py::dict events_of(const Run& run) {
  EventColumns c = event_columns(run);
  const auto n = ssize(c.time.size());
  py::dict out;
  out["replication"] = to_numpy(std::move(c.replication), Shape{n});
  out["customer"] = to_numpy(std::move(c.customer), Shape{n});
  out["time"] = to_numpy(std::move(c.time), Shape{n});
  out["from"] = to_numpy(std::move(c.from), Shape{n});
  out["to"] = to_numpy(std::move(c.to), Shape{n});
  out["cause"] = to_numpy(std::move(c.cause), Shape{n});
  return out;
}

py::dict summary_of(const Run& run) {
  py::list metric;
  std::vector<double> mean, sd, lo, hi;
  std::vector<std::int64_t> n;
  for (const auto& row : run.summary) {
    metric.append(row.metric);
    mean.push_back(row.mean);
    sd.push_back(row.std);
    lo.push_back(row.ci_low);
    hi.push_back(row.ci_high);
    n.push_back(row.n);
  }
  const Shape shape{ssize(run.summary.size())};
  py::dict out;
  out["metric"] = metric;
  out["mean"] = to_numpy(std::move(mean), shape);
  out["std"] = to_numpy(std::move(sd), shape);
  out["ci_low"] = to_numpy(std::move(lo), shape);
  out["ci_high"] = to_numpy(std::move(hi), shape);
  out["n"] = to_numpy(std::move(n), shape);
  return out;
}

}  // namespace

void bind_run(py::module_& m) {
  py::class_<RunInfo>(m, "RunInfo", "Provenance and labels of a run.")
      .def_readonly("name", &RunInfo::name)
      .def_readonly("scenario_name", &RunInfo::scenario_name)
      .def_readonly("scenario_text", &RunInfo::scenario_text)
      .def_readonly("scenario_file", &RunInfo::scenario_file)
      .def_readonly("seed", &RunInfo::seed)
      .def_readonly("replications", &RunInfo::replications)
      .def_readonly("lcsim_version", &RunInfo::lcsim_version)
      .def_readonly("boost_version", &RunInfo::boost_version)
      .def_readonly("created", &RunInfo::created)
      .def_readonly("stage_names", &RunInfo::stage_names)
      .def_readonly("segment_names", &RunInfo::segment_names)
      .def_readonly("touchpoint_names", &RunInfo::touchpoint_names)
      .def_readonly("metric_names", &RunInfo::metric_names)
      .def_readonly("cause_names", &RunInfo::cause_names)
      .def_readonly("report_times", &RunInfo::report_times)
      .def_readonly("won", &RunInfo::won);

  py::class_<Run, std::shared_ptr<Run>>(m, "Run", "Results of R replications (see lcsim.Run).")
      .def_readonly("info", &Run::info)
      .def_readonly("has_events", &Run::has_events)
      .def("arrays", &arrays_of, "Replication-major numpy arrays (no copy beyond packing).")
      .def("events", &events_of, "The event log as numpy columns.")
      .def("summary", &summary_of, "Summary columns: metric, mean, std, ci_low, ci_high, n.");

  m.def("simulate", &simulate_py, py::arg("model"), py::arg("replications") = 0, py::arg("seed") = py::none(),
        py::arg("threads") = 0, py::arg("events") = false, py::arg("name") = "", py::arg("progress") = py::none(),
        "Simulates R replications in parallel threads with the GIL released; Ctrl-C stops it.");
}

}  // namespace lcsim::python
