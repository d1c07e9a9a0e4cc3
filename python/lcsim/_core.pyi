# Hand-written stub of the private C++ module lcsim._core (tests check it lists every public name).
from typing import Callable

import numpy as np

__version__: str
boost_version: str

class Model:
    name: str
    stage_names: list[str]
    segment_names: list[str]
    touchpoint_names: list[str]
    report_times: list[float]
    horizon: float
    seed: int
    replications: int
    scenario_text: str
    scenario_extends: list[str]
    scenario_own_text: str

class RunInfo:
    name: str
    scenario_name: str
    scenario_text: str
    scenario_file: str
    scenario_extends: list[str]
    scenario_own_text: str
    seed: int
    replications: int
    lcsim_version: str
    boost_version: str
    created: str
    stage_names: list[str]
    segment_names: list[str]
    touchpoint_names: list[str]
    resource_names: list[str]
    metric_names: list[str]
    cause_names: list[str]
    report_times: list[float]
    won: str

class Run:
    info: RunInfo
    has_events: bool
    parameter_draws: dict[str, object] | None  # parameters, values [R, P], inner, source, note
    def arrays(self) -> dict[str, np.ndarray]: ...
    def events(self) -> dict[str, np.ndarray]: ...
    def summary(self) -> dict[str, object]: ...

class VariantComparison:
    run: Run
    changed_touchpoints: list[str]
    verdict: str
    def deltas(self) -> dict[str, object]: ...
    def changes(self) -> dict[str, object]: ...

class Comparison:
    base: Run
    variants: list[VariantComparison]
    replications: int
    precision: float
    precision_met: bool
    precision_metrics: list[str]

