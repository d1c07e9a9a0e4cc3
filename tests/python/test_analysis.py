"""The closed form of the Markov part: `lcsim analyze` and `lcsim.analyze`, checked by hand,
against simulation, and for its exits and JSON."""

import json
import math

import numpy as np
import pytest
from conftest import SCENARIOS

import lcsim

BASELINE = SCENARIOS / "b2b_saas" / "baseline.yaml"

# a -> b or lost; b -> won, back to a, or lost (solved by hand: P(convert from a) = 6/17,
# E[days to convert | convert] = 140/17, expected visits from a: 20/17 and 12/17).
HAND = """\
name: hand
horizon: 1.0e7
report_every: 1.0e6
replications: 4
seed: 11
won: won
stages:
  a: {dwell: {mean: 2}, next: {b: 0.6, lost: 0.4}}
  b: {dwell: {dist: gamma, shape: 3, mean: 5}, next: {won: 0.5, a: 0.25, lost: 0.25}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: a, count: 20000}]
touchpoints:
  call:
    stages: [b]
    schedule: {after_entry: {days: [1]}}
    effect: {move: {to: won, probability: 0.5}}
"""


@pytest.fixture(scope="module")
def hand():
    return lcsim.Scenario.from_yaml(HAND, "hand.yaml")


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- Python API -----------------------------------------------------------------------------


def test_analyze_matches_the_hand_solution(hand):
    a = lcsim.analyze(hand)
    assert isinstance(a, lcsim.Analysis)
    assert a.conversion_probability == pytest.approx(6 / 17, rel=1e-13)
    assert a.time_to_convert == pytest.approx(140 / 17, rel=1e-12)
    assert a.customers == 20000
    assert list(a.stages.columns) == [
        "stage",
        "absorbing",
        "reach_probability",
        "expected_visits",
        "expected_days",
        "mean_dwell",
    ]
    st = a.stages.set_index("stage")
    assert st.loc["a", "expected_visits"] == pytest.approx(20 / 17)
    assert st.loc["b", "expected_visits"] == pytest.approx(12 / 17)
    assert st.loc["b", "expected_days"] == pytest.approx(60 / 17)
    assert st.loc["lost", "reach_probability"] == pytest.approx(11 / 17)
    assert bool(st.loc["won", "absorbing"]) and math.isnan(st.loc["won", "expected_days"])
    summary = dict(zip(a.summary["quantity"], a.summary["value"]))
    assert set(summary) == {
        "conversion_probability",
        "time_to_convert",
        "time_to_absorption",
        "customers",
        "expected_conversions",
    }
    assert summary["expected_conversions"] == pytest.approx(20000 * 6 / 17)


def test_sensitivity_table_is_ranked_and_complete(hand):
    s = lcsim.analyze(hand).sensitivity
    assert list(s.columns) == [
        "parameter",
        "kind",
        "segment",
        "stage",
        "target",
        "value",
        "elasticity_conversion",
        "elasticity_time",
        "rank",
    ]
    # Every next-probability (< 1) and every dwell mean: a (2 + 1), b (3 + 1).
    assert len(s) == 7
    assert set(s["kind"]) == {"next", "dwell_mean"}
    assert list(s["rank"]) == list(range(1, 8))
    conv = s["elasticity_conversion"].abs().to_numpy()
    assert np.all(conv[:-1] >= conv[1:])
    top = s.iloc[0]
    assert (top["parameter"], top["kind"], top["stage"], top["target"]) == (
        "stages.a.next.b",
        "next",
        "a",
        "b",
    )
    assert top["elasticity_conversion"] == pytest.approx(20 / 17, rel=1e-12)
    dwell = s[s["kind"] == "dwell_mean"]
    assert (dwell["elasticity_conversion"] == 0).all()
    assert dwell["target"].isna().all()
    assert (dwell["elasticity_time"] > 0).all()


def test_per_stage_arrays_are_read_only_views(hand):
    core = lcsim.analyze(hand)._core
    v = core.expected_visits
    assert v.dtype == np.float64 and v.shape == (4,)
    assert not v.flags.writeable and not v.flags.owndata
    with pytest.raises(ValueError):
        v[0] = 1.0


def test_per_segment_and_start(tmp_path):
    text = BASELINE.read_text()
    icp_sql = lcsim.analyze(BASELINE, segment="icp", start="sql")
    smb_sql = lcsim.analyze(BASELINE, segment="smb", start="sql")
    assert icp_sql.conversion_probability > smb_sql.conversion_probability > 0
    assert math.isnan(icp_sql.customers)
    assert len(icp_sql.starts) == 1
    assert set(icp_sql.sensitivity["segment"]) == {"icp"}
    both = lcsim.analyze(BASELINE, start="sql")  # segments by share 0.35 / 0.65
    assert both.conversion_probability == pytest.approx(
        0.35 * icp_sql.conversion_probability + 0.65 * smb_sql.conversion_probability, rel=1e-13
    )
    seg = lcsim.analyze(BASELINE, segment="icp")
    assert seg.customers == pytest.approx(0.35 * (2000 + 150 + 60 + 60 * 730))
    with pytest.raises(lcsim.ScenarioError, match="unknown stage 'sqll'"):
        lcsim.analyze(BASELINE, start="sqll")
    with pytest.raises(lcsim.ScenarioError) as e:
        lcsim.analyze(BASELINE, segment="enterprise")
    assert e.value.problems[0].field == "segment"
    assert "icp, smb" in str(e.value)
    assert text == BASELINE.read_text()


