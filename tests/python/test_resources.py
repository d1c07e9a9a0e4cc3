"""Resources (teams with limited capacity) and referrals in results: Run.resources(), Run.queue(),
the study layout, pickling for Dask, lcsim.plot.resources and the command line's output."""

import json
import math
import pickle

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import lcsim  # noqa: E402
import lcsim.plot  # noqa: E402
from lcsim import _core  # noqa: E402

TINY_TEAM = """\
name: tiny_team
horizon: 60
report_every: 7
seed: 7
replications: 4
won: won
stages:
  lead: {dwell: {dist: exponential, mean: 2}, next: {sql: 0.6, lost: 0.4}}
  sql: {next: {won: 0.5, lost: 0.5}}
  advocate: {dwell: {dist: exponential, mean: 30}, next: {lost: 1.0}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 300}, {stage: advocate, count: 50}]
  streams: [{stage: lead, rate_per_day: 20}]
resources:
  sales:
    servers: 2
    serves: [sql]
    handoff: {dist: fixed, days: 0.5}
    service: {dist: exponential, mean: 0.2}
    patience: {dist: exponential, mean: 3}
    abandon_to: lost
    outcome: {decay: {stage: won, half_life: 2, to: lost}}
referrals:
  word_of_mouth: {from: advocate, rate_per_day: 0.02, to: lead}
"""

NO_TEAM = """\
name: no_team
horizon: 60
report_every: 7
seed: 7
replications: 3
won: won
stages:
  lead: {dwell: {dist: exponential, mean: 2}, next: {won: 0.3, lost: 0.7}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 200}]
"""

RESOURCE_METRICS = [
    "joined",
    "served",
    "abandoned",
    "waited",
    "wait_mean",
    "wait_p95",
    "queue_time_mean",
    "queue_mean",
    "utilisation",
    "staff_cost",
]
R, T, Q = 4, 10, 1  # report times 0, 7, ..., 56 and the horizon 60


@pytest.fixture(scope="module")
def run():
    return lcsim.simulate(lcsim.Scenario.from_yaml(TINY_TEAM, "tiny_team.yaml"), threads=1)


@pytest.fixture(scope="module")
def plain():
    return lcsim.simulate(lcsim.Scenario.from_yaml(NO_TEAM, "no_team.yaml"), threads=1)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# ---- labels and arrays ---------------------------------------------------------------------
def test_names_and_array_shapes(run):
    assert run.resource_names == ["sales"]
    assert list(run.info.resource_names) == ["sales"]
    assert _core.resource_metric_names() == RESOURCE_METRICS
    for m in RESOURCE_METRICS:
        assert f"resource.sales.{m}" in run.metric_names
    assert "referrals" in run.metric_names
    causes = list(run.info.cause_names)
    assert {"service:sales", "abandon:sales", "referral:word_of_mouth"} <= set(causes)
    length, wait = run.arrays["queue_length"], run.arrays["queue_wait"]
    assert length.shape == (R, T, Q) and length.dtype == np.int64
    assert wait.shape == (R, T, Q) and wait.dtype == np.float64
    # zero-copy: numpy views memory owned by the C++ results, as for the other arrays
    assert not length.flags.owndata and not wait.flags.owndata
    assert length.flags.c_contiguous and wait.flags.c_contiguous


def test_queue_numbers_are_plausible(run):
    length, wait = run.arrays["queue_length"], run.arrays["queue_wait"]
    assert (length >= 0).all() and length.sum() > 0  # two reps, arrivals at ~12/day into sql
    assert (length[:, 0, :] == 0).all()  # nobody waits at day 0: hand-offs take half a day
    assert np.isnan(wait[:, 0, :]).all()  # no service starts by day 0
    finite = wait[np.isfinite(wait)]
    assert finite.size > 0 and (finite >= 0).all()
    df = run.resources()
    assert (df["served"] + df["abandoned"] <= df["joined"]).all()
    assert ((df["utilisation"] >= 0) & (df["utilisation"] <= 1)).all()
    assert ((df["waited"] >= 0) & (df["waited"] <= 1)).all()
    summary = run.summary().set_index("metric")
    assert summary.loc["referrals", "mean"] > 0  # 50 advocates at 0.02/day over 60 days


