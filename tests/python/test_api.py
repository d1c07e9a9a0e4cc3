"""The Python API: scenarios, simulate, Run views, studies, errors, GIL and Ctrl-C."""

import ast
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

import lcsim
from lcsim import _core

BASELINE = SCENARIOS / "b2b_saas" / "baseline.yaml"

SMALL = """\
name: small
horizon: 120
report_every: 10
replications: 4
seed: 3
won: customer
stages:
  lead: {dwell: {mean: 5}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: weibull, shape: 1.5, mean: 8}, next: {customer: 0.4, lead: 0.2, lost: 0.4}}
  customer: {absorbing: true, revenue_per_month: 100}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 2000}]
  streams: [{stage: lead, rate_per_day: 5}]
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 3}}
    reach: 0.3
    cost: 10
    effect: {move: {to: customer, probability: 0.2}}
"""


@pytest.fixture(scope="module")
def small():
    return lcsim.Scenario.from_yaml(SMALL, "small.yaml")


@pytest.fixture(scope="module")
def run(small):
    return lcsim.simulate(small, events=True)


# ---- scenarios ------------------------------------------------------------------------------


def test_yaml_scenario_yaml_round_trip(small):
    text = small.to_yaml()
    again = lcsim.Scenario.from_yaml(text)
    assert again.to_yaml() == text
    assert again == small
    assert lcsim.Scenario.from_dict(small.to_dict()) == small
    base = lcsim.Scenario.load(BASELINE)
    assert lcsim.Scenario.from_yaml(base.to_yaml()).to_dict() == base.to_dict()


def test_scenario_properties(small):
    assert small.name == "small"
    assert small.stages == ["lead", "mql", "customer", "lost"]
    assert small.segments == ["all"]
    assert small.touchpoints == ["webinar"]
    assert small.replications == 4 and small.seed == 3
    assert small.text == SMALL
    assert small.warnings == []


def test_with_changes_returns_a_new_validated_scenario(small):
    variant = small.with_changes(
        {"touchpoints.webinar.reach": 0.6, "stages.lead.next": {"mql": 0.7, "lost": 0.3}}
    )
    assert variant.to_dict()["touchpoints"]["webinar"]["reach"] == 0.6
    assert variant.to_dict()["stages"]["lead"]["next"] == {"mql": 0.7, "lost": 0.3}
    assert small.to_dict()["touchpoints"]["webinar"]["reach"] == 0.3  # unchanged
    lists = small.with_changes({"arrivals.streams.0.rate_per_day": 9})
    assert lists.to_dict()["arrivals"]["streams"][0]["rate_per_day"] == 9
    removed = small.with_changes({"touchpoints": None})
    assert removed.touchpoints == []


def test_with_changes_unknown_path_lists_close_matches(small):
    with pytest.raises(lcsim.ScenarioError) as err:
        small.with_changes({"touchpoint.webinar.reach": 0.5})
    assert "touchpoints.webinar.reach" in str(err.value)
    with pytest.raises(lcsim.ScenarioError) as err:
        small.with_changes({"touchpoints.webinar.reech": 0.5})  # leaf typo: caught by validation
    assert "reech" in str(err.value) and "reach" in str(err.value)


def test_with_changes_validates(small):
    with pytest.raises(lcsim.ScenarioError) as err:
        small.with_changes({"stages.lead.next.mql": 0.9})
    assert "stages.lead.next" in str(err.value)
    assert "sum" in str(err.value)


def test_scenario_error_is_a_value_error_with_line_and_field():
    bad = SMALL.replace("dwell: {mean: 5}", "dwel: {mean: 5}").replace("count: 2000", "count: -1")
    with pytest.raises(ValueError) as err:
        lcsim.Scenario.from_yaml(bad, "bad.yaml")
    e = err.value
    assert isinstance(e, lcsim.ScenarioError)
    fields = {p.field: p for p in e.problems}
    assert fields["stages.lead.dwel"].line == 8
    assert fields["stages.lead.dwel"].file == "bad.yaml"
    assert str(fields["stages.lead.dwel"]) in str(e)
    assert str(e).splitlines()[0].startswith("bad.yaml:8: stages.lead.dwel:")


def test_scenario_messages_match_the_cli(lcsim_cli, tmp_path):
    bad = SMALL.replace("customer: 0.4, lead: 0.2", "customer: 0.5, lead: 0.2")
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    with pytest.raises(lcsim.ScenarioError) as err:
        lcsim.Scenario.load(path)
    cli = lcsim_cli("validate", path)
    assert cli.returncode == 2
    assert str(err.value).splitlines() == [line for line in cli.stderr.splitlines() if line]


def test_load_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(lcsim.ScenarioError, match="cannot read"):
        lcsim.Scenario.load(tmp_path / "nope.yaml")


