"""`lcsim sweep`: grids and explicit points over scenario paths, stored under /sweeps."""

import json

import h5py
import pytest

from lcsim import _core

SMALL = """\
name: small
horizon: 120
report_every: 10
replications: 3
seed: 3
won: customer
stages:
  lead: {dwell: {mean: 5}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {mean: 8}, next: {customer: 0.4, lead: 0.2, lost: 0.4}}
  customer: {absorbing: true, revenue_per_month: 100}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 500}]
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 3}}
    reach: 0.3
    cost: 10
    effect: {move: {to: customer, probability: 0.2}}
"""

KEY_METRICS = ["conversions", "conversion_rate", "revenue", "touchpoint_cost", "net_value"]


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def grid_args(small):
    return [
        "sweep",
        small,
        "--set",
        "touchpoints.webinar.reach=0.1,0.6",
        "--set",
        "stages.lead.next={mql: 0.7, lost: 0.3},{mql: 0.3, lost: 0.7}",
        "-t",
        "1",
    ]


def test_grid_2x2_json(lcsim_cli, small):
    out = lcsim_cli(*grid_args(small), "--json")
    assert out.returncode == 0, out.stderr
    j = json.loads(out.stdout)
    assert j["design"] == "grid"
    assert j["parameters"] == ["touchpoints.webinar.reach", "stages.lead.next"]
    points = j["points"]
    assert [p["point"] for p in points] == [0, 1, 2, 3]
    # Cartesian product, the first --set varying slowest.
    assert [p["parameters"]["touchpoints.webinar.reach"] for p in points] == [0.1, 0.1, 0.6, 0.6]
    assert [p["parameters"]["stages.lead.next"] for p in points] == [
        {"mql": 0.7, "lost": 0.3},
        {"mql": 0.3, "lost": 0.7},
    ] * 2
    for p in points:
        assert p["seed"] == 3 and p["replications"] == 3  # common random numbers: one seed
        metrics = {row["metric"]: row for row in p["summary"]}
        for m in KEY_METRICS:
            assert metrics[m]["ci_low"] <= metrics[m]["mean"] <= metrics[m]["ci_high"]
    conversions = [{r["metric"]: r["mean"] for r in p["summary"]}["conversions"] for p in points]
    assert (
        conversions[0] > conversions[1] and conversions[2] > conversions[3]
    )  # more leads into mql
    assert conversions[2] > conversions[0]  # a wider reach converts more


def test_grid_text_table(lcsim_cli, small):
    out = lcsim_cli(*grid_args(small), "-r", "2")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "grid of 4 points over 2 parameters" in lines[0]
    assert "2 replications per point" in lines[0] and "seed 3" in lines[0]
    header = next(line for line in lines if line.lstrip().startswith("point"))
    for column in ("touchpoints.webinar.reach", "stages.lead.next", "metric", "mean", "95% CI"):
        assert column in header
    rows = [line.split() for line in lines if line.strip() and line.split()[0].isdigit()]
    assert len(rows) == 4 * len(KEY_METRICS)  # tidy: one row per point and metric
    assert {r[0] for r in rows} == {"0", "1", "2", "3"}
    assert [r[1] for r in rows if r[0] == "3"] == ["0.6"] * len(KEY_METRICS)


def test_out_stores_the_sweep_with_each_points_scenario(lcsim_cli, small, tmp_path):
    study = tmp_path / "study.h5"
    out = lcsim_cli(*grid_args(small), "-r", "2", "--out", study, "--name", "grid1")
    assert out.returncode == 0, out.stderr
    assert "saved as sweep 'grid1'" in out.stdout
    with h5py.File(study, "r") as f:
        group = f["sweeps/grid1"]
        assert group.attrs["design"] == "grid"
        assert list(group.attrs["parameters"]) == ["touchpoints.webinar.reach", "stages.lead.next"]
        points = group["points"][:]
        assert list(points["point"]) == [0, 1, 2, 3]
        assert [v.decode() for v in points["touchpoints.webinar.reach"]] == [
            "0.1",
            "0.1",
            "0.6",
            "0.6",
        ]
        assert json.loads(points["stages.lead.next"][1].decode()) == {"mql": 0.3, "lost": 0.7}
        assert sorted(f["runs"]) == [f"grid1.p{i}" for i in range(4)]
    design, parameters, values, runs = _core.study_read_sweep(str(study), "grid1")
    assert design == "grid" and len(runs) == 4
    assert values[3] == ["0.6", '{"mql": 0.3, "lost": 0.7}']
    text = runs[3].info.scenario_text
    assert "reach: 0.6" in text and "{mql: 0.3, lost: 0.7}" in text
    assert "reach: 0.1" in runs[0].info.scenario_text
    assert _core.study_sweeps(str(study)) == ["grid1"]
    # The name is taken now: refused before simulating, and the study is unchanged.
    again = lcsim_cli(*grid_args(small), "-r", "2", "--out", study, "--name", "grid1")
    assert again.returncode == 2
    assert "sweep 'grid1' already exists" in again.stderr