# ---- Run.resources() and Run.resource_summary() ---------------------------------------------
def test_resources_table_equals_the_metrics_by_name(run):
    df = run.resources()
    assert list(df.columns) == ["replication", "resource", *RESOURCE_METRICS]
    assert len(df) == R * Q
    assert list(df["resource"].cat.categories) == ["sales"]
    np.testing.assert_array_equal(df["replication"], run.arrays["replication"])
    metrics = run.metrics()
    summary = run.summary().set_index("metric")
    for m in RESOURCE_METRICS:
        name = f"resource.sales.{m}"
        assert same_bits(df[m].to_numpy(), metrics[name].to_numpy()), m
        values = df[m].to_numpy(float)
        kept = values[~np.isnan(values)]
        row = summary.loc[name]
        assert row["n"] == kept.size, m
        if kept.size:
            assert math.isclose(row["mean"], kept.mean(), rel_tol=1e-12, abs_tol=1e-12), m


def test_resource_summary_reshapes_the_summary_rows(run):
    rs = run.resource_summary()
    assert list(rs.columns) == ["resource", "metric", "mean", "std", "ci_low", "ci_high", "n"]
    assert list(rs["metric"]) == RESOURCE_METRICS
    assert list(rs["resource"]) == ["sales"] * len(RESOURCE_METRICS)
    summary = run.summary().set_index("metric")
    expected = summary.loc[[f"resource.sales.{m}" for m in RESOURCE_METRICS]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        rs.drop(columns=["resource", "metric"]), expected, check_exact=True
    )


# ---- Run.queue() -----------------------------------------------------------------------------
def test_queue_is_long_and_equals_the_raw_arrays(run):
    q = run.queue()
    assert list(q.columns) == ["replication", "time", "resource", "queue_length", "wait_mean"]
    assert len(q) == R * T * Q
    assert same_bits(q["queue_length"].to_numpy(), run.arrays["queue_length"].reshape(-1))
    assert same_bits(q["wait_mean"].to_numpy(), run.arrays["queue_wait"].reshape(-1))
    np.testing.assert_array_equal(q["time"].to_numpy(), np.tile(run.report_times, R))
    np.testing.assert_array_equal(
        q["replication"].to_numpy(), np.repeat(run.arrays["replication"], T)
    )
    assert set(q["resource"]) == {"sales"}
    row = q[(q["replication"] == 2) & (q["time"] == 14.0)].iloc[0]
    assert row["queue_length"] == run.arrays["queue_length"][2, 2, 0]


def test_queue_as_xarray(run):
    pytest.importorskip("xarray")
    ds = run.queue(as_xarray=True)
    assert ds["queue_length"].dims == ("replication", "time", "resource")
    assert list(ds["resource"].values) == ["sales"]
    assert same_bits(ds["queue_length"].values, run.arrays["queue_length"])
    assert same_bits(ds["wait_mean"].values, run.arrays["queue_wait"])


# ---- storage and pickling ------------------------------------------------------------------
def test_save_and_open_give_the_same_run(tmp_path, run):
    path = tmp_path / "study.h5"
    run.save(path)
    back = lcsim.open(path)[run.name]
    assert back == run
    assert back.resource_names == ["sales"]
    pd.testing.assert_frame_equal(back.resources(), run.resources(), check_exact=True)
    pd.testing.assert_frame_equal(back.queue(), run.queue(), check_exact=True)


def test_study_layout_has_the_queue_datasets(tmp_path, run):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "study.h5"
    run.save(path, "team")
    with h5py.File(path, "r") as f:
        assert list(f.attrs["format_version"]) == [1, 4]
        g = f["runs/team"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["resource_names"]]
        assert names == ["sales"]
        assert g["queue_length"].shape == (R, T, Q) and g["queue_length"].dtype == np.int64
        assert g["queue_wait"].shape == (R, T, Q) and g["queue_wait"].dtype == np.float64
        assert same_bits(g["queue_length"][()], run.arrays["queue_length"])
        assert same_bits(g["queue_wait"][()], run.arrays["queue_wait"])
        assert "resource.sales.utilisation" in g["metrics"].dtype.names


