// Calibration from CRM history (stage-change logs, snapshots, funnel counts) and synthetic history, as plain
// Python data (dicts of lists); python/lcsim/calibration.py turns them into DataFrames.
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <sstream>

#include "bindings.hpp"
#include "lcsim/calibrate/calibrate.hpp"
#include "lcsim/calibrate/funnel_fit.hpp"
#include "lcsim/calibrate/history.hpp"
#include "lcsim/calibrate/phase_fit.hpp"
#include "lcsim/calibrate/snapshot_calibration.hpp"
#include "lcsim/calibrate/snapshot_fit.hpp"
#include "lcsim/calibrate/synth.hpp"
#include "lcsim/io/scenario_yaml.hpp"

namespace py = pybind11;

namespace lcsim::python {
namespace {

py::list problem_list(const std::vector<Problem>& problems) {
  py::list out;
  for (const auto& p : problems)
    out.append(py::make_tuple(p.file, p.line, p.field, p.message, p.warning));
  return out;
}

py::list estimate_list(const std::vector<EstimateRow>& rows) {
  py::list out;
  for (const auto& r : rows) {
    out.append(py::make_tuple(r.parameter, r.estimate, r.ci_low, r.ci_high, r.n, r.method, r.p_zero,
                              r.note));
  }
  return out;
}

/// A CSV input given as a path (is_text false: read(path)) or as text (parse(stream)).
template <class Parse, class Read>
auto read_source(const std::string& source, bool is_text, Parse parse, Read read) {
  if (!is_text) return read(source);
  std::istringstream in(source);
  return parse(in);
}

/// The reading options of a stage-change log, as lcsim.calibrate and lcsim.check_events give them
/// (checked there); hints in messages name the Python keywords.
LogOptions log_options_of(const std::string& segment_column, const std::string& censor_at,
                          const std::map<std::string, std::string>& stage_map,
                          const std::vector<std::string>& stages,
                          const std::vector<std::string>& absorbing, const std::string& epoch,
                          bool drop_duplicates, bool drop_invalid,
                          const std::map<std::string, std::string>& columns,
                          const std::string& separator, const std::string& date_format) {
  LogOptions log_options;
  log_options.segment_column = segment_column;
  log_options.censor_at = censor_at;
  log_options.stage_map = stage_map;
  log_options.stages = stages;
  log_options.absorbing = absorbing;
  log_options.epoch = epoch;
  log_options.drop_duplicates = drop_duplicates;
  log_options.drop_invalid = drop_invalid;
  log_options.spelling = OptionSpelling::kPython;
  for (const auto& [key, column] : columns) {
    if (key == "customer_id") log_options.customer_column = column;
    if (key == "timestamp") log_options.time_column = column;
    if (key == "stage") log_options.stage_column = column;
    if (key == "segment") log_options.segment_column = column;
  }
  if (!separator.empty()) log_options.separator = separator.front();
  if (date_format == "dmy") log_options.date_order = DateOrder::kDayFirst;
  if (date_format == "mdy") log_options.date_order = DateOrder::kMonthFirst;
  return log_options;
}

py::list cleaning_list(const std::vector<CleaningStep>& cleaning) {
  py::list steps;
  for (const auto& s : cleaning) {
    steps.append(py::make_tuple(s.defect, s.column, s.rows, s.customers, s.lines, s.action,
                                s.detail, s.error));
  }
  return steps;
}

py::list stage_count_list(const std::vector<StageCount>& counts) {
  py::list out;
  for (const auto& c : counts) out.append(py::make_tuple(c.stage, c.rows, c.customers, c.rare));
  return out;
}

/// Reads a stage-change log without fitting, its errors returned rather than raised (the CLI's
/// --dry-run): the counts, the stages found, every class of defect, the warnings and the errors.
py::dict check_events(const std::string& source, bool is_text, const std::string& file,
                      const std::string& segment_column, const std::string& censor_at,
                      const std::map<std::string, std::string>& stage_map,
                      const std::vector<std::string>& stages,
                      const std::vector<std::string>& absorbing, const std::string& epoch,
                      bool drop_duplicates, bool drop_invalid,
                      const std::map<std::string, std::string>& columns,
                      const std::string& separator, const std::string& date_format) {
  LogOptions log_options =
      log_options_of(segment_column, censor_at, stage_map, stages, absorbing, epoch,
                     drop_duplicates, drop_invalid, columns, separator, date_format);
  log_options.collect_errors = true;
  EventLog log;
  {
    const py::gil_scoped_release release;
    log = read_source(
        source, is_text, [&](std::istream& in) { return parse_event_log(in, file, log_options); },
        [&](const std::string& path) { return read_event_log(path, log_options); });
  }
  py::dict out;
  out["file"] = log.file;
  out["rows"] = log.rows;
  out["rows_used"] = log.rows_used;
  out["customers"] = log.customers.size();
  out["epoch"] = log.epoch;
  out["window"] = py::make_tuple(log.first_time, log.censor_at);
  out["stages"] = log.stages;
  out["segments"] = log.segments;
  out["stage_counts"] = stage_count_list(log.stage_counts);
  out["cleaning"] = cleaning_list(log.cleaning);
  out["warnings"] = problem_list(log.warnings);
  out["errors"] = problem_list(log.errors);
  return out;
}

/// Calibrates a stage-change log given as a path (is_text false) or as CSV text named `file`.
py::dict calibrate_events(const std::string& source, bool is_text, const std::string& file,
                          const std::string& segment_column, const std::string& censor_at,
                          const std::map<std::string, std::string>& stage_map,
                          const std::vector<std::string>& absorbing, const std::string& epoch,
                          bool drop_duplicates, const std::string& won, const std::string& name,
                          std::size_t min_segment_observations, double initial_cohort_days,
                          double transition_prior, double level, double horizon,
                          double report_every, std::uint64_t seed, int replications,
                          bool drop_invalid, const std::map<std::string, std::string>& columns,
                          const std::string& separator, const std::string& date_format,
                          const std::vector<std::string>& stages) {
  const LogOptions log_options =
      log_options_of(segment_column, censor_at, stage_map, stages, absorbing, epoch,
                     drop_duplicates, drop_invalid, columns, separator, date_format);
  CalibrateOptions options;
  options.won = won;
  options.spelling = OptionSpelling::kPython;
  options.name = name;
  options.min_segment_observations = min_segment_observations;
  options.initial_cohort_days = initial_cohort_days;
  options.transition_prior = transition_prior;
  options.dwell.level = level;
  options.horizon = horizon;
  options.report_every = report_every;
  options.seed = seed;
  options.replications = replications;

  Calibration cal;
  std::string yaml;
  std::vector<CleaningStep> cleaning;
  std::vector<StageCount> stage_counts;
  {
    const py::gil_scoped_release release;
    const EventLog log = read_source(
        source, is_text, [&](std::istream& in) { return parse_event_log(in, file, log_options); },
        [&](const std::string& path) { return read_event_log(path, log_options); });
    cal = calibrate_logs(log, options);
    yaml = to_yaml(cal.scenario);
    cleaning = log.cleaning;
    stage_counts = log.stage_counts;
  }
  py::list families;
  for (const auto& f : cal.families) {
    py::dict params;
    for (const auto& [k, v] : f.params) params[py::str(k)] = v;
    families.append(py::make_tuple(f.stage, f.segment, f.family, f.fitted, f.loglik, f.aic, params,
                                   f.chosen, f.n_events, f.n_censored, f.note));
  }
  py::dict out;
  out["file"] = cal.file;
  out["epoch"] = cal.epoch;
  out["epoch_weekday"] = cal.epoch_weekday;
  out["window"] = py::make_tuple(cal.window_start, cal.window_end);
  out["estimates"] = estimate_list(cal.estimates);
  out["families"] = families;
  out["warnings"] = problem_list(cal.warnings);
  out["scenario_yaml"] = yaml;
  out["arrival_rate"] = cal.arrival_rate;
  out["weekly_profile"] = cal.weekly_profile;
  out["cleaning"] = cleaning_list(cleaning);
  out["stage_counts"] = stage_count_list(stage_counts);
  return out;
}

/// The rows of a segment's fit named as scenario paths of that segment ("segments.<g>.<path>").
std::vector<EstimateRow> segment_rows(const std::vector<EstimateRow>& rows,
                                      const std::string& segment) {
  std::vector<EstimateRow> out = rows;
  for (auto& r : out) r.parameter = "segments." + segment + "." + r.parameter;
  return out;
}

/// The Coxian dwells of a phase-type fit as (stage, segment, family, phases, mean, ci, rates, exit, n) tuples.
void append_dwells(py::list& dwells, const PhaseTypeFit& phase, const std::string& segment) {
  for (const auto& d : phase.dwells)
    dwells.append(py::make_tuple(d.stage, segment, d.rates.size() == 1 ? "exponential" : "coxian",
                                 d.rates.size(), d.mean, d.ci_low, d.ci_high, d.rates, d.exit,
                                 d.n));
}

/// Fits a snapshot file (path) or CSV text: the continuous-time Markov model, the phase-type model unless
/// max_phases is 1, each segment when segment_column is given, and the scenarios (calibrate_snapshots).
py::dict calibrate_snapshots(
    const std::string& source, bool is_text, const std::string& file,
    const std::map<std::string, std::string>& stage_map, const std::vector<std::string>& stages,
    const std::vector<std::string>& absorbing, const std::string& epoch,
    const std::vector<std::pair<std::string, std::string>>& transitions, double level,
    int max_phases, const std::map<std::string, int>& phases, const std::string& entry_stage,
    const std::string& won, const std::string& name, const std::string& segment_column,
    std::size_t min_segment_pairs, const std::map<std::string, std::string>& columns,
    const std::string& separator, const std::string& date_format, const std::string& date_means,
    const std::string& phase_criterion, const std::vector<std::string>& exact_stages) {
  SnapshotOptions log_options;
  log_options.stage_map = stage_map;
  log_options.stages = stages;
  log_options.absorbing = absorbing;
  log_options.epoch = epoch;
  log_options.segment_column = segment_column;
  log_options.exact_stages = exact_stages;
  log_options.spelling = OptionSpelling::kPython;
  for (const auto& [key, column] : columns) {  // checked by lcsim.calibrate
    if (key == "customer_id") log_options.customer_column = column;
    if (key == "date") log_options.time_column = column;
    if (key == "created") log_options.created_column = column;
    if (key == "stage") log_options.stage_column = column;
    if (key == "segment") log_options.segment_column = column;
    if (key == "entered") log_options.entered_column = column;
  }
  if (!separator.empty()) log_options.separator = separator.front();
  if (date_format == "dmy") log_options.date_order = DateOrder::kDayFirst;
  if (date_format == "mdy") log_options.date_order = DateOrder::kMonthFirst;
  const std::optional<DateMeans> means = parse_date_means(date_means);
  if (!means)
    throw InputError(file, 0, "date_means",
                     expected_got("'end-of-day' or 'start-of-day'", "'" + date_means + "'"));
  log_options.date_means = *means;
  SnapshotCalibrationOptions options;
  options.markov.transitions = transitions;
  options.markov.level = level;
  options.phase.level = level;
  options.phase.max_phases = max_phases;
  options.phase.phases = phases;
  options.phase.entry_stage = entry_stage;
  options.phase.criterion = phase_criterion;
  options.min_segment_pairs = min_segment_pairs;
  options.won = won;
  options.name = name;

  SnapshotCalibration c;
  std::string log_epoch;
  double first = 0.0;
  double last = 0.0;
  {
    const py::gil_scoped_release release;
    const SnapshotLog log = read_source(
        source, is_text, [&](std::istream& in) { return parse_snapshots(in, file, log_options); },
        [&](const std::string& path) { return read_snapshots(path, log_options); });
    log_epoch = log.epoch;
    bool any = false;
    for (const auto& cu : log.customers) {
      for (const auto& o : cu.observations) {
        if (!any || o.time < first) first = o.time;
        if (!any || o.time > last) last = o.time;
        any = true;
      }
    }
    c = calibrate_snapshots(log, options);
  }
  const MarkovFit& fit = c.markov;
  py::list rates;
  for (const auto& r : fit.rates)
    rates.append(
        py::make_tuple(r.from, r.to, r.rate, r.se_log, r.ci_low, r.ci_high, r.n, r.at_bound));
  std::vector<EstimateRow> estimates = fit.estimates;
  py::list segments;
  for (const auto& g : c.segments) {
    const std::vector<EstimateRow> rows = segment_rows(g.markov.estimates, g.segment);
    estimates.insert(estimates.end(), rows.begin(), rows.end());
    segments.append(
        py::make_tuple(g.segment, g.customers, g.own_stages, g.pooled_stages, g.markov.loglik,
                       g.phase ? py::object(py::float_(g.phase->loglik)) : py::object(py::none())));
  }
  py::dict out;
  out["file"] = fit.file;
  out["epoch"] = log_epoch;
  out["window"] = py::make_tuple(first, last);
  out["stages"] = fit.stages;
  out["absorbing"] = fit.absorbing;
  out["generator"] = fit.generator;
  out["rates"] = rates;
  out["estimates"] = estimate_list(estimates);
  out["warnings"] = problem_list(c.warnings);
  out["loglik"] = fit.loglik;
  out["converged"] = fit.converged;
  out["status"] = fit.status;
  out["n_transitions"] = fit.n_transitions;
  out["n_customers"] = fit.n_customers;
  out["segments"] = segments;
  if (c.has_scenario) {
    out["scenario_yaml"] = to_yaml(c.scenario);
    out["markov_scenario_yaml"] = to_yaml(c.markov_scenario);
    out["arrival_estimates"] = estimate_list(c.scenario_estimates);
  }
  if (c.phase) {
    const PhaseTypeFit& phase = *c.phase;
    py::list dwells;
    append_dwells(dwells, phase, "");
    std::vector<EstimateRow> phase_estimates = phase.estimates;
    std::vector<EstimateRow> markov_estimates = phase.markov_estimates;
    for (const auto& g : c.segments) {
      if (!g.phase) continue;
      append_dwells(dwells, *g.phase, g.segment);
      const std::vector<EstimateRow> p = segment_rows(g.phase->estimates, g.segment);
      const std::vector<EstimateRow> m = segment_rows(g.phase->markov_estimates, g.segment);
      phase_estimates.insert(phase_estimates.end(), p.begin(), p.end());
      markov_estimates.insert(markov_estimates.end(), m.begin(), m.end());
    }
    py::list candidates;
    for (const auto& cand : phase.candidates) {
      py::dict k;
      for (std::size_t i = 0; i < cand.phases.size(); ++i) {
        if (!phase.absorbing[i]) k[py::str(phase.stages[i])] = cand.phases[i];
      }
      candidates.append(py::make_tuple(cand.step == "markov" ? "Markov" : cand.stage, cand.step, k,
                                       cand.loglik, cand.parameters, cand.aic, cand.bic,
                                       cand.lr_statistic, cand.lr_p_value, cand.chosen, cand.edge,
                                       cand.converged));
    }
    py::list starts;
    for (const auto& st : phase.starts)
      starts.append(py::make_tuple(st.start, st.loglik, st.converged, st.best));
    py::dict p;
    p["dwells"] = dwells;
    p["candidates"] = candidates;
    p["starts"] = starts;
    p["criterion"] = phase.criterion;
    p["not_identified"] = phase.not_identified;
    p["estimates"] = estimate_list(phase_estimates);
    p["markov_estimates"] = estimate_list(markov_estimates);
    p["phases"] = phase.phases;
    p["entry_stage"] = phase.entry_stage;
    p["loglik"] = phase.loglik;
    p["loglik_markov"] = phase.loglik_markov;
    p["aic"] = phase.aic;
    p["aic_markov"] = phase.aic_markov;
    p["converged"] = phase.converged;
    p["information_positive_definite"] = phase.information_positive_definite;
    p["n_created"] = phase.n_created;
    out["phase_type"] = p;
  }
  return out;
}

/// Fits the funnel-count model to a count file (path) or CSV text.
py::dict calibrate_funnel(
    const std::string& source, bool is_text, const std::string& file,
    const std::vector<std::pair<std::string, std::vector<std::string>>>& transitions,
    const std::string& won, const std::string& start, double period_days, double level,
    const std::string& name, std::uint64_t seed, int replications) {
  FunnelFitOptions options;
  options.transitions = transitions;
  options.won = won;
  const std::optional<FunnelStart> how = parse_funnel_start(start);
  if (!how)
    throw InputError(file, 0, "start", expected_got("'steady' or 'empty'", "'" + start + "'"));
  options.start = *how;
  options.period_days = period_days;
  options.level = level;
  options.name = name;
  options.seed = seed;
  options.replications = replications;
  FunnelFit fit;
  std::string yaml;
  {
    const py::gil_scoped_release release;
    const FunnelCounts counts = read_source(
        source, is_text, [&](std::istream& in) { return parse_funnel_counts(in, file); },
        [](const std::string& path) { return read_funnel_counts(path); });
    fit = fit_funnel(counts, options);
    yaml = to_yaml(fit.scenario);
  }
  py::list cells;
  for (const auto& c : fit.cells)
    cells.append(py::make_tuple(c.period, c.stage, c.observed, c.expected, c.fitted));
  py::list parameters;
  for (const auto& p : fit.parameters)
    parameters.append(py::make_tuple(p.stage, p.targets, p.offset));
  py::dict summary;
  summary["deviance"] = fit.deviance;
  summary["pearson"] = fit.pearson;
  summary["dispersion"] = fit.dispersion;
  summary["cells"] = fit.n_cells;
  summary["parameters"] = fit.n_parameters;
  summary["iterations"] = fit.iterations;
  summary["converged"] = fit.converged;
  py::dict out;
  out["file"] = fit.file;
  out["epoch"] = fit.epoch;
  out["window"] = py::make_tuple(fit.period_starts.front(), fit.period_starts.back());
  out["periods"] = fit.periods;
  out["period_starts"] = fit.period_starts;
  out["stages"] = fit.stages;
  out["entry_stages"] = fit.entry_stages;
  out["estimates"] = estimate_list(fit.estimates);
  out["warnings"] = problem_list(fit.warnings);
  out["scenario_yaml"] = yaml;
  out["fit"] = summary;
  out["cells"] = cells;
  out["parameters"] = parameters;
  out["theta"] = fit.theta;
  out["covariance"] = fit.covariance;
  out["unidentified"] = fit.unidentified;
  return out;
}

/// One replication of a model as CRM history rows (column lists per table).
py::dict synth(const Model& model, int replication, std::optional<std::uint64_t> seed,
               const std::string& start_date, std::optional<double> observe_until,
               const std::string& snapshots, bool touchpoints) {
  SynthOptions options;
  options.replication = replication;
  options.seed = seed;
  options.start_date = start_date;
  options.observe_until = observe_until;
  options.snapshot_every = SnapshotEvery::parse(snapshots);
  options.with_touchpoints = touchpoints;
  SynthHistory h;
  {
    const py::gil_scoped_release release;
    h = synthesize(model, options);
  }
  const std::size_t ne = h.events.size();
  std::vector<std::string> e_id, e_ts, e_stage, e_seg;
  e_id.reserve(ne), e_ts.reserve(ne), e_stage.reserve(ne), e_seg.reserve(ne);
  for (const auto& r : h.events) {
    e_id.push_back(r.customer_id), e_ts.push_back(r.timestamp), e_stage.push_back(r.stage),
        e_seg.push_back(r.segment);
  }
  py::dict events;
  events["customer_id"] = e_id;
  events["timestamp"] = e_ts;
  events["stage"] = e_stage;
  if (h.with_segments) events["segment"] = e_seg;

  std::vector<std::string> s_id, s_date, s_stage, s_seg, s_created;
  for (const auto& r : h.snapshots) {
    s_id.push_back(r.customer_id), s_date.push_back(r.taken_at()), s_stage.push_back(r.stage),
        s_seg.push_back(r.segment);
    s_created.push_back(r.created);
  }
  py::dict snaps;
  snaps["customer_id"] = s_id;
  snaps["date"] = s_date;
  snaps["stage"] = s_stage;
  if (h.with_segments) snaps["segment"] = s_seg;
  snaps["created"] = s_created;

  std::vector<std::string> t_id, t_ts, t_tp;
  for (const auto& r : h.touchpoints)
    t_id.push_back(r.customer_id), t_ts.push_back(r.timestamp), t_tp.push_back(r.touchpoint);
  py::dict tps;
  tps["customer_id"] = t_id;
  tps["timestamp"] = t_ts;
  tps["touchpoint"] = t_tp;

  py::dict out;
  out["events"] = events;
  out["snapshots"] = snaps;
  out["touchpoints"] = tps;
  out["scenario"] = h.scenario;
  out["replication"] = h.replication;
  out["seed"] = h.seed;
  out["start_date"] = h.start_date;
  out["observe_until"] = h.observe_until;
  out["censor_at"] = h.censor_at;
  out["with_segments"] = h.with_segments;
  out["absorbing"] = h.absorbing;
  out["won"] = h.won;
  out["customers"] = h.customers;
  out["customers_open"] = h.customers_open;
  return out;
}

}  // namespace

void bind_calibrate(py::module_& m) {
  m.def(
      "calibrate_events", &calibrate_events, py::arg("source"), py::arg("is_text"), py::arg("file"),
      py::arg("segment_column") = "", py::arg("censor_at") = "",
      py::arg("stage_map") = std::map<std::string, std::string>{},
      py::arg("absorbing") = std::vector<std::string>{}, py::arg("epoch") = "",
      py::arg("drop_duplicates") = false, py::arg("won") = "", py::arg("name") = "calibrated",
      py::arg("min_segment_observations") = 30, py::arg("initial_cohort_days") = 7.0,
      py::arg("transition_prior") = 0.5, py::arg("level") = 0.95, py::arg("horizon") = 0.0,
      py::arg("report_every") = 7.0, py::arg("seed") = 1, py::arg("replications") = 10,
      py::arg("drop_invalid") = false, py::arg("columns") = std::map<std::string, std::string>{},
      py::arg("separator") = "", py::arg("date_format") = "iso",
      py::arg("stages") = std::vector<std::string>{},
      "Reads a stage-change log (a path, or CSV text when is_text) and calibrates it: a dict of plain data.");
  m.def(
      "check_events", &check_events, py::arg("source"), py::arg("is_text"), py::arg("file"),
      py::arg("segment_column") = "", py::arg("censor_at") = "",
      py::arg("stage_map") = std::map<std::string, std::string>{},
      py::arg("stages") = std::vector<std::string>{},
      py::arg("absorbing") = std::vector<std::string>{}, py::arg("epoch") = "",
      py::arg("drop_duplicates") = false, py::arg("drop_invalid") = false,
      py::arg("columns") = std::map<std::string, std::string>{}, py::arg("separator") = "",
      py::arg("date_format") = "iso",
      "Reads a stage-change log without fitting (lcsim calibrate --dry-run): counts, stages, cleaning, "
      "warnings and the errors, returned rather than raised.");
  m.def(
      "calibrate_snapshots", &calibrate_snapshots, py::arg("source"), py::arg("is_text"),
      py::arg("file"), py::arg("stage_map") = std::map<std::string, std::string>{},
      py::arg("stages") = std::vector<std::string>{},
      py::arg("absorbing") = std::vector<std::string>{}, py::arg("epoch") = "",
      py::arg("transitions") = std::vector<std::pair<std::string, std::string>>{},
      py::arg("level") = 0.95, py::arg("max_phases") = 3,
      py::arg("phases") = std::map<std::string, int>{}, py::arg("entry_stage") = "",
      py::arg("won") = "", py::arg("name") = "calibrated", py::arg("segment_column") = "",
      py::arg("min_segment_pairs") = 30, py::arg("columns") = std::map<std::string, std::string>{},
      py::arg("separator") = "", py::arg("date_format") = "iso",
      py::arg("date_means") = "end-of-day", py::arg("phase_criterion") = "lr",
      py::arg("exact_stages") = std::vector<std::string>{},
      "Reads a snapshot file (a path, or CSV text when is_text) and fits a continuous-time Markov model and, "
      "unless max_phases is 1, the phase-type (Coxian dwell) model, per segment too with segment_column.");
  m.def(
      "calibrate_funnel", &calibrate_funnel, py::arg("source"), py::arg("is_text"), py::arg("file"),
      py::arg("transitions"), py::arg("won") = "", py::arg("start") = "steady",
      py::arg("period_days") = 0.0, py::arg("level") = 0.95, py::arg("name") = "calibrated",
      py::arg("seed") = 1, py::arg("replications") = 10,
      "Reads funnel counts (a path, or CSV text when is_text) and fits the funnel model by matching entries.");
  m.def("synth", &synth, py::arg("model"), py::arg("replication") = 0, py::arg("seed") = py::none(),
        py::arg("start_date") = "2025-01-06", py::arg("observe_until") = py::none(),
        py::arg("snapshots") = "none", py::arg("touchpoints") = true,
        "One replication as CRM history: events, snapshots and touchpoint rows.");
}

}  // namespace lcsim::python
