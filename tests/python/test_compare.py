"""Paired comparisons from Python and the command line."""

import json

import numpy as np
import pytest
from conftest import SCENARIOS

import lcsim

B2B = SCENARIOS / "b2b_saas"

SMALL = """\
name: base
horizon: 200
report_every: 10
replications: 8
seed: 11
won: customer
stages:
  lead: {dwell: {mean: 6}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: gamma, shape: 2, mean: 10}, next: {sql: 0.3, lead: 0.2, lost: 0.5}}
  sql: {dwell: {mean: 8}, next: {customer: 0.4, lost: 0.6}}
  customer: {absorbing: true, revenue_per_month: 100}
  lost: {absorbing: true}
segments:
  icp: {share: 0.4}
  smb: {share: 0.6}
arrivals:
  initial: [{stage: lead, count: 3000}]
  streams: [{stage: lead, rate_per_day: 15}]
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 3}}
    reach: 0.0
    cost: 15
    effect: {move: {to: sql, probability: 0.3}}
"""


@pytest.fixture(scope="module")
def base():
    return lcsim.Scenario.from_yaml(SMALL, "base.yaml")


@pytest.fixture(scope="module")
def cmp(base):
    return lcsim.compare(
        base, base.with_changes({"touchpoints.webinar.reach": 0.3}), replications=12
    )


def test_identical_variant_has_exactly_zero_deltas(base):
    c = lcsim.compare(base, base, replications=5, independent=False)
    d = c.deltas()
    d = d[d["n"] > 0]
    assert (d["delta"] == 0).all() and (d["ci_low"] == 0).all() and (d["ci_high"] == 0).all()
    assert (c.who_changed()[["gained", "lost"]] == 0).all().all()
    assert c.changed_touchpoints == [[]]


def test_deltas_table_and_variance_reduction(cmp):
    d = cmp.deltas().set_index("metric")
    assert list(cmp.deltas().columns) == [
        "variant",
        "metric",
        "base_mean",
        "variant_mean",
        "delta",
        "delta_std",
        "ci_low",
        "ci_high",
        "lift",
        "lift_ci_low",
        "lift_ci_high",
        "variance_reduction",
        "n",
    ]
    conv = d.loc["conversions"]
    assert conv["delta"] > 0 and conv["ci_low"] > 0
    assert conv["variance_reduction"] > 2.0  # measured against independent streams
    np.testing.assert_allclose(
        conv["delta"],
        cmp.variants[0].metrics()["conversions"].mean() - cmp.base.metrics()["conversions"].mean(),
    )
    assert cmp.replications == 12
    assert cmp.changed_touchpoints == [["webinar"]]
    assert (
        " customers won (95% CI " in cmp.verdicts[0] and "net value (discounted)" in cmp.verdicts[0]
    )


def test_who_changed_only_among_reached_customers(cmp):
    w = cmp.who_changed()
    not_reached = w[w["reached_in"].isna()]
    assert (not_reached["gained"] == 0).all() and (not_reached["lost"] == 0).all()
    reached = w[w["reached_in"].notna()]
    assert set(reached["reached_in"]) == {"mql"}
    assert set(w["segment"]) == {"icp", "smb"}
    net = int(w["gained"].sum() - w["lost"].sum())
    assert net == int(
        cmp.variants[0].metrics()["conversions"].sum() - cmp.base.metrics()["conversions"].sum()
    )


def test_precision_target_reports_replications(base):
    c = lcsim.compare(
        base,
        base.with_changes({"touchpoints.webinar.reach": 0.3}),
        replications=4,
        batch=4,
        precision=0.05,
        precision_on="mean",
        independent=False,
    )
    assert c.precision_met and c.replications >= 4 and c.replications % 4 == 0
    s = c.base.summary().set_index("metric").loc["conversions"]
    assert (s["ci_high"] - s["ci_low"]) / 2 <= 0.05 * s["mean"]


def test_comparison_saved_and_read_back(cmp, tmp_path):
    path = tmp_path / "study.h5"
    cmp.save(path, "webinar")
    study = lcsim.open(path)
    assert study.comparisons() == ["webinar"]
    assert "webinar.base" in study.runs() and "webinar.v1" in study.runs()
    again = study.comparison("webinar")
    assert again.deltas().drop(columns="variant").equals(cmp.deltas().drop(columns="variant"))
    assert again.verdicts == cmp.verdicts
    assert (
        again.who_changed()
        .drop(columns="variant")
        .equals(cmp.who_changed().drop(columns="variant"))
    )


def test_cli_compare_text_json_and_study(lcsim_cli, tmp_path):
    base, webinar, faster = (
        B2B / f for f in ("baseline.yaml", "webinar_for_mqls.yaml", "faster_follow_up.yaml")
    )
    res = lcsim_cli("compare", base, webinar, faster, "--replications", "8", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["replications"] == 8
    assert [v["name"] for v in data["variants"]] == [
        "b2b_saas_webinar_for_mqls",
        "b2b_saas_faster_follow_up",
    ]
    assert data["variants"][0]["changed_touchpoints"] == ["webinar"]
    assert data["variants"][1]["changed_touchpoints"] == ["first_call"]
    conv = next(d for d in data["variants"][0]["deltas"] if d["metric"] == "conversions")
    assert conv["delta"] > 0
    # Common random numbers on the bundled webinar variant: measured, and large.
    assert conv["variance_reduction"] > 2.0
    text = lcsim_cli(
        "compare", base, webinar, "--replications", "3", "--out", tmp_path / "s.h5", "--name", "w"
    )
    assert text.returncode == 0, text.stderr
    assert (
        "customers won" in text.stdout
        and "net value (discounted)" in text.stdout
        and "who changed" in text.stdout
    )
    assert lcsim.open(tmp_path / "s.h5").comparisons() == ["w"]
    bad = lcsim_cli("compare", base, webinar, "--precision", "0.02", "--precision-metric", "nope")
    assert bad.returncode == 2 and "unknown metric 'nope'" in bad.stderr