def test_pickle_and_joined_batches_carry_the_queues(run):
    again = pickle.loads(pickle.dumps(run))
    assert again == run
    assert again.resource_names == ["sales"]
    assert same_bits(again.arrays["queue_wait"], run.arrays["queue_wait"])
    # What a Dask sweep does: batches of replications simulated apart, pickled back and joined.
    scenario = lcsim.Scenario.from_yaml(TINY_TEAM, "tiny_team.yaml")
    parts = [
        _core.simulate(scenario._model, replications=n, threads=1, first_replication=first)
        for first, n in ((0, 1), (1, 3))
    ]
    joined = lcsim.Run(_core.join_batches([pickle.loads(pickle.dumps(p)) for p in parts]))
    for key in ("queue_length", "queue_wait", "metrics"):
        assert same_bits(joined.arrays[key], run.arrays[key]), key


def test_dask_sweep_carries_the_queues():
    distributed = pytest.importorskip("distributed")
    base = lcsim.Scenario.from_yaml(TINY_TEAM, "tiny_team.yaml")
    points = [{"resources.sales.servers": 1}, {"resources.sales.servers": 3}]
    local = lcsim.sweep(base, points=points, replications=R, threads=1)
    with distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            on_dask = lcsim.sweep(base, points=points, replications=R, client=client, batch=2)
    for a, b in zip(on_dask.runs, local.runs):
        assert a.resource_names == ["sales"]
        for key in ("queue_length", "queue_wait", "metrics"):
            assert same_bits(a.arrays[key], b.arrays[key]), key
    # one server queues more than three
    assert local.runs[0].arrays["queue_length"].sum() > local.runs[1].arrays["queue_length"].sum()


# ---- plot --------------------------------------------------------------------------------------
def test_plot_resources_draws_two_panels(run):
    fig = lcsim.plot.resources(run)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 2
    top, bottom = fig.axes
    assert [line.get_label() for line in top.get_lines()] == ["sales"]
    assert [line.get_label() for line in bottom.get_lines()] == ["sales"]
    mean = run.arrays["queue_length"][:, :, 0].mean(axis=0)
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(), mean)
    for ax in (top, bottom):
        assert ax.get_ylabel() and ax.get_legend() is not None
    assert "Queue" in top.get_title() and run.name in top.get_title()
    assert bottom.get_xlabel() == "day"
    assert len(top.collections) == 1  # the 95% band


def test_plot_resources_options_and_errors(run, plain):
    fig = lcsim.plot.resources(run, resource="sales", band=None)
    assert len(fig.axes) == 2 and not fig.axes[0].collections
    _, axes = plt.subplots(1, 2)
    assert lcsim.plot.resources(run, axes=axes, band="range") is axes[0].figure
    with pytest.raises(ValueError, match="unknown resource"):
        lcsim.plot.resources(run, resource="support")
    with pytest.raises(ValueError, match="no resources"):
        lcsim.plot.resources(plain)


# ---- a run without resources -----------------------------------------------------------------
def test_run_without_resources_has_empty_tables(tmp_path, plain):
    assert plain.resource_names == []
    df = plain.resources()
    assert list(df.columns) == ["replication", "resource", *RESOURCE_METRICS] and len(df) == 0
    q = plain.queue()
    assert (
        list(q.columns) == ["replication", "time", "resource", "queue_length", "wait_mean"]
        and len(q) == 0
    )
    rs = plain.resource_summary()
    assert (
        list(rs.columns) == ["resource", "metric", "mean", "std", "ci_low", "ci_high", "n"]
        and len(rs) == 0
    )
    assert plain.arrays["queue_length"].shape == (3, len(plain.report_times), 0)
    assert pickle.loads(pickle.dumps(plain)) == plain
    path = tmp_path / "plain.h5"
    plain.save(path)
    assert lcsim.open(path)[plain.name] == plain
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as f:
        g = f["runs/no_team"]
        assert len(g.attrs["resource_names"]) == 0
        assert "queue_length" not in g and "queue_wait" not in g