def test_unreachable_stage_is_a_warning(small):
    s = lcsim.Scenario.from_yaml(
        SMALL.replace(
            "  lost: {absorbing: true}", "  lost: {absorbing: true}\n  island: {absorbing: true}"
        )
    )
    assert any(p.warning and p.field.endswith("island") for p in s.warnings)


# ---- runs -----------------------------------------------------------------------------------


def test_summary_has_every_metric_with_ci(run):
    df = run.summary()
    assert list(df.columns) == ["metric", "mean", "std", "ci_low", "ci_high", "n"]
    assert list(df["metric"]) == run.metric_names
    row = df.set_index("metric").loc["conversions"]
    per_rep = run.metrics()["conversions"]
    assert row["mean"] == pytest.approx(per_rep.mean())
    assert row["std"] == pytest.approx(per_rep.std(ddof=1))
    assert row["ci_low"] < row["mean"] < row["ci_high"]


def test_occupancy_long_frame_and_xarray(run):
    occ = run.occupancy()
    assert list(occ.columns) == ["replication", "day", "stage", "count"]
    assert len(occ) == 4 * len(run.report_times) * 4
    first = occ[occ.day == 0.0].groupby("replication", observed=True)["count"].sum()
    assert (first == 2000).all()
    xa = run.occupancy(as_xarray=True)
    assert xa.dims == ("replication", "day", "stage")
    assert int(xa.sel(stage="lead", day=0.0).sum()) == 4 * 2000
    np.testing.assert_array_equal(xa.values.reshape(-1), occ["count"].values)


def test_transitions_reached_touchpoints_metrics(run):
    tr = run.transitions()
    assert list(tr.columns) == ["replication", "from", "to", "count"]
    mets = run.metrics()
    assert len(mets) == 4 and list(mets["replication"]) == [0, 1, 2, 3]
    moves = tr.groupby("replication")["count"].sum()
    np.testing.assert_array_equal(moves.values, mets["transitions"].values)
    tp = run.touchpoints()
    assert list(tp.columns) == ["replication", "touchpoint", "contacts", "reached", "moves", "cost"]
    assert (tp["cost"] == 10 * tp["contacts"]).all()
    reached = run.reached()
    assert (reached[reached.stage == "lead"]["customers"].values == mets["customers"].values).all()


def test_events_log(run, small):
    ev = run.events()
    assert list(ev.columns) == ["replication", "customer", "time", "from", "to", "cause"]
    arrivals = ev[ev["cause"] == "arrival"]
    assert arrivals["from"].isna().all()
    assert len(arrivals) == run.metrics()["customers"].sum()
    assert set(ev["cause"].unique()) <= {"exit", "arrival", "touchpoint:webinar"}
    with pytest.raises(ValueError, match="events=True"):
        lcsim.simulate(small, replications=1).events()


def test_arrays_are_numpy_views_without_copies(run):
    occ = run.arrays["occupancy"]
    assert occ.dtype == np.int64 and occ.shape == (4, len(run.report_times), 4)
    assert not occ.flags.owndata and occ.base is not None  # owned by the C++ buffer
    assert occ.flags.c_contiguous


def test_identical_at_one_and_two_threads_and_seed_changes_results(small):
    a = lcsim.simulate(small, threads=1)
    b = lcsim.simulate(small, threads=2)
    for key in a.arrays:
        assert a.arrays[key].tobytes() == b.arrays[key].tobytes(), key
    assert a.summary().equals(b.summary())
    c = lcsim.simulate(small, seed=99)
    assert a.arrays["transitions"].tobytes() != c.arrays["transitions"].tobytes()


def test_simulate_accepts_a_path_and_checks_arguments():
    r = lcsim.simulate(BASELINE, replications=2, threads=1)
    assert r.replications == 2 and r.name == "b2b_saas_baseline"
    with pytest.raises(lcsim.ScenarioError):
        lcsim.simulate(BASELINE, replications=0)


def test_progress_callback_and_its_errors(small):
    calls = []
    lcsim.simulate(small, progress=lambda customers, done: calls.append((customers, done)))
    assert calls and calls[-1][1] == 4

    def boom(customers, done):
        raise RuntimeError("stop from callback")

    big = small.with_changes({"arrivals.initial.0.count": 3_000_000, "replications": 20})
    with pytest.raises(RuntimeError, match="stop from callback"):
        lcsim.simulate(big, progress=boom)


# ---- studies --------------------------------------------------------------------------------


def test_run_save_and_load_identical(run, tmp_path):
    path = tmp_path / "study.h5"
    run.save(path, "first")
    plain = lcsim.simulate(lcsim.Scenario.from_yaml(SMALL), replications=2)
    plain.save(path)  # default name: the run's
    study = lcsim.open(path)
    assert study.runs() == ["first", "small"]
    assert "first" in study and len(study) == 2
    loaded = study["first"]
    assert loaded.name == "first"
    # identical up to the name it was stored under
    for key in run.arrays:
        assert loaded.arrays[key].tobytes() == run.arrays[key].tobytes()
    assert loaded.summary().equals(run.summary())
    assert loaded.events().equals(run.events())
    assert study["small"] == plain
    assert loaded.scenario == run.scenario