def compare(
    base: Model,
    variants: list[Model],
    replications: int = 0,
    precision: float = 0.0,
    precision_metrics: list[str] = ["conversions"],
    precision_on_delta: bool = True,
    batch: int = 10,
    max_replications: int = 1000,
    seed: int | None = None,
    threads: int = 0,
    independent: bool = True,
    who_changed: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison: ...
def resource_metric_names() -> list[str]: ...
def t95_factor(n: int) -> float: ...
def join_batches(batches: list[Run]) -> Run: ...
def assemble_drawn_run(
    model: Model, parts: list[Run], name: str, seed: int, draws: dict[str, object]
) -> Run: ...
def make_comparison(
    base: Run,
    variants: list[Run],
    deltas: list[dict[str, object]],
    verdicts: list[str],
    changed_touchpoints: list[list[str]],
) -> Comparison: ...
def study_append_comparison(path: str, comparison: Comparison, name: str) -> None: ...
def study_comparisons(path: str) -> list[str]: ...
def study_read_comparison(path: str, name: str) -> Comparison: ...
def study_append_sweep(
    path: str,
    name: str,
    design: str,
    parameters: list[str],
    values: list[list[str]],
    runs: list[Run],
) -> None: ...
def study_sweeps(path: str) -> list[str]: ...
def study_read_sweep(path: str, name: str) -> tuple[str, list[str], list[list[str]], list[Run]]: ...
def study_append_optimisation(
    path: str,
    name: str,
    settings: str,
    levers: list[str],
    columns: list[str],
    trials: list[tuple[int, str, list[str], list[float]]],
    chosen: str,
    verdict: list[str],
    selection: Comparison,
) -> None: ...
def study_optimisations(path: str) -> list[str]: ...
def study_read_optimisation(
    path: str, name: str
) -> tuple[
    str,
    list[str],
    list[str],
    list[tuple[int, str, list[str], list[float]]],
    str,
    list[str],
    Comparison,
]: ...
def check_yaml(text: str, file: str = "<string>") -> list[tuple[str, int, str, str, bool]]: ...
def canonical_yaml(text: str, file: str = "<string>") -> str: ...
def apply_changes(text: str, changes: list[tuple[str, str]], file: str = "<string>") -> str: ...
def compile_yaml(
    text: str, file: str = "<string>", extends: list[str] = ..., own_text: str = ""
) -> Model: ...
def simulate(
    model: Model,
    replications: int = 0,
    seed: int | None = None,
    threads: int = 0,
    events: bool = False,
    name: str = "",
    progress: Callable[[int, int], None] | None = None,
    first_replication: int = 0,
) -> Run: ...
def study_append(path: str, run: Run, name: str) -> None: ...
def study_runs(path: str) -> list[str]: ...
def study_read(path: str, name: str) -> Run: ...
def hdf5_version() -> str: ...

class MarkovAnalysis:
    stage_names: list[str]
    segment_names: list[str]
    won: str
    description: str
    conversion_probability: float
    time_to_convert: float
    time_to_absorption: float
    customers: float
    notes: list[str]
    reach_probability: np.ndarray
    expected_visits: np.ndarray
    expected_days: np.ndarray
    mean_dwell: np.ndarray
    def sensitivity(self) -> dict[str, object]: ...
    def starts(self) -> dict[str, object]: ...

def analyze_markov(model: Model, segment: str = "", start: str = "") -> MarkovAnalysis: ...
def without_touchpoints(model: Model) -> Model: ...

# ---- calibration (bind_calibrate.cpp): plain dicts, shaped by lcsim.calibration ----
def calibrate_events(
    source: str,
    is_text: bool,
    file: str,
    segment_column: str = "",
    censor_at: str = "",
    stage_map: dict[str, str] = ...,
    absorbing: list[str] = ...,
    epoch: str = "",
    drop_duplicates: bool = False,
    won: str = "",
    name: str = "calibrated",
    min_segment_observations: int = 30,
    initial_cohort_days: float = 7.0,
    transition_prior: float = 0.5,
    level: float = 0.95,
    horizon: float = 0.0,
    report_every: float = 7.0,
    seed: int = 1,
    replications: int = 10,
    drop_invalid: bool = False,
    columns: dict[str, str] = ...,
    separator: str = "",
    date_format: str = "iso",
    stages: list[str] = ...,
) -> dict[str, object]: ...
def check_events(
    source: str,
    is_text: bool,
    file: str,
    segment_column: str = "",
    censor_at: str = "",
    stage_map: dict[str, str] = ...,
    stages: list[str] = ...,
    absorbing: list[str] = ...,
    epoch: str = "",
    drop_duplicates: bool = False,
    drop_invalid: bool = False,
    columns: dict[str, str] = ...,
    separator: str = "",
    date_format: str = "iso",
) -> dict[str, object]: ...
def calibrate_snapshots(
    source: str,
    is_text: bool,
    file: str,
    stage_map: dict[str, str] = ...,
    stages: list[str] = ...,
    absorbing: list[str] = ...,
    epoch: str = "",
    transitions: list[tuple[str, str]] = ...,
    level: float = 0.95,
    max_phases: int = 3,
    phases: dict[str, int] = ...,
    entry_stage: str = "",
    won: str = "",
    name: str = "calibrated",
    segment_column: str = "",
    min_segment_pairs: int = 30,
    columns: dict[str, str] = ...,
    separator: str = "",
    date_format: str = "iso",
    date_means: str = "end-of-day",
    phase_criterion: str = "lr",
    exact_stages: list[str] = ...,
) -> dict[str, object]: ...
def calibrate_funnel(
    source: str,
    is_text: bool,
    file: str,
    transitions: list[tuple[str, list[str]]],
    won: str = "",
    start: str = "steady",
    period_days: float = 0.0,
    level: float = 0.95,
    name: str = "calibrated",
    seed: int = 1,
    replications: int = 10,
) -> dict[str, object]: ...
def synth(
    model: Model,
    replication: int = 0,
    seed: int | None = None,
    start_date: str = "2025-01-06",
    observe_until: float | None = None,
    snapshots: str = "none",
    touchpoints: bool = True,
) -> dict[str, object]: ...
