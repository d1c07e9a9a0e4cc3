#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "bindings.hpp"
#include "lcsim/core/error.hpp"
#include "lcsim/run/compare.hpp"
#include "lcsim/run/run.hpp"
#include "lcsim/run/run_arrays.hpp"
#include "numpy_owner.hpp"

namespace py = pybind11;

namespace lcsim::python {
namespace {

using Shape = std::vector<py::ssize_t>;

py::ssize_t ssize(std::size_t n) { return static_cast<py::ssize_t>(n); }

/// Runs `work(cancel, on_progress)` with the GIL released. Every 100 ms the calling thread takes
/// the GIL back briefly to check for Ctrl-C and to call `progress(customers, replications_done)`;
/// either raising stops the workers within a fraction of a second and the exception propagates.
template <class Work>
auto interruptible(const py::object& progress, Work&& work) {
  std::atomic<bool> cancel{false};
  std::unique_ptr<py::error_already_set> python_error;
  const std::function<void(std::int64_t, int)> on_progress = [&](std::int64_t customers,
                                                                 int done) noexcept {
    const py::gil_scoped_acquire gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!progress.is_none()) progress(customers, done);
    } catch (py::error_already_set& e) {
      if (!python_error) python_error = std::make_unique<py::error_already_set>(std::move(e));
      cancel = true;
    }
  };
  decltype(work(&cancel, on_progress)) result;
  {
    const py::gil_scoped_release release;
    try {
      result = work(&cancel, on_progress);
    } catch (const Cancelled&) {
      if (!python_error) throw;
    }
  }
  if (python_error) throw *python_error;
  return result;
}

std::shared_ptr<Run> simulate_py(const Model& model, int replications,
                                 std::optional<std::uint64_t> seed, int threads, bool events,
                                 const std::string& name, const py::object& progress,
                                 int first_replication) {
  RunOptions options;
  options.replications = replications;
  options.first_replication = first_replication;
  options.has_seed = seed.has_value();
  options.seed = seed.value_or(0);
  options.threads = threads;
  options.events = events;
  options.name = name;
  return interruptible(progress, [&](const std::atomic<bool>* cancel, const auto& on_progress) {
    options.cancel = cancel;
    options.on_progress = on_progress;
    return std::make_shared<Run>(simulate(model, options));
  });
}

std::shared_ptr<Comparison> compare_py(const Model& base,
                                       const std::vector<std::shared_ptr<Model>>& variants,
                                       CompareOptions options, std::optional<std::uint64_t> seed,
                                       const py::object& progress) {
  std::vector<const Model*> pointers;
  for (const auto& v : variants) pointers.push_back(v.get());
  options.has_seed = seed.has_value();
  options.seed = seed.value_or(0);
  return interruptible(progress, [&](const std::atomic<bool>* cancel, const auto& on_progress) {
    options.cancel = cancel;
    options.on_progress = on_progress;
    return std::make_shared<Comparison>(compare(base, pointers, options));
  });
}