def test_unknown_path_suggests_close_matches(lcsim_cli, small, tmp_path):
    out = lcsim_cli(
        "sweep", small, "--set", "touchpoint.webinar.reach=0.1,0.2", "--out", tmp_path / "s.h5"
    )
    assert out.returncode == 2
    assert (
        "unknown path 'touchpoint.webinar.reach'; did you mean 'touchpoints.webinar.reach'"
        in out.stderr
    )
    assert not (tmp_path / "s.h5").exists()
    bad_index = lcsim_cli("sweep", small, "--set", "arrivals.initial[2].count=10")
    assert bad_index.returncode == 2 and "'arrivals.initial' has 1 item" in bad_index.stderr


def test_points_from_csv(lcsim_cli, small, tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text(
        "touchpoints.webinar.reach,stages.lead.next,arrivals.initial[0].count\n"
        '0.2,"{mql: 0.6, lost: 0.4}",100\n'
        '0.4,"{mql: 0.4, lost: 0.6}",200\n'
        '0.9,"{mql: 0.5, lost: 0.5}",300\n'
    )
    out = lcsim_cli("sweep", small, "--points", csv, "-r", "2", "--json")
    assert out.returncode == 0, out.stderr
    j = json.loads(out.stdout)
    assert j["design"] == "points"
    assert j["parameters"] == [
        "touchpoints.webinar.reach",
        "stages.lead.next",
        "arrivals.initial[0].count",
    ]
    assert [p["parameters"] for p in j["points"]] == [
        {
            "touchpoints.webinar.reach": 0.2,
            "stages.lead.next": {"mql": 0.6, "lost": 0.4},
            "arrivals.initial[0].count": 100,
        },
        {
            "touchpoints.webinar.reach": 0.4,
            "stages.lead.next": {"mql": 0.4, "lost": 0.6},
            "arrivals.initial[0].count": 200,
        },
        {
            "touchpoints.webinar.reach": 0.9,
            "stages.lead.next": {"mql": 0.5, "lost": 0.5},
            "arrivals.initial[0].count": 300,
        },
    ]
    customers = [{r["metric"]: r["mean"] for r in p["summary"]}["customers"] for p in j["points"]]
    assert customers == [100, 200, 300]


def test_points_from_json(lcsim_cli, small, tmp_path):
    points = tmp_path / "points.json"
    points.write_text(
        json.dumps(
            [
                {"touchpoints.webinar.reach": 0.2, "touchpoints.webinar.cost": 5},
                {"touchpoints.webinar.cost": 50, "touchpoints.webinar.reach": 0.8},
            ]
        )
    )
    out = lcsim_cli("sweep", small, "--points", points, "-r", "2", "--json")
    assert out.returncode == 0, out.stderr
    j = json.loads(out.stdout)
    assert j["parameters"] == ["touchpoints.webinar.reach", "touchpoints.webinar.cost"]
    assert [p["parameters"]["touchpoints.webinar.cost"] for p in j["points"]] == [5, 50]


def test_invalid_point_names_the_point_and_field(lcsim_cli, small, tmp_path):
    out = lcsim_cli(
        "sweep", small, "--set", "stages.lead.next.mql=0.5,0.9", "--out", tmp_path / "s.h5"
    )
    assert out.returncode == 2
    assert "sweep point 1: stages.lead.next.mql=0.9" in out.stderr
    assert "stages.lead.next: " in out.stderr and "sum" in out.stderr
    assert "sweep point 0" not in out.stderr
    assert not (tmp_path / "s.h5").exists()
    typo = lcsim_cli("sweep", small, "--set", "touchpoints.webinar.reech=0.5")
    assert typo.returncode == 2
    assert "touchpoints.webinar.reech" in typo.stderr and "did you mean 'reach'" in typo.stderr


def test_bad_options(lcsim_cli, small, tmp_path):
    none = lcsim_cli("sweep", small)
    assert none.returncode == 2 and "--set" in none.stderr
    no_eq = lcsim_cli("sweep", small, "--set", "touchpoints.webinar.reach")
    assert no_eq.returncode == 2 and "PATH=VALUE" in no_eq.stderr
    twice = lcsim_cli("sweep", small, "--set", "seed=1,2", "--set", "seed=3")
    assert twice.returncode == 2 and "given twice" in twice.stderr
    csv = tmp_path / "p.csv"
    csv.write_text("seed\n1\n")
    both = lcsim_cli("sweep", small, "--set", "seed=1", "--points", csv)
    assert both.returncode == 2
    ragged = tmp_path / "r.csv"
    ragged.write_text("seed,horizon\n1,100\n2\n")
    out = lcsim_cli("sweep", small, "--points", ragged)
    assert out.returncode == 2 and "r.csv:3:" in out.stderr
    assert "--points" in lcsim_cli("sweep", "--help").stdout
    assert "Latin hypercube" in lcsim_cli("sweep", "--help").stdout
