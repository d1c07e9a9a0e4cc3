"""lcsim.sweep: designs (grid, explicit points, Latin hypercube), tidy results, studies, and Dask.

The Dask tests start one real LocalCluster with two worker processes for the module and check that
the sweep's numbers equal those of local threads bit for bit.
"""

import itertools
import json
import math
import time

import numpy as np
import pandas as pd
import pytest

import lcsim
from lcsim import _core
from lcsim.sweep import _design

TINY = """\
name: tiny
horizon: 120
report_every: 10
seed: 11
replications: 4
won: customer
stages:
  lead: {dwell: {mean: 5}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {mean: 8}, next: {customer: 0.4, lead: 0.1, lost: 0.5}}
  customer: {dwell: {mean: 60}, next: {churned: 1.0}}
  lost: {absorbing: true}
  churned: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 300}]
  streams: [{stage: lead, rate_per_day: 3}]
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 3}}
    reach: 0.25
    cost: 15
    effect: {move: {to: customer, probability: 0.2}, window: 7, hazard_factor: 1.3}
"""
REACH = "touchpoints.webinar.reach"
EVERY = "touchpoints.webinar.schedule.calendar.every"
COST = "touchpoints.webinar.cost"
STATS = ["metric", "mean", "std", "ci_low", "ci_high", "n"]


@pytest.fixture(scope="module")
def base():
    return lcsim.Scenario.from_yaml(TINY, "tiny.yaml")


@pytest.fixture(scope="module")
def grid(base):
    return lcsim.sweep(base, {REACH: [0.1, 0.3, 0.5], EVERY: [7, 14]}, replications=3, threads=1)


def webinar(run) -> dict:
    return run.scenario.to_dict()["touchpoints"]["webinar"]


def same_numbers(a: lcsim.Run, b: lcsim.Run) -> None:
    """Every array and the summary equal bit for bit (provenance such as `created` may differ)."""
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        assert a.arrays[key].shape == b.arrays[key].shape, key
        assert a.arrays[key].dtype == b.arrays[key].dtype, key
        assert a.arrays[key].tobytes() == b.arrays[key].tobytes(), key
    pd.testing.assert_frame_equal(a.summary(), b.summary(), check_exact=True)
    assert a.info.scenario_text == b.info.scenario_text
    assert (a.info.seed, a.replications, a.name) == (b.info.seed, b.replications, b.name)


# ---- designs ---------------------------------------------------------------------------------
def test_grid_is_the_cartesian_product_in_dict_order(base, grid):
    expected = list(itertools.product([0.1, 0.3, 0.5], [7, 14]))  # the last path varies fastest
    assert grid.design == "grid"
    assert grid.parameters == [REACH, EVERY]
    assert len(grid) == len(grid.runs) == 6
    points = grid.points
    assert list(points.columns) == ["point", REACH, EVERY]
    assert points["point"].tolist() == list(range(6))
    assert list(zip(points[REACH], points[EVERY])) == expected
    assert points[REACH].dtype == np.float64 and points[EVERY].dtype == np.int64


def test_each_point_runs_its_own_scenario_with_the_base_seed(base, grid):
    for (reach, every), run, scenario in zip(
        itertools.product([0.1, 0.3, 0.5], [7, 14]), grid.runs, grid.scenarios
    ):
        assert webinar(run)["reach"] == reach
        assert webinar(run)["schedule"]["calendar"]["every"] == every
        assert webinar(run)["cost"] == 15  # untouched fields stay as in the base
        assert scenario == base.with_changes({REACH: reach, EVERY: every})
        assert run.replications == 3
        assert run.info.seed == base.seed  # common random numbers across points
    assert [r.name for r in grid.runs] == [f"tiny.p{i}" for i in range(6)]


def test_a_point_equals_simulating_its_scenario(base, grid):
    """A sweep point is exactly lcsim.simulate of base.with_changes(point) with the same seed."""
    alone = lcsim.simulate(
        base.with_changes({REACH: 0.5, EVERY: 7}),
        replications=3,
        seed=base.seed,
        threads=2,
        name="tiny.p4",
    )
    same_numbers(grid.runs[4], alone)
    # The webinar's reach shows in the touchpoint counts: more reached contacts per contact.
    reached = [
        r.touchpoints()["reached"].sum() / r.touchpoints()["contacts"].sum() for r in grid.runs[::2]
    ]
    assert reached == sorted(reached) and reached[0] < reached[-1]


