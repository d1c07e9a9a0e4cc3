# Hand-written stub of the private C++ module lcsim._core (tests check it lists every public name).
from typing import Callable, Optional

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

class RunInfo:
    name: str
    scenario_name: str
    scenario_text: str
    scenario_file: str
    seed: int
    replications: int
    lcsim_version: str
    boost_version: str
    created: str
    stage_names: list[str]
    segment_names: list[str]
    touchpoint_names: list[str]
    metric_names: list[str]
    cause_names: list[str]
    report_times: list[float]
    won: str

class Run:
    info: RunInfo
    has_events: bool
    def arrays(self) -> dict[str, np.ndarray]: ...
    def events(self) -> dict[str, np.ndarray]: ...
    def summary(self) -> dict[str, object]: ...

def check_yaml(text: str, file: str = "<string>") -> list[tuple[str, int, str, str, bool]]: ...
def canonical_yaml(text: str, file: str = "<string>") -> str: ...
def compile_yaml(text: str, file: str = "<string>") -> Model: ...
def simulate(
    model: Model,
    replications: int = 0,
    seed: Optional[int] = None,
    threads: int = 0,
    events: bool = False,
    name: str = "",
    progress: Optional[Callable[[int, int], None]] = None,
) -> Run: ...
def study_append(path: str, run: Run, name: str) -> None: ...
def study_runs(path: str) -> list[str]: ...
def study_read(path: str, name: str) -> Run: ...
def hdf5_version() -> str: ...