/// Column `name` of a dict of numpy arrays as a std::vector (one copy).
template <class T>
std::vector<T> column(const py::dict& d, const char* name) {
  const auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(d[name]);
  if (!a) throw py::value_error(std::string("column ") + name + " is not an array");
  return {a.data(), a.data() + a.size()};
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
  out["queue_length"] = to_numpy(std::move(a.queue_length), Shape{r, t, ssize(a.resources)});
  out["queue_wait"] = to_numpy(std::move(a.queue_wait), Shape{r, t, ssize(a.resources)});
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

RunArrays arrays_from(const py::dict& d, const RunInfo& info) {
  RunArrays a;
  a.replication = column<std::int32_t>(d, "replication");
  a.occupancy = column<std::int64_t>(d, "occupancy");
  a.transitions = column<std::int64_t>(d, "transitions");
  a.reached = column<std::int64_t>(d, "reached");
  a.touchpoint_tallies = column<double>(d, "touchpoints");
  a.metric_values = column<double>(d, "metrics");
  if (d.contains("queue_length")) a.queue_length = column<std::int64_t>(d, "queue_length");
  if (d.contains("queue_wait")) a.queue_wait = column<double>(d, "queue_wait");
  a.replications = a.replication.size();
  a.stages = info.stage_names.size();
  a.reports = info.report_times.size();
  a.touchpoints = info.touchpoint_names.size();
  a.metrics = info.metric_names.size();
  a.resources = info.resource_names.size();
  return a;
}

/// The parameter draws of a run with uncertainty as a dict (parameters, values [R, P], inner,
/// source, note), or None.
py::object draws_of(const Run& run) {
  if (!run.parameter_draws) return py::none();
  const ParameterDraws& d = *run.parameter_draws;
  py::dict out;
  out["parameters"] = d.parameters;
  std::vector<double> values = d.values;
  out["values"] = to_numpy(std::move(values),
                           Shape{ssize(run.replications.size()), ssize(d.parameters.size())});
  out["inner"] = d.inner;
  out["source"] = d.source;
  out["note"] = d.note;
  return out;
}

ParameterDraws draws_from(const py::dict& d, std::size_t replications) {
  ParameterDraws out;
  out.parameters = d["parameters"].cast<std::vector<std::string>>();
  const auto values =
      py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(d["values"]);
  if (!values || static_cast<std::size_t>(values.size()) != replications * out.parameters.size()) {
    throw py::value_error("parameter draws: expected values of shape [replications, parameters]");
  }
  out.values.assign(values.data(), values.data() + values.size());
  out.inner = d["inner"].cast<int>();
  if (out.inner < 1 || replications % static_cast<std::size_t>(out.inner) != 0) {
    throw py::value_error("parameter draws: inner must divide the replications");
  }
  out.source = d["source"].cast<std::string>();
  out.note = d["note"].cast<std::string>();
  return out;
}

std::shared_ptr<Run> run_from_state(const py::tuple& state) {
  if (state.size() != 3 && state.size() != 4) throw py::value_error("bad Run state");
  const auto info = state[0].cast<RunInfo>();
  const RunArrays a = arrays_from(state[1].cast<py::dict>(), info);
  std::shared_ptr<Run> run;
  if (state[2].is_none()) {
    run = std::make_shared<Run>(unpack(info, a, nullptr));
  } else {
    const auto e = state[2].cast<py::dict>();
    const EventColumns events{column<std::int32_t>(e, "replication"),
                              column<std::int64_t>(e, "customer"),
                              column<double>(e, "time"),
                              column<std::int16_t>(e, "from"),
                              column<std::int16_t>(e, "to"),
                              column<std::int16_t>(e, "cause")};
    run = std::make_shared<Run>(unpack(info, a, &events));
  }
  if (state.size() == 4 && !state[3].is_none()) {
    run->parameter_draws = draws_from(state[3].cast<py::dict>(), run->replications.size());
  }
  return run;
}

/// One run of `model`'s labels from runs of drawn variants of it (replications in the given
/// order), carrying the draw of each replication.
std::shared_ptr<Run> assemble_drawn_run(const Model& model,
                                        const std::vector<std::shared_ptr<Run>>& parts,
                                        const std::string& name, std::uint64_t seed,
                                        const py::dict& draws) {
  std::vector<ReplicationResult> reps;
  bool has_events = !parts.empty();
  for (const auto& p : parts) has_events = has_events && p->has_events;
  for (const auto& p : parts) {
    if (p->info.metric_names != parts.front()->info.metric_names ||
        p->info.stage_names != parts.front()->info.stage_names) {
      throw InternalError("assemble_drawn_run: parts with different stages or metrics");
    }
    for (const auto& r : p->replications) {
      reps.push_back(r);
      if (!has_events) reps.back().events.clear();
    }
  }
  Run run = assemble_run(model, name, seed, std::move(reps), has_events);
  if (run.info.metric_names != parts.front()->info.metric_names) {
    throw InternalError("assemble_drawn_run: the model's metrics differ from the parts'");
  }
  run.parameter_draws = draws_from(draws, run.replications.size());
  return std::make_shared<Run>(std::move(run));
}

/// A comparison of runs already simulated, with its deltas given (columns as deltas_of makes them).
std::shared_ptr<Comparison> make_comparison(const std::shared_ptr<Run>& base,
                                            const std::vector<std::shared_ptr<Run>>& variants,
                                            const std::vector<py::dict>& deltas,
                                            const std::vector<std::string>& verdicts,
                                            const std::vector<std::vector<std::string>>& changed) {
  if (deltas.size() != variants.size() || verdicts.size() != variants.size() ||
      changed.size() != variants.size()) {
    throw py::value_error(
        "make_comparison: one deltas table, verdict and changed list per variant");
  }
  auto c = std::make_shared<Comparison>();
  c->base = *base;
  c->replications = static_cast<int>(base->replications.size());
  for (std::size_t k = 0; k < variants.size(); ++k) {
    VariantComparison v;
    v.run = *variants[k];
    v.changed_touchpoints = changed[k];
    v.verdict = verdicts[k];
    const py::dict& d = deltas[k];
    const auto metric = d["metric"].cast<std::vector<std::string>>();
    const auto col = [&](const char* name) { return d[name].cast<std::vector<double>>(); };
    const auto base_mean = col("base_mean"), variant_mean = col("variant_mean"),
               delta = col("delta"), delta_std = col("delta_std"), ci_low = col("ci_low"),
               ci_high = col("ci_high"), lift = col("lift"), lift_low = col("lift_ci_low"),
               lift_high = col("lift_ci_high"), reduction = col("variance_reduction");
    const auto n = d["n"].cast<std::vector<std::int64_t>>();
    for (std::size_t i = 0; i < metric.size(); ++i) {
      v.deltas.push_back(DeltaRow{metric[i], base_mean.at(i), variant_mean.at(i), delta.at(i),
                                  delta_std.at(i), ci_low.at(i), ci_high.at(i), lift.at(i),
                                  lift_low.at(i), lift_high.at(i), reduction.at(i), n.at(i)});
    }
    c->variants.push_back(std::move(v));
  }
  return c;
}

py::tuple info_state(const RunInfo& i) {
  return py::make_tuple(i.name, i.scenario_name, i.scenario_text, i.scenario_file, i.seed,
                        i.replications, i.lcsim_version, i.boost_version, i.created, i.stage_names,
                        i.segment_names, i.touchpoint_names, i.metric_names, i.cause_names,
                        i.report_times, i.won, i.resource_names, i.scenario_extends,
                        i.scenario_own_text);
}

RunInfo info_from_state(const py::tuple& t) {
  // 16 fields before resources existed; resource_names came 17th, a variant's provenance 18th and 19th
  if (t.size() != 16 && t.size() != 17 && t.size() != 19)
    throw py::value_error("bad RunInfo state");
  RunInfo i;
  i.name = t[0].cast<std::string>();
  i.scenario_name = t[1].cast<std::string>();
  i.scenario_text = t[2].cast<std::string>();
  i.scenario_file = t[3].cast<std::string>();
  i.seed = t[4].cast<std::uint64_t>();
  i.replications = t[5].cast<int>();
  i.lcsim_version = t[6].cast<std::string>();
  i.boost_version = t[7].cast<std::string>();
  i.created = t[8].cast<std::string>();
  i.stage_names = t[9].cast<std::vector<std::string>>();
  i.segment_names = t[10].cast<std::vector<std::string>>();
  i.touchpoint_names = t[11].cast<std::vector<std::string>>();
  i.metric_names = t[12].cast<std::vector<std::string>>();
  i.cause_names = t[13].cast<std::vector<std::string>>();
  i.report_times = t[14].cast<std::vector<double>>();
  i.won = t[15].cast<std::string>();
  if (t.size() > 16) i.resource_names = t[16].cast<std::vector<std::string>>();
  if (t.size() > 17) {
    i.scenario_extends = t[17].cast<std::vector<std::string>>();
    i.scenario_own_text = t[18].cast<std::string>();
  }
  return i;
}

py::dict deltas_of(const VariantComparison& v) {
  py::list metric;
  std::vector<std::vector<double>> cols(11);
  std::vector<std::int64_t> n;
  for (const auto& d : v.deltas) {
    metric.append(d.metric);
    const double values[] = {d.base_mean,    d.variant_mean,      d.delta, d.delta_std,
                             d.ci_low,       d.ci_high,           d.lift,  d.lift_ci_low,
                             d.lift_ci_high, d.variance_reduction};
    for (std::size_t c = 0; c < 10; ++c) cols[c].push_back(values[c]);
    n.push_back(d.n);
  }
  const char* names[] = {"base_mean",    "variant_mean",      "delta", "delta_std",
                         "ci_low",       "ci_high",           "lift",  "lift_ci_low",
                         "lift_ci_high", "variance_reduction"};
  const Shape shape{ssize(v.deltas.size())};
  py::dict out;
  out["metric"] = metric;
  for (std::size_t c = 0; c < 10; ++c) out[names[c]] = to_numpy(std::move(cols[c]), shape);
  out["n"] = to_numpy(std::move(n), shape);
  return out;
}

py::dict changes_of(const VariantComparison& v) {
  py::list segment;
  py::list reached_in;
  std::vector<std::vector<std::int64_t>> cols(5);
  for (const auto& c : v.changes) {
    segment.append(c.segment);
    reached_in.append(c.reached_in.empty() ? py::object(py::none())
                                           : py::object(py::str(c.reached_in)));
    const std::int64_t values[] = {c.customers, c.converted_base, c.converted_variant, c.gained,
                                   c.lost};
    for (std::size_t i = 0; i < 5; ++i) cols[i].push_back(values[i]);
  }
  const char* names[] = {"customers", "converted_base", "converted_variant", "gained", "lost"};
  const Shape shape{ssize(v.changes.size())};
  py::dict out;
  out["segment"] = segment;
  out["reached_in"] = reached_in;
  for (std::size_t i = 0; i < 5; ++i) out[names[i]] = to_numpy(std::move(cols[i]), shape);
  return out;
}

}  // namespace