def test_explicit_points(base):
    pts = [{REACH: 0.2, COST: 10}, {COST: 30, REACH: 0.6}, {REACH: 0.4, COST: 20.5}]
    sw = lcsim.sweep(base, points=pts, replications=2, threads=1)
    assert sw.design == "points"
    assert sw.parameters == [REACH, COST]  # the first point's order
    assert sw.points[REACH].tolist() == [0.2, 0.6, 0.4]
    assert sw.points[COST].tolist() == [10, 30, 20.5]
    for p, run in zip(pts, sw.runs):
        assert webinar(run)["reach"] == p[REACH] and webinar(run)["cost"] == p[COST]

    with pytest.raises(ValueError, match="point 1 sets"):
        lcsim.sweep(base, points=[{REACH: 0.2}, {COST: 3}], replications=2)


def bins(values, low, high, n):
    return sorted(int(math.floor((v - low) / (high - low) * n)) for v in values)


def test_latin_hypercube_is_stratified_and_deterministic(base):
    ranges = {REACH: (0.05, 0.65), COST: (5, 25)}
    sw = lcsim.sweep(base, latin_hypercube=ranges, samples=5, seed=3, replications=2, threads=1)
    assert sw.design == "latin_hypercube" and len(sw) == 5
    for path, (low, high) in ranges.items():
        values = sw.points[path].to_numpy()
        assert ((values >= low) & (values < high)).all()
        assert bins(values, low, high, 5) == list(range(5)), (
            f"{path}: each of the 5 bins holds one point"
        )
    for i, run in enumerate(sw.runs):
        assert (
            webinar(run)["reach"] == sw.points[REACH][i]
            and webinar(run)["cost"] == sw.points[COST][i]
        )
        assert run.info.seed == 3

    # The design is a function of the seed (numpy Generator seeded with it).
    assert _design(None, None, ranges, 5, 3) == (
        "latin_hypercube",
        [REACH, COST],
        sw.points[[REACH, COST]].values.tolist(),
    )
    assert _design(None, None, ranges, 5, 4)[2] != _design(None, None, ranges, 5, 3)[2]
    # Without a seed, the scenario's seed draws the design (and seeds the runs).
    default = lcsim.sweep(base, latin_hypercube=ranges, samples=2, replications=1, threads=1)
    assert (
        default.points[[REACH, COST]].values.tolist()
        == _design(None, None, ranges, 2, base.seed)[2]
    )


def test_latin_hypercube_strata_with_many_samples():
    n = 200
    _, names, values = _design(None, None, {"a": (0, 1), "b": (-3, 7), "c": (1e-3, 2e-3)}, n, 42)
    assert names == ["a", "b", "c"]
    columns = np.array(values).T
    for col, (low, high) in zip(columns, [(0, 1), (-3, 7), (1e-3, 2e-3)]):
        assert bins(col, low, high, n) == list(range(n))
    assert (
        abs(np.corrcoef(columns[0], columns[1])[0, 1]) < 0.3
    )  # bins paired at random, not in step


def test_unknown_path_lists_close_matches(base):
    # An unknown section on the way: the closest existing paths.
    with pytest.raises(lcsim.ScenarioError) as err:
        lcsim.sweep(base, {"touchpoints.webinr.reach": [0.1, 0.2]}, replications=1)
    message = str(err.value)
    assert "sweep point 0" in message and "touchpoints.webinr.reach" in message
    assert "did you mean" in message and f"'{REACH}'" in message
    assert err.value.problems and err.value.problems[0].field == "touchpoints.webinr.reach"
    # An unknown last key: the scenario's own check names the allowed keys and the closest one.
    with pytest.raises(
        lcsim.ScenarioError,
        match=r"sweep point 0(.|\n)*unknown key 'rech'(.|\n)*did you mean 'reach'",
    ):
        lcsim.sweep(base, {"touchpoints.webinar.rech": [0.1, 0.2]}, replications=1)


