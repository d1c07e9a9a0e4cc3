"""lcsim.synth and lcsim.calibrate: synthetic CRM history from a known scenario, calibrated back
through the Python API (events as DataFrames and files, snapshots), and the errors bad input gets."""

import ast
from pathlib import Path

import pandas as pd
import pytest

import lcsim
from lcsim import _core

# Four stages, exponential dwells, one segment, ~3,000 customers in 200 days.
TRUTH = """\
name: small_truth
horizon: 200
report_every: 10
seed: 20250106
replications: 2
won: won
stages:
  lead: {dwell: {dist: exponential, mean: 5}, next: {mql: 0.6, lost: 0.4}}
  mql: {dwell: {dist: exponential, mean: 10}, next: {won: 0.5, lost: 0.5}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 50}]
  streams: [{stage: lead, rate_per_day: 15}]
"""


@pytest.fixture(scope="module")
def truth():
    return lcsim.Scenario.from_yaml(TRUTH, "truth.yaml")


@pytest.fixture(scope="module")
def history(truth):
    return lcsim.synth(truth, seed=2, observe_until=180, snapshots="monthly")


@pytest.fixture(scope="module")
def calibration(history):
    events = history["events"]
    return lcsim.calibrate(
        events, censor_at=events.attrs["censor_at"], absorbing=["won", "lost"], name="recovered"
    )


def test_synth_returns_the_csv_tables(history):
    assert set(history) == {"events", "snapshots", "touchpoints"}
    events = history["events"]
    assert list(events.columns) == [
        "customer_id",
        "timestamp",
        "stage",
    ]  # one segment: no segment column
    assert list(history["snapshots"].columns) == ["customer_id", "date", "stage", "created"]
    assert list(history["touchpoints"].columns) == ["customer_id", "timestamp", "touchpoint"]
    assert events["customer_id"].nunique() > 2500
    assert events.iloc[0]["timestamp"] == "2025-01-06T00:00:00Z"
    assert events["timestamp"].max() <= events.attrs["censor_at"]
    assert set(events["stage"]) == {"lead", "mql", "won", "lost"}
    # The export's instant: a date alone would mean the end of that day to the snapshot reader.
    assert history["snapshots"]["date"].iloc[0] == "2025-01-06T00:00:00Z"
    assert history["touchpoints"].empty


def test_round_trip_recovers_next_probabilities(calibration):
    cal = calibration
    assert set(cal.estimates.columns) == {
        "parameter",
        "estimate",
        "ci_low",
        "ci_high",
        "n",
        "method",
        "p_zero",
        "note",
    }
    # One seed: each estimate within 4 standard errors (a half-width is 1.96 se; a miss by 4 se is
    # a bug). Whether the 95% intervals cover 95% of the time is measured over many seeds in
    # tests/cpp/calibrate (at this seed lead -> mql is 3.2 se off, a 1-in-700 draw: over 300 seeds
    # the z-scores have mean 0.01 and sd 0.97).
    for parameter, truth in [
        ("stages.lead.next.mql", 0.6),
        ("stages.lead.next.lost", 0.4),
        ("stages.mql.next.won", 0.5),
    ]:
        row = cal.estimate(parameter)
        half = (row["ci_high"] - row["ci_low"]) / 2
        assert abs(row["estimate"] - truth) < 4 / 1.96 * half, (parameter, row.to_dict())
        assert row["n"] > 500
    assert list(cal.families.columns) == [
        "stage",
        "segment",
        "family",
        "fitted",
        "loglik",
        "aic",
        "params",
        "chosen",
        "n_events",
        "n_censored",
        "note",
    ]
    chosen = cal.families[cal.families["chosen"]]
    assert set(chosen["stage"]) >= {"lead", "mql"}
    assert all(isinstance(p, dict) for p in cal.families["params"])
    assert cal.epoch == "2025-01-06"
    assert cal.window[0] == 0 and cal.window[1] == pytest.approx(180)
    assert all(isinstance(w, str) for w in cal.warnings)
    assert "Calibration(events" in repr(cal)


def test_calibrated_scenario_simulates(calibration):
    scenario = calibration.scenario
    assert isinstance(scenario, lcsim.Scenario)
    assert scenario.name == "recovered"
    assert set(scenario.stages) == {"lead", "mql", "won", "lost"}
    assert "stages:" in scenario.to_yaml()
    run = lcsim.simulate(scenario, replications=2, threads=2)
    assert not run.summary().empty