def test_baseline_population_notes_and_starts():
    a = lcsim.analyze(BASELINE)
    assert 0 < a.conversion_probability < 1
    assert a.customers == pytest.approx(2000 + 150 + 60 + 60 * 730)
    notes = "\n".join(a.notes)
    assert "touchpoints (nurture_email, first_call)" in notes
    assert "infinite horizon" in notes
    assert "weibull" in notes
    starts = a.starts
    assert list(starts.columns) == [
        "segment",
        "start",
        "weight",
        "conversion_probability",
        "time_to_convert",
        "time_to_absorption",
    ]
    assert starts["weight"].sum() == pytest.approx(1.0)
    assert (starts.loc[starts["start"] == "customer", "conversion_probability"] == 0).all()
    assert "P(convert)" in repr(a)


def test_closed_form_agrees_with_simulation_within_4_se(hand):
    a = lcsim.analyze(hand)
    check = a.check(replications=4).set_index("quantity")  # touchpoints removed: the same model
    assert list(check.columns) == ["closed_form", "simulated", "ci_low", "ci_high", "z"]
    # 4 replications of 20000 customers: pooled binomial SE of the conversion rate.
    p = a.conversion_probability
    se = math.sqrt(p * (1 - p) / 80000)
    assert abs(check.loc["conversion_probability", "simulated"] - p) < 4 * se
    assert abs(check.loc["time_to_convert", "z"]) < 4
    assert check.loc["customers", "simulated"] == 20000
    # With its touchpoint (an immediate move to won) the scenario converts more than its Markov part.
    with_tp = a.check(replications=2, keep_touchpoints=True).set_index("quantity")
    assert with_tp.loc["conversion_probability", "simulated"] > p + 10 * se
    with pytest.raises(ValueError, match="whole population"):
        lcsim.analyze(hand, start="b").check()


def test_simulated_visits_match_expected_visits():
    bare = lcsim.Scenario.from_yaml(HAND.split("touchpoints:")[0], "bare.yaml")
    a = lcsim.analyze(bare)
    ev = lcsim.simulate(bare, replications=1, events=True).events()
    stages = a.stages.set_index("stage")
    n = 20000
    for stage in ("a", "b", "won"):
        per_customer = (
            ev[ev["to"] == stage].groupby("customer").size().reindex(range(n), fill_value=0)
        )
        mean, se = per_customer.mean(), per_customer.std(ddof=1) / math.sqrt(n)
        assert abs(mean - stages.loc[stage, "expected_visits"]) < 4 * se, stage


# ---- command line ---------------------------------------------------------------------------


def test_cli_analyze_tables(lcsim_cli):
    res = lcsim_cli("analyze", BASELINE)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for text in (
        "P(convert) (won = customer)",
        "E[days to convert | convert]",
        "reach P",
        "elasticities",
        "notes",
        "touchpoints (nurture_email, first_call)",
        "infinite horizon",
    ):
        assert text in out, text
    assert "analyze" in lcsim_cli("--help").stdout


def test_cli_analyze_json_and_simulate(lcsim_cli, tmp_path):
    path = write(tmp_path, HAND)
    res = lcsim_cli("analyze", path, "--json", "--simulate", "3", "--threads", "2")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert {
        "scenario",
        "won",
        "mix",
        "summary",
        "stages",
        "starts",
        "sensitivity",
        "notes",
        "simulation",
    } <= set(data)
    assert data["summary"]["conversion_probability"] == pytest.approx(6 / 17)
    assert data["summary"]["time_to_convert"] == pytest.approx(140 / 17)
    assert [s["stage"] for s in data["stages"]] == ["a", "b", "won", "lost"]
    assert data["stages"][2]["expected_days"] is None
    assert data["sensitivity"][0]["rank"] == 1
    assert data["sensitivity"][0]["parameter"] == "stages.a.next.b"
    sim = data["simulation"]
    assert sim["replications"] == 3 and sim["touchpoints"] is False
    p = data["summary"]["conversion_probability"]
    assert abs(sim["conversion_rate"]["mean"] - p) < 4 * math.sqrt(p * (1 - p) / 60000)
    assert sim["reached"]["b"] == pytest.approx(data["stages"][1]["reach_probability"], abs=0.02)
    one = json.loads(lcsim_cli("analyze", path, "--json", "--start", "b").stdout)
    assert one["summary"]["conversion_probability"] == pytest.approx(10 / 17)
    assert one["summary"]["customers"] is None


def test_cli_analyze_bad_input_exits_2(lcsim_cli, tmp_path):
    bad = write(tmp_path, HAND.replace("dwell: {mean: 2}", "dwel: {mean: 2}"))
    res = lcsim_cli("analyze", bad)
    assert res.returncode == 2
    assert "stages.a.dwel" in res.stderr
    missing = lcsim_cli("analyze", tmp_path / "missing.yaml")
    assert missing.returncode == 2
    unknown = lcsim_cli("analyze", write(tmp_path, HAND, "ok.yaml"), "--segment", "icp")
    assert unknown.returncode == 2
    assert "unknown segment 'icp'" in unknown.stderr
    assert lcsim_cli("analyze", BASELINE, "--simulate", "0").returncode == 2


def test_sensitivity_plot_shows_the_top_elasticities():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    analysis = lcsim.analyze(lcsim.Scenario.load(BASELINE))
    ax = lcsim.plot.sensitivity(analysis, top=5)
    try:
        table = analysis.sensitivity.sort_values("rank").head(5)
        by_height = sorted(
            zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())), reverse=True
        )
        assert [label for _, label in by_height] == list(table["parameter"])  # rank 1 on top
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["elasticity of P(convert)", "elasticity of days to convert"]
        widths = sorted(p.get_width() for p in ax.containers[0].patches)
        assert widths == pytest.approx(
            sorted(np.nan_to_num(table["elasticity_conversion"].to_numpy()))
        )
    finally:
        plt.close("all")
