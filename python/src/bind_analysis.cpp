// Binding of analysis/markov.hpp: the closed form of a scenario's Markov part and its elasticities.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "lcsim/analysis/markov.hpp"
#include "numpy_owner.hpp"

namespace py = pybind11;

namespace lcsim::python {
namespace {

using Shape = std::vector<py::ssize_t>;

/// A read-only numpy view of one per-stage vector, kept alive by the analysis object (no copy).
py::array_t<double> stage_view(const py::object& self,
                               std::vector<double> MarkovAnalysis::*member) {
  auto& analysis = self.cast<MarkovAnalysis&>();
  const std::vector<double>& v = analysis.*member;
  py::array_t<double> out(Shape{static_cast<py::ssize_t>(v.size())}, v.data(), self);
  out.attr("setflags")(py::arg("write") = false);
  return out;
}

py::object name_or_none(const std::vector<std::string>& names, int index) {
  return index < 0 ? py::none() : py::object(py::str(names[static_cast<std::size_t>(index)]));
}

py::dict sensitivity_of(const MarkovAnalysis& a) {
  py::list parameter, kind, segment, stage, target;
  std::vector<double> value, conversion, time;
  std::vector<std::int32_t> rank;
  for (const Sensitivity& s : a.sensitivity) {
    parameter.append(s.parameter);
    kind.append(to_string(s.kind));
    segment.append(a.segment_names[static_cast<std::size_t>(s.segment)]);
    stage.append(a.stage_names[static_cast<std::size_t>(s.stage)]);
    target.append(name_or_none(a.stage_names, s.target));
    value.push_back(s.value);
    conversion.push_back(s.elasticity_conversion);
    time.push_back(s.elasticity_time);
    rank.push_back(s.rank);
  }
  const Shape shape{static_cast<py::ssize_t>(a.sensitivity.size())};
  py::dict out;
  out["parameter"] = parameter;
  out["kind"] = kind;
  out["segment"] = segment;
  out["stage"] = stage;
  out["target"] = target;
  out["value"] = to_numpy(std::move(value), shape);
  out["elasticity_conversion"] = to_numpy(std::move(conversion), shape);
  out["elasticity_time"] = to_numpy(std::move(time), shape);
  out["rank"] = to_numpy(std::move(rank), shape);
  return out;
}

py::dict starts_of(const MarkovAnalysis& a) {
  py::list segment, start;
  std::vector<double> weight, conversion, time, absorption;
  for (const StartResult& s : a.starts) {
    segment.append(a.segment_names[static_cast<std::size_t>(s.segment)]);
    start.append(a.stage_names[static_cast<std::size_t>(s.start)]);
    weight.push_back(s.weight);
    conversion.push_back(s.conversion_probability);
    time.push_back(s.time_to_convert);
    absorption.push_back(s.time_to_absorption);
  }
  const Shape shape{static_cast<py::ssize_t>(a.starts.size())};
  py::dict out;
  out["segment"] = segment;
  out["start"] = start;
  out["weight"] = to_numpy(std::move(weight), shape);
  out["conversion_probability"] = to_numpy(std::move(conversion), shape);
  out["time_to_convert"] = to_numpy(std::move(time), shape);
  out["time_to_absorption"] = to_numpy(std::move(absorption), shape);
  return out;
}

}  // namespace

void bind_analysis(py::module_& m) {
  py::class_<MarkovAnalysis, std::shared_ptr<MarkovAnalysis>>(
      m, "MarkovAnalysis", "Closed form of a scenario's Markov part (see lcsim.analyze).")
      .def_readonly("stage_names", &MarkovAnalysis::stage_names)
      .def_readonly("segment_names", &MarkovAnalysis::segment_names)
      .def_readonly("won", &MarkovAnalysis::won)
      .def_readonly("description", &MarkovAnalysis::description)
      .def_readonly("conversion_probability", &MarkovAnalysis::conversion_probability)
      .def_readonly("time_to_convert", &MarkovAnalysis::time_to_convert)
      .def_readonly("time_to_absorption", &MarkovAnalysis::time_to_absorption)
      .def_readonly("customers", &MarkovAnalysis::customers)
      .def_readonly("notes", &MarkovAnalysis::notes)
      .def_property_readonly(
          "reach_probability",
          [](const py::object& self) {
            return stage_view(self, &MarkovAnalysis::reach_probability);
          },
          "[S] P(the stage is ever entered), read-only view.")
      .def_property_readonly(
          "expected_visits",
          [](const py::object& self) { return stage_view(self, &MarkovAnalysis::expected_visits); },
          "[S] expected entries (inf for stages never left), read-only view.")
      .def_property_readonly(
          "expected_days",
          [](const py::object& self) { return stage_view(self, &MarkovAnalysis::expected_days); },
          "[S] expected days in the stage (NaN for absorbing), read-only view.")
      .def_property_readonly(
          "mean_dwell",
          [](const py::object& self) { return stage_view(self, &MarkovAnalysis::mean_dwell); },
          "[S] mean dwell (NaN for absorbing), read-only view.")
      .def(
          "sensitivity", &sensitivity_of,
          "Columns parameter, kind, segment, stage, target, value, elasticity_conversion, elasticity_time, rank.")
      .def(
          "starts", &starts_of,
          "Columns segment, start, weight, conversion_probability, time_to_convert, time_to_absorption.");

  m.def(
      "analyze_markov",
      [](const Model& model, const std::string& segment, const std::string& start) {
        return std::make_shared<MarkovAnalysis>(analyze(model, segment, start));
      },
      py::arg("model"), py::arg("segment") = "", py::arg("start") = "",
      "Closed form and elasticities of the Markov part; empty names mean the whole population. "
      "Raises lcsim.ScenarioError for an unknown segment or stage.");
  m.def(
      "without_touchpoints",
      [](const Model& model) { return std::make_shared<Model>(without_touchpoints(model)); },
      py::arg("model"),
      "A copy of the model without touchpoints (the part the closed form describes).");
}

}  // namespace lcsim::python
