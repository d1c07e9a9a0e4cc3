"""Backtests: calibrate a synthetic history up to a cut, simulate the holdout, compare per month.

A good model (the calibration of the history itself) must cover most month x stage counts with
its 95% bands and err little; a deliberately wrong one (half the lead -> mql probability) must
err clearly more."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

import lcsim

TRUTH = """\
name: backtest_truth
horizon: 300
report_every: 10
seed: 20250301
replications: 2
won: won
stages:
  lead: {dwell: {dist: exponential, mean: 6}, next: {mql: 0.6, lost: 0.4}}
  mql: {dwell: {dist: weibull, shape: 1.4, mean: 12}, next: {won: 0.5, lost: 0.5}}
  won: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  streams: [{stage: lead, rate_per_day: 15}]
"""
CUT = "2025-08-01"  # day 207 of a history starting 2025-01-06
END = "2025-11-01"  # day 299: three whole months
ABSORBING = ["won", "lost"]


@pytest.fixture(scope="module")
def events():
    history = lcsim.synth(lcsim.Scenario.from_yaml(TRUTH, "truth.yaml"), seed=5, observe_until=300)
    return history["events"]


@pytest.fixture(scope="module")
def good(events):
    return lcsim.backtest(
        events, holdout_start=CUT, holdout_end=END, absorbing=ABSORBING, replications=40, threads=2
    )


def test_backtest_of_the_true_model_covers_and_errs_little(good):
    assert good.cut == pytest.approx(207.0)
    assert good.end == pytest.approx(299.0)
    assert good.calibration.window[1] == pytest.approx(207.0)
    t = good.table
    assert list(t.columns) == [
        "period",
        "start",
        "end",
        "stage",
        "observed",
        "simulated",
        "sim_low",
        "sim_high",
        "inside",
    ]
    assert list(t["period"].unique()) == ["2025-08", "2025-09", "2025-10"]
    assert set(t["stage"]) == {"lead", "mql", "won", "lost"}
    assert (t["sim_low"] <= t["simulated"]).all() and (t["simulated"] <= t["sim_high"]).all()
    assert (t["start"] >= 207).all() and (t["end"] <= good.end + 1e-9).all()
    # the counts are real: about 15 leads a day enter in a full month
    sep = t[(t["period"] == "2025-09") & (t["stage"] == "lead")].iloc[0]
    assert 350 < sep["observed"] < 550
    e = good.error.set_index("stage")
    assert list(good.error.columns) == ["stage", "cells", "mape", "wape", "rmse", "coverage"]
    assert e.loc["all", "cells"] == len(t)
    # 12 correlated month x stage cells against bands that leave out estimation error (see
    # test_backtest_with_parameter_uncertainty_widens_the_bands): coverage below nominal is
    # expected; the wrong model below scores about 0.25 coverage and 30% MAPE.
    assert good.coverage >= 0.5, good.table
    assert good.mape < 0.12 and good.wape < 0.12, good.error
    conv = good.conversions.iloc[0]
    assert conv["stage"] == "won" and conv["observed"] > 200
    assert abs(conv["relative_error"]) < 0.15
    assert "coverage=" in repr(good)


def test_backtest_of_a_wrong_model_errs_clearly_more(good, events):
    p = good.calibration.estimate("stages.lead.next.mql")["estimate"]
    wrong = good.calibration.scenario.with_changes(
        {"stages.lead.next.mql": round(p / 2, 6), "stages.lead.next.lost": round(1 - p / 2, 6)}
    )
    bad = good.calibration.backtest(events, holdout=92, replications=40, threads=2, scenario=wrong)
    assert bad.cut == good.cut and bad.end == pytest.approx(good.end)
    assert bad.mape > 3 * good.mape, (bad.error, good.error)
    assert bad.coverage < good.coverage - 0.2
    mql = bad.error.set_index("stage").loc["mql"]
    assert mql["coverage"] <= 0.25 and mql["mape"] > 0.3
    # the lead entries are arrivals, which the change does not touch
    assert bad.error.set_index("stage").loc["lead", "mape"] < 0.12


def test_method_equals_function_and_periods_in_days(good, events):
    cal = good.calibration
    again = cal.backtest(events, holdout=92, replications=40, threads=2)
    pd.testing.assert_frame_equal(again.table, good.table)
    weekly = cal.backtest(events, holdout=28, replications=10, threads=2, period=7)
    assert weekly.end == pytest.approx(235.0)
    assert list(weekly.table["start"].unique()) == [207.0, 214.0, 221.0, 228.0]
    assert weekly.table["period"].iloc[0] == "2025-08-01"


def test_backtest_with_parameter_uncertainty_widens_the_bands(good, events):
    wide = good.calibration.backtest(
        events, holdout=92, replications=40, threads=2, uncertainty=True
    )
    width = lambda bt: float((bt.table["sim_high"] - bt.table["sim_low"]).mean())  # noqa: E731
    assert width(wide) > width(good)
    assert isinstance(wide.run, lcsim.UncertainRun)


def test_plot_backtest(good):
    import matplotlib.pyplot as plt

    axes = lcsim.plot.backtest(good)
    assert len(axes) == 4 and len(lcsim.plot.backtest(good, stages=["won"])) == 1
    assert axes[0].get_title() == "lead"
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == [
        "observed",
        "simulated mean",
        "95% band",
    ]
    assert "coverage" in axes[0].get_xlabel()
    plt.close("all")


def test_bad_input_is_a_scenario_error(events):
    late = events.copy()
    late.loc[len(late) - 2, "timestamp"] = "not a time"
    with pytest.raises(lcsim.ScenarioError) as info:
        lcsim.backtest(late, holdout_start=CUT, absorbing=ABSORBING)
    p = info.value.problems[0]
    assert (p.file, p.line, p.field) == ("<events>", len(late), "timestamp")
    with pytest.raises(lcsim.ScenarioError, match="holdout_start"):
        lcsim.backtest(events, holdout_start="2030-01-01", absorbing=ABSORBING)
    with pytest.raises(TypeError, match="censor_at"):
        lcsim.backtest(events, holdout_start=CUT, censor_at=CUT)
    with pytest.raises(lcsim.ScenarioError, match="stage"):
        lcsim.backtest(events.drop(columns="stage"), holdout_start=CUT, absorbing=ABSORBING)