def test_invalid_value_names_the_point(base):
    with pytest.raises(
        lcsim.ScenarioError, match=r"sweep point 1 \(touchpoints.webinar.reach=1.5\)"
    ) as err:
        lcsim.sweep(base, {REACH: [0.5, 1.5]}, replications=1)
    assert any("reach" in p.field for p in err.value.problems)


def test_argument_errors(base):
    with pytest.raises(TypeError, match="exactly one"):
        lcsim.sweep(base, replications=1)
    with pytest.raises(TypeError, match="exactly one"):
        lcsim.sweep(base, {REACH: [0.1]}, points=[{REACH: 0.2}])
    with pytest.raises(TypeError, match="samples"):
        lcsim.sweep(base, latin_hypercube={REACH: (0.1, 0.2)})
    with pytest.raises(TypeError, match="samples"):
        lcsim.sweep(base, {REACH: [0.1]}, samples=3)
    with pytest.raises(ValueError, match="no values"):
        lcsim.sweep(base, {REACH: []})
    with pytest.raises(ValueError, match="list of values"):
        lcsim.sweep(base, {REACH: 0.3})
    with pytest.raises(ValueError, match="low < high"):
        lcsim.sweep(base, latin_hypercube={REACH: (0.5, 0.1)}, samples=3)
    with pytest.raises(ValueError, match="batch"):
        lcsim.sweep(base, {REACH: [0.1]}, batch=2)
    with pytest.raises(lcsim.ScenarioError, match="replications"):
        lcsim.sweep(base, {REACH: [0.1]}, replications=0)