void bind_run(py::module_& m) {
  py::class_<RunInfo>(m, "RunInfo", "Provenance and labels of a run.")
      .def_readonly("name", &RunInfo::name)
      .def_readonly("scenario_name", &RunInfo::scenario_name)
      .def_readonly("scenario_text", &RunInfo::scenario_text)
      .def_readonly("scenario_file", &RunInfo::scenario_file)
      .def_readonly("scenario_extends", &RunInfo::scenario_extends,
                    "a variant's base files, nearest first (empty for a scenario in one file)")
      .def_readonly("scenario_own_text", &RunInfo::scenario_own_text,
                    "a variant's own text (scenario_text is the resolved scenario)")
      .def_readonly("seed", &RunInfo::seed)
      .def_readonly("replications", &RunInfo::replications)
      .def_readonly("lcsim_version", &RunInfo::lcsim_version)
      .def_readonly("boost_version", &RunInfo::boost_version)
      .def_readonly("created", &RunInfo::created)
      .def_readonly("stage_names", &RunInfo::stage_names)
      .def_readonly("segment_names", &RunInfo::segment_names)
      .def_readonly("touchpoint_names", &RunInfo::touchpoint_names)
      .def_readonly("resource_names", &RunInfo::resource_names)
      .def_readonly("metric_names", &RunInfo::metric_names)
      .def_readonly("cause_names", &RunInfo::cause_names)
      .def_readonly("report_times", &RunInfo::report_times)
      .def_readonly("won", &RunInfo::won)
      .def(py::pickle(&info_state, &info_from_state));

  py::class_<Run, std::shared_ptr<Run>>(m, "Run", "Results of R replications (see lcsim.Run).")
      .def_readonly("info", &Run::info)
      .def_readonly("has_events", &Run::has_events)
      .def_property_readonly(
          "parameter_draws", &draws_of,
          "Runs with parameter uncertainty: dict(parameters, values [R, P], inner, source, note); else None.")
      .def(
          "arrays", &arrays_of,
          "Replication-major numpy arrays (no copy beyond packing): replication, occupancy, transitions, "
          "reached, touchpoints, metrics, queue_length [R,T,Q], queue_wait [R,T,Q].")
      .def("events", &events_of, "The event log as numpy columns.")
      .def("summary", &summary_of, "Summary columns: metric, mean, std, ci_low, ci_high, n.")
      .def(py::pickle(
          [](const Run& r) {
            return py::make_tuple(r.info, arrays_of(r),
                                  r.has_events ? py::object(events_of(r)) : py::object(py::none()),
                                  draws_of(r));
          },
          &run_from_state));

  m.def(
      "resource_metric_names", &resource_metric_names,
      "Per-resource metrics, in order: the <metric> of the 'resource.<name>.<metric>' metric names.");

  m.def("t95_factor", &t95_factor, py::arg("n"),
        "Student-t factor of a 95% CI of a mean of n values (NaN when n < 2).");

  m.def("join_batches", &join_batches, py::arg("batches"), py::call_guard<py::gil_scoped_release>(),
        "Joins replication batches of one scenario and seed into one Run.");

  py::class_<VariantComparison>(m, "VariantComparison",
                                "One variant against the base (see lcsim.Comparison).")
      .def_property_readonly(
          "run", [](const VariantComparison& v) { return std::make_shared<Run>(v.run); })
      .def_readonly("changed_touchpoints", &VariantComparison::changed_touchpoints)
      .def_readonly("verdict", &VariantComparison::verdict)
      .def("deltas", &deltas_of, "Delta columns per metric.")
      .def("changes", &changes_of, "Who-changed columns.");

  py::class_<Comparison, std::shared_ptr<Comparison>>(m, "Comparison",
                                                      "A paired comparison (see lcsim.Comparison).")
      .def_property_readonly("base",
                             [](const Comparison& c) { return std::make_shared<Run>(c.base); })
      .def_readonly("variants", &Comparison::variants)
      .def_readonly("replications", &Comparison::replications)
      .def_readonly("precision", &Comparison::precision)
      .def_readonly("precision_met", &Comparison::precision_met)
      .def_readonly("precision_metrics", &Comparison::precision_metrics);

  m.def(
      "compare",
      [](const Model& base, const std::vector<std::shared_ptr<Model>>& variants, int replications,
         double precision, std::vector<std::string> precision_metrics, bool precision_on_delta,
         int batch, int max_replications, std::optional<std::uint64_t> seed, int threads,
         bool independent, bool who_changed, const py::object& progress) {
        CompareOptions o;
        o.replications = replications;
        o.precision = precision;
        o.precision_metrics = std::move(precision_metrics);
        o.precision_on_delta = precision_on_delta;
        o.batch = batch;
        o.max_replications = max_replications;
        o.threads = threads;
        o.measure_independent = independent;
        o.who_changed = who_changed;
        return compare_py(base, variants, o, seed, progress);
      },
      py::arg("base"), py::arg("variants"), py::arg("replications") = 0, py::arg("precision") = 0.0,
      py::arg("precision_metrics") = std::vector<std::string>{"conversions"},
      py::arg("precision_on_delta") = true, py::arg("batch") = 10,
      py::arg("max_replications") = 1000, py::arg("seed") = py::none(), py::arg("threads") = 0,
      py::arg("independent") = true, py::arg("who_changed") = true,
      py::arg("progress") = py::none(),
      "Paired comparison with common random numbers; GIL released, Ctrl-C stops it.");

  m.def(
      "assemble_drawn_run", &assemble_drawn_run, py::arg("model"), py::arg("parts"),
      py::arg("name"), py::arg("seed"), py::arg("draws"),
      "One run (labels and scenario of `model`) of runs of drawn variants, with each replication's draw.");
  m.def("make_comparison", &make_comparison, py::arg("base"), py::arg("variants"),
        py::arg("deltas"), py::arg("verdicts"), py::arg("changed_touchpoints"),
        "A comparison of runs already simulated, its deltas given.");
  m.def(
      "simulate", &simulate_py, py::arg("model"), py::arg("replications") = 0,
      py::arg("seed") = py::none(), py::arg("threads") = 0, py::arg("events") = false,
      py::arg("name") = "", py::arg("progress") = py::none(), py::arg("first_replication") = 0,
      "Simulates R replications in parallel threads (large ones split over them) with the GIL released; "
      "Ctrl-C stops it.");
}

}  // namespace lcsim::python