def test_dataframe_input_equals_path_input(history, calibration, tmp_path):
    events = history["events"]
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    from_file = lcsim.calibrate(
        path, censor_at=events.attrs["censor_at"], absorbing=["won", "lost"], name="recovered"
    )
    pd.testing.assert_frame_equal(from_file.estimates, calibration.estimates)
    pd.testing.assert_frame_equal(from_file.families, calibration.families)
    # the scenarios differ only in the description, which names the input
    a, b = from_file.scenario.to_dict(), calibration.scenario.to_dict()
    assert a.pop("description").endswith(b.pop("description").split("<events>")[1])
    assert a == b
    assert from_file.file == str(path) and calibration.file == "<events>"


def test_bad_timestamp_in_a_dataframe_names_line_and_column(history):
    df = history["events"].head(20).copy()
    df.loc[3, "timestamp"] = "2025-13-45"
    with pytest.raises(lcsim.ScenarioError) as info:
        lcsim.calibrate(df, absorbing=["won", "lost"])
    assert isinstance(info.value, ValueError)
    problems = [p for p in info.value.problems if not p.warning]
    assert problems[0].file == "<events>"
    assert problems[0].line == 5  # DataFrame row 3 + header line + 1-based lines
    assert problems[0].field == "timestamp"
    assert "<events>:5: timestamp:" in str(info.value)


def test_unknown_option_and_missing_input_are_type_errors(history):
    with pytest.raises(TypeError, match="unknown option"):
        lcsim.calibrate(history["events"], bogus=1)
    with pytest.raises(TypeError):
        lcsim.calibrate(None)


def test_snapshots_fit_a_markov_model(history, tmp_path):
    path = tmp_path / "snapshots.csv"
    history["snapshots"].to_csv(path, index=False)
    cal = lcsim.calibrate(
        None,
        snapshots=path,
        absorbing=["won", "lost"],
        transitions=[("lead", "mql"), ("lead", "lost"), ("mql", "won"), ("mql", "lost")],
    )
    assert cal.kind == "snapshots"
    # a conversion stage named "won": the phase-type fit's scenario (and the Markov fit's) simulate
    assert cal.scenario is not None and cal.markov_scenario is not None
    assert lcsim.simulate(cal.scenario, replications=2).summary() is not None
    assert any(p.startswith("arrivals.") for p in cal.estimates["parameter"])
    q = cal.estimates[cal.estimates["parameter"].str.startswith("Q.")]
    assert set(q["parameter"]) == {"Q.lead.mql", "Q.lead.lost", "Q.mql.won", "Q.mql.lost"}
    assert (q["estimate"] > 0).all()
    assert list(cal.rates.columns) == [
        "from",
        "to",
        "rate",
        "se_log",
        "ci_low",
        "ci_high",
        "n",
        "at_bound",
    ]
    assert len(cal.rates) == 4
    # lead -> mql at 0.6 / 5 per day; monthly panels give a rough but positive estimate
    assert 0.03 < cal.rates.set_index(["from", "to"]).loc[("lead", "mql"), "rate"] < 0.5


def test_core_stub_lists_the_calibration_functions():
    stub = Path(lcsim.__file__).with_name("_core.pyi")
    declared = {n.name for n in ast.parse(stub.read_text()).body if isinstance(n, ast.FunctionDef)}
    assert {"calibrate_events", "calibrate_snapshots", "synth"} <= declared
    assert {"calibrate_events", "calibrate_snapshots", "synth"} <= set(dir(_core))
    for name in ("Calibration", "calibrate", "synth"):
        assert name in lcsim.__all__


def test_calibrate_simulate_calibrate_returns_the_same_parameters(calibration):
    """The calibrated scenario, simulated and calibrated again, gives back its own parameters:
    the fit is a fixed point of synth -> calibrate within the estimates' uncertainty."""
    first = calibration
    again_history = lcsim.synth(first.scenario, seed=3, observe_until=180)
    events = again_history["events"]
    again = lcsim.calibrate(events, censor_at=events.attrs["censor_at"], absorbing=["won", "lost"])

    def row(cal, parameter):
        try:
            return cal.estimate(parameter)
        except KeyError:  # a dwell fitted by another family has no `mean` row
            return None

    compared = []
    for parameter in [
        "stages.lead.next.mql",
        "stages.mql.next.won",
        "stages.lead.dwell.mean",
        "stages.mql.dwell.mean",
    ]:
        a = row(first, parameter)
        b = row(again, parameter)
        if a is None or b is None:
            continue
        compared.append(parameter)
        # two independent estimates of the same value: their difference within 4 combined SEs
        se_a = (a["ci_high"] - a["ci_low"]) / (2 * 1.96)
        se_b = (b["ci_high"] - b["ci_low"]) / (2 * 1.96)
        assert abs(a["estimate"] - b["estimate"]) <= 4 * (se_a**2 + se_b**2) ** 0.5, (
            parameter,
            a.to_dict(),
            b.to_dict(),
        )
    assert {"stages.lead.next.mql", "stages.mql.next.won"} <= set(compared)