def test_progress_counts_replications(base):
    calls = []
    lcsim.sweep(
        base,
        {REACH: [0.1, 0.2]},
        replications=3,
        threads=1,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls and calls[-1] == (6, 6)
    assert all(total == 6 for _, total in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


# ---- results and studies ---------------------------------------------------------------------
def test_results_are_tidy(grid):
    res = grid.results()
    assert list(res.columns) == ["point", REACH, EVERY, *STATS]
    metrics = grid.runs[0].metric_names
    assert len(res) == len(grid) * len(metrics)
    assert res[REACH].dtype == np.float64 and res[EVERY].dtype == np.int64
    for i, run in enumerate(grid.runs):
        rows = res[res["point"] == i]
        assert (rows[REACH] == grid.points[REACH][i]).all() and (
            rows[EVERY] == grid.points[EVERY][i]
        ).all()
        pd.testing.assert_frame_equal(
            rows[STATS].reset_index(drop=True), run.summary()[STATS], check_exact=True
        )

    some = grid.results(metrics=["conversions", "revenue"])
    assert set(some["metric"]) == {"conversions", "revenue"} and len(some) == 2 * len(grid)
    with pytest.raises(ValueError, match="unknown metric"):
        grid.results(metrics=["nope"])


def test_save_and_load_round_trip(tmp_path, grid, base):
    path = tmp_path / "study.h5"
    grid.save(path, "webinar_grid")
    lhs = lcsim.sweep(
        base, latin_hypercube={REACH: (0.1, 0.4)}, samples=3, seed=5, replications=2, threads=1
    )
    lhs.save(path, "webinar_lhs")
    assert _core.study_sweeps(str(path)) == ["webinar_grid", "webinar_lhs"]

    for saved, name in ((grid, "webinar_grid"), (lhs, "webinar_lhs")):
        loaded = lcsim.Sweep.load(path, name)
        assert (loaded.design, loaded.parameters) == (saved.design, saved.parameters)
        pd.testing.assert_frame_equal(
            loaded.points, saved.points, check_exact=True
        )  # floats exact through JSON
        pd.testing.assert_frame_equal(loaded.results(), saved.results(), check_exact=True)
        for a, b in zip(loaded.runs, saved.runs):
            assert a.info.scenario_text == b.info.scenario_text  # each point's scenario is stored
            assert a.scenario == b.scenario
            for key in a.arrays:
                assert a.arrays[key].tobytes() == b.arrays[key].tobytes()

    design, parameters, values, runs = _core.study_read_sweep(str(path), "webinar_grid")
    assert design == "grid" and parameters == [REACH, EVERY]
    assert values[1] == ["0.1", "14"]  # JSON text
    with pytest.raises((lcsim.ScenarioError, lcsim.StudyError), match="already exists"):
        grid.save(path, "webinar_grid")  # names are never overwritten


def test_list_values_round_trip(tmp_path, base):
    """Values that are lists (schedule days) are stored as JSON and come back as lists."""
    days = "touchpoints.webinar.schedule.calendar.days"
    sw = lcsim.sweep(base, {days: [[10], [10, 40]]}, replications=1, threads=1)
    assert webinar(sw.runs[1])["schedule"]["calendar"]["days"] == [10, 40]
    sw.save(tmp_path / "s.h5", "days")
    loaded = lcsim.Sweep.load(tmp_path / "s.h5", "days")
    assert loaded.points[days].tolist() == [[10], [10, 40]]
    assert json.loads(_core.study_read_sweep(str(tmp_path / "s.h5"), "days")[2][1][0]) == [10, 40]


# ---- Dask ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    client = Client(cluster)
    client.wait_for_workers(2)
    print(f"LocalCluster with 2 worker processes up in {time.perf_counter() - started:.1f} s")
    yield client
    client.close()
    cluster.close()


def test_dask_equals_threads_bit_for_bit(base, grid, client):
    started = time.perf_counter()
    calls = []
    on_dask = lcsim.sweep(
        base,
        {REACH: [0.1, 0.3, 0.5], EVERY: [7, 14]},
        replications=3,
        client=client,
        progress=lambda d, t: calls.append((d, t)),
    )
    print(f"6 points x 3 replications on Dask: {time.perf_counter() - started:.2f} s")
    assert (on_dask.design, on_dask.parameters) == (grid.design, grid.parameters)
    pd.testing.assert_frame_equal(on_dask.points, grid.points, check_exact=True)
    for a, b in zip(on_dask.runs, grid.runs):
        same_numbers(a, b)
        np.testing.assert_array_equal(a.arrays["replication"], np.arange(3))
    pd.testing.assert_frame_equal(on_dask.results(), grid.results(), check_exact=True)
    assert (
        calls[-1] == (18, 18) and len(calls) == 12
    )  # default batch: ceil(3 / 2 workers) = 2 -> 2 tasks a point


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_dask_batches_join_to_the_same_run(base, client, batch):
    """Replications split into batches of any size, finishing in any order, join to the same run."""
    threads = lcsim.sweep(base, points=[{REACH: 0.4}], replications=7, threads=2)
    on_dask = lcsim.sweep(base, points=[{REACH: 0.4}], replications=7, client=client, batch=batch)
    same_numbers(on_dask.runs[0], threads.runs[0])
    np.testing.assert_array_equal(on_dask.runs[0].arrays["replication"], np.arange(7))


def test_dask_latin_hypercube_and_study(tmp_path, base, client):
    ranges = {REACH: (0.1, 0.5), COST: (5, 25)}
    threads = lcsim.sweep(
        base, latin_hypercube=ranges, samples=4, seed=9, replications=2, threads=1
    )
    on_dask = lcsim.sweep(
        base, latin_hypercube=ranges, samples=4, seed=9, replications=2, client=client
    )
    pd.testing.assert_frame_equal(on_dask.points, threads.points, check_exact=True)
    for a, b in zip(on_dask.runs, threads.runs):
        same_numbers(a, b)
    on_dask.save(tmp_path / "dask.h5", "lhs")  # the caller writes the study
    loaded = lcsim.Sweep.load(tmp_path / "dask.h5", "lhs")
    pd.testing.assert_frame_equal(loaded.results(), threads.results(), check_exact=True)


def test_dask_worker_errors_reach_the_caller(client):
    """The worker function's errors come back to the caller as lcsim's own exceptions."""
    from lcsim.sweep import _simulate_batch

    future = client.submit(
        _simulate_batch, "name: [broken", "broken.yaml", 1, 0, 1, 1, "x", pure=False
    )
    with pytest.raises(lcsim.ScenarioError, match="broken.yaml"):
        future.result()