# ---- command line ----------------------------------------------------------------------------
def test_cli_json_has_the_resources_block(lcsim_cli, tmp_path, run):
    path = tmp_path / "tiny_team.yaml"
    path.write_text(TINY_TEAM)
    res = lcsim_cli("run", path, "--json", "--threads", "1")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    summary = {row["metric"]: row for row in data["summary"]}
    sales = data["resources"]["sales"]
    for m in RESOURCE_METRICS:
        row = summary[f"resource.sales.{m}"]
        assert sales[m] == {
            "mean": row["mean"],
            "ci_low": row["ci_low"],
            "ci_high": row["ci_high"],
        }, m
    # the CLI simulates the same numbers as Python
    ours = run.summary().set_index("metric")
    assert sales["served"]["mean"] == ours.loc["resource.sales.served", "mean"]
    queue = sales["queue_length"]
    assert queue["report_times"] == list(run.report_times)
    np.testing.assert_allclose(queue["mean"], run.arrays["queue_length"][:, :, 0].mean(axis=0))
    assert len(queue["ci_low"]) == len(queue["ci_high"]) == T
    assert len(sales["queue_wait"]["mean"]) == T
    assert summary["referrals"]["mean"] > 0


def test_cli_text_has_resources_table_and_referrals_line(lcsim_cli, tmp_path):
    path = tmp_path / "tiny_team.yaml"
    path.write_text(TINY_TEAM)
    res = lcsim_cli("run", path)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "\nresources (" in out and "utilisation" in out and "mean queue" in out and "±" in out
    assert "\nreferrals " in out
    assert "resource.sales." not in out  # in the table, not among the metrics
    assert out.index("\nresources (") < out.index("\nfunnel")


def test_cli_without_resources_keeps_its_output(lcsim_cli, tmp_path):
    path = tmp_path / "no_team.yaml"
    path.write_text(NO_TEAM)
    res = lcsim_cli("run", path)
    assert res.returncode == 0, res.stderr
    assert "resources (" not in res.stdout
    assert "\nreferrals " not in res.stdout  # always 0 without referral sources
    data = json.loads(lcsim_cli("run", path, "--json").stdout)
    assert data["resources"] == {}


def test_whatif_on_a_team_pairs_customers_and_shows_the_team(tmp_path, lcsim_cli):
    """Python and CLI what-ifs on team paths: more reps shorten the wait and cost staff."""
    base = lcsim.Scenario.from_yaml(TINY_TEAM)
    more = base.with_changes({"resources.sales.servers": 6})
    cmp = lcsim.compare(base, more, replications=4)
    deltas = cmp.deltas().set_index("metric")
    assert (
        deltas.loc["customers", "delta"] == 0
    )  # same customers in both arms (no team upstream of arrivals)
    assert deltas.loc["resource.sales.wait_mean", "delta"] < 0
    assert deltas.loc["resource.sales.staff_cost", "delta"] == 0  # no cost_per_server_day set

    sw = lcsim.sweep(base, {"resources.sales.patience.mean": [1.0, 6.0]}, replications=3)
    abandoned = sw.results(["resource.sales.abandoned"]).sort_values("point")["mean"].to_numpy()
    assert abandoned[0] > abandoned[1]  # less patience, more give-ups

    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text(TINY_TEAM)
    b.write_text(
        TINY_TEAM.replace("servers: 2", "servers: 6").replace(
            "name: tiny_team", "name: tiny_team_6"
        )
    )
    out = lcsim_cli("compare", a, b, "--replications", "3")
    assert out.returncode == 0, out.stderr
    assert "resource.sales.wait_mean" in out.stdout
    assert "resource.sales.utilisation" in out.stdout