def test_study_errors(run, tmp_path):
    with pytest.raises(lcsim.StudyError):
        lcsim.open(tmp_path / "missing.h5")
    with pytest.raises(OSError):
        lcsim.open(__file__)
    path = tmp_path / "s.h5"
    run.save(path, "x")
    with pytest.raises(lcsim.ScenarioError, match="already exists"):
        run.save(path, "x")
    with pytest.raises(lcsim.ScenarioError):
        lcsim.open(path)["nope"]


def test_h5py_view_matches_documented_layout_in_the_same_process(run, tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "study.h5"
    run.save(path, "r")
    with h5py.File(path, "r") as f:
        assert f.attrs["filetype"] in (b"lcsim-study", "lcsim-study")
        g = f["runs/r"]
        np.testing.assert_array_equal(g["occupancy"][()], run.arrays["occupancy"])
        np.testing.assert_array_equal(g["transitions"][()], run.arrays["transitions"])
        np.testing.assert_array_equal(g["reached"][()], run.arrays["reached"])
        np.testing.assert_array_equal(g["touchpoints"][()], run.arrays["touchpoints"])
        metrics = pd.DataFrame(g["metrics"][()])
        np.testing.assert_array_equal(
            metrics["conversions"].values, run.metrics()["conversions"].values
        )
        assert len(g["events"]) == len(run.events())
    # lcsim reads the file h5py just closed, and h5py reads what lcsim writes while open for reading
    with h5py.File(path, "r") as f:
        run.save(path, "second")
        assert "second" not in f["runs"]  # the open handle still sees the old file
    assert lcsim.open(path).runs() == ["r", "second"]


def test_h5py_copies_a_run_group_and_lcsim_reads_the_copy(run, tmp_path):
    """h5py's Group.copy (HDF5's H5Ocopy) of a run: HDF5 before 1.14.4 crashed on groups whose
    string attributes were in dense storage, which lcsim's run groups were until they kept their
    attributes compact."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "study.h5"
    run.save(path, "r")
    with h5py.File(path, "r+") as f:
        f.copy("runs/r", f["runs"], name="copy")
    other = tmp_path / "other.h5"
    with h5py.File(path, "r") as src, h5py.File(other, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        src.copy("runs/r", dst.require_group("runs"), name="r")
    for study, name in ((path, "copy"), (other, "r")):
        back = lcsim.open(study)[name]
        pd.testing.assert_frame_equal(back.metrics(), run.metrics())
        np.testing.assert_array_equal(back.arrays["occupancy"], run.arrays["occupancy"])
        assert len(back.events()) == len(run.events())


def test_one_hdf5_library_in_the_process():
    h5py = pytest.importorskip("h5py")
    assert h5py.version.hdf5_version == lcsim.hdf5_version()
    maps = Path("/proc/self/maps").read_text()
    libs = {line.split()[-1] for line in maps.splitlines() if "libhdf5" in line and "/" in line}
    libs = {os.path.realpath(p) for p in libs if "hl" not in os.path.basename(p)}
    assert len(libs) == 1, libs


# ---- interpreter integration ----------------------------------------------------------------

LONG = SMALL.replace("count: 2000", "count: 4000000").replace("replications: 4", "replications: 40")


def test_gil_is_released_while_simulating():
    scenario = lcsim.Scenario.from_yaml(LONG)
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (lcsim.simulate(scenario, threads=1, replications=2), done.set())
    )
    worker.start()
    counter = 0
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        counter += 1
    still_running = worker.is_alive() and not done.is_set()
    worker.join()
    assert still_running, "the simulation finished too quickly to tell"
    assert counter > 10000  # the main thread ran Python code while C++ simulated


def test_keyboard_interrupt_stops_within_a_second_and_keeps_the_study(tmp_path, run):
    path = tmp_path / "study.h5"
    run.save(path, "before")
    before = path.read_bytes()
    scenario = lcsim.Scenario.from_yaml(LONG)
    # Ctrl-C as in a Python session, however pytest was started (a shell starts background jobs
    # with SIGINT ignored, and Python then keeps ignoring it)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            lcsim.simulate(scenario).save(path, "after")
        elapsed = time.monotonic() - start
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert elapsed < 1.5  # signal at 0.5 s, stopped within a second
    assert path.read_bytes() == before
    assert lcsim.open(path).runs() == ["before"]


# ---- package surface ------------------------------------------------------------------------


def test_public_names_exist_and_core_stub_is_complete():
    for name in lcsim.__all__:
        assert hasattr(lcsim, name), name
    stub = Path(lcsim.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    declared = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    declared |= {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target]}
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert public <= declared, public - declared
