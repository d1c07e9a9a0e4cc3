"""Parameter uncertainty in simulate/compare (probabilistic sensitivity analysis) and the variance
split between parameter uncertainty and simulation noise."""

import copy
import math
import pickle

import numpy as np
import pytest
from test_calibrate_api import TRUTH as SMALL_TRUTH

import lcsim
from lcsim.uncertainty import Posterior, _draw_scenarios

# The 2-stage truth of the calibration tests with few arrivals: about 240 customers in 60 days.
TRUTH = lcsim.Scenario.from_yaml(SMALL_TRUTH, "truth.yaml").with_changes(
    {"horizon": 120, "arrivals.initial": None, "arrivals.streams[0].rate_per_day": 4}
)


@pytest.fixture(scope="module")
def small():
    """A calibration from little data (about 240 customers in 60 days): wide intervals."""
    history = lcsim.synth(TRUTH, seed=7, observe_until=60)
    events = history["events"]
    cal = lcsim.calibrate(
        events, censor_at=events.attrs["censor_at"], absorbing=["won", "lost"], horizon=120
    )
    return cal


@pytest.fixture(scope="module")
def tight(small):
    """The same estimates as if from a million times more data: (almost) no parameter uncertainty."""
    cal = copy.copy(small)
    est = small.estimates.copy()
    est["n"] = est["n"] * 1_000_000
    est["ci_low"] = est["estimate"] * (1 - 1e-6)
    est["ci_high"] = est["estimate"] * (1 + 1e-6)
    cal.estimates = est
    return cal


def test_posterior_draws_are_deterministic_and_centred(small):
    post = Posterior(small)
    assert {
        "stages.lead.next.mql",
        "stages.lead.next.lost",
        "stages.mql.next.won",
        "arrivals.streams[0].rate_per_day",
    } <= set(post.paths)
    a, b = post.draw(11, 3), post.draw(11, 3)
    assert a == b
    assert post.draw(11, 4) != a and post.draw(12, 3) != a
    draws = [post.draw(1, i) for i in range(2000)]
    for d in draws[:50]:
        assert math.fsum([d["stages.lead.next.mql"], d["stages.lead.next.lost"]]) == 1.0
    for path in ("stages.lead.next.mql", "arrivals.streams[0].rate_per_day"):
        row = small.estimate(path)
        x = np.array([d[path] for d in draws])
        # centred on the estimate; spread matching the 95% interval (within 15%)
        se = (row["ci_high"] - row["ci_low"]) / (2 * 1.96)
        assert abs(x.mean() - row["estimate"]) < 0.15 * se + 0.01 * row["estimate"], path
        assert 0.85 < x.std() / se < 1.15, path
        lo, hi = np.quantile(x, [0.025, 0.975])
        assert lo == pytest.approx(row["ci_low"], abs=0.25 * se) and hi == pytest.approx(
            row["ci_high"], abs=0.25 * se
        )


def test_simulate_with_uncertainty_is_deterministic_and_says_so(small):
    a = lcsim.simulate(small.scenario, replications=12, seed=3, threads=1, uncertainty=small)
    b = lcsim.simulate(small.scenario, replications=12, seed=3, threads=2, uncertainty=small)
    assert isinstance(a, lcsim.UncertainRun) and a.draws == 12 and a.inner == 1
    np.testing.assert_array_equal(a.arrays["metrics"], b.arrays["metrics"])
    np.testing.assert_array_equal(a.arrays["replication"], np.arange(12))
    c = lcsim.simulate(small.scenario, replications=12, seed=4, threads=2, uncertainty=small)
    assert not np.array_equal(a.arrays["metrics"], c.arrays["metrics"])
    s = a.summary()
    assert list(s.columns) == ["metric", "mean", "std", "ci_low", "ci_high", "n"]
    assert (
        "parameter uncertainty" in s.attrs["uncertainty"]
        and "12 posterior draws" in s.attrs["uncertainty"]
    )
    assert "parameter uncertainty" in repr(a)
    assert a.scenario == small.scenario and a.metrics().shape[0] == 12
    back = pickle.loads(pickle.dumps(a))  # Dask ships runs between processes
    assert isinstance(back, lcsim.UncertainRun) and back.inner == 1
    np.testing.assert_array_equal(back.arrays["metrics"], a.arrays["metrics"])


def test_intervals_include_estimation_uncertainty(small, tight):
    """Little data: the interval over draws is much wider than simulation noise alone; with a huge n
    it shrinks to the noise."""
    noise = lcsim.simulate(small.scenario, replications=60, seed=5, threads=2).metrics()[
        "conversions"
    ]
    noise_width = np.subtract(*np.quantile(noise, [0.975, 0.025]))
    wide = lcsim.simulate(small.scenario, replications=60, seed=5, threads=2, uncertainty=small)
    narrow = lcsim.simulate(small.scenario, replications=60, seed=5, threads=2, uncertainty=tight)

    def width(run):
        return float(
            np.subtract(
                *run.summary().set_index("metric").loc["conversions", ["ci_high", "ci_low"]]
            )
        )

    assert width(wide) > 1.5 * noise_width
    assert 0.7 * noise_width < width(narrow) < 1.3 * noise_width


def test_variance_components_recover_known_components():
    rng = np.random.default_rng(2024)
    p, m = 600, 8
    y = 5.0 + rng.normal(0, 2.0, size=(p, 1)) + rng.normal(0, 3.0, size=(p, m))
    between, within = lcsim.variance_components(y)
    assert between == pytest.approx(4.0, rel=0.12)
    assert within == pytest.approx(9.0, rel=0.05)
    # no group effect: the between component is near 0
    between0, within0 = lcsim.variance_components(rng.normal(0, 3.0, size=(p, m)))
    assert between0 < 0.1 and within0 == pytest.approx(9.0, rel=0.05)
    with pytest.raises(ValueError, match="shape"):
        lcsim.variance_components(np.zeros((1, 5)))


def test_variance_split_tells_data_from_noise(small, tight):
    # The parameter share of conversions is about 0.7 here; its estimate from 60 draws ranged over
    # 0.56-0.79 across seeds 1-20 (from 25 draws it fell to 0.40 at one seed in 10).
    wide = lcsim.simulate(
        small.scenario, replications=60 * 4, seed=9, threads=2, uncertainty=small, inner=4
    )
    split = lcsim.variance_split(wide).set_index("metric")
    assert list(split.columns) == [
        "total_var",
        "parameter_var",
        "noise_var",
        "parameter_share",
        "noise_share",
        "draws",
        "inner",
        "advice",
    ]
    conv = split.loc["conversions"]
    assert conv["draws"] == 60 and conv["inner"] == 4
    assert conv["total_var"] == pytest.approx(conv["parameter_var"] + conv["noise_var"])
    assert conv["parameter_share"] > 0.5 and conv["advice"] == "more data"
    narrow = lcsim.simulate(
        small.scenario, replications=60 * 4, seed=9, threads=2, uncertainty=tight, inner=4
    )
    conv0 = lcsim.variance_split(narrow, metrics=["conversions"]).iloc[0]
    assert conv0["parameter_share"] < 0.15 and conv0["advice"] == "more replications"
    with pytest.raises(ValueError, match="inner"):
        lcsim.variance_split(lcsim.simulate(small.scenario, replications=4, uncertainty=small))
    with pytest.raises(TypeError):
        lcsim.variance_split(lcsim.simulate(small.scenario, replications=4))
    with pytest.raises(lcsim.ScenarioError, match="multiple of inner"):
        lcsim.simulate(small.scenario, replications=10, uncertainty=small, inner=4)


def test_compare_with_uncertainty_is_paired(small):
    base = small.scenario
    variant = base.with_changes({"stages.mql.next.won": 0.7, "stages.mql.next.lost": 0.3})
    cmp = lcsim.compare(base, variant, replications=30, seed=2, threads=2, uncertainty=small)
    assert isinstance(cmp, lcsim.UncertainComparison)
    lead = base.stages.index("lead")
    b, v = cmp.base.arrays["reached"][:, lead], cmp.variants[0].arrays["reached"][:, lead]
    np.testing.assert_array_equal(
        b, v
    )  # same arrival draw and streams in both arms of each replication
    assert len(set(b)) > 10  # and a different draw per replication
    d = cmp.deltas()
    assert "parameter uncertainty" in d.attrs["uncertainty"]
    row = d.set_index("metric").loc["conversions"]
    assert (
        row["ci_low"] > 0 and row["delta"] > 0
    )  # 0.7 instead of about 0.5: clearly more conversions
    assert math.isnan(row["variance_reduction"])
    assert "conversions" in str(cmp) and "parameter uncertainty" in repr(cmp)
    # the variant's own value of the changed next-probabilities is kept in every draw
    post = Posterior(small)

    for p in range(3):
        _, var_p = _draw_scenarios(post, [base, variant], 2, p)
        assert var_p.to_dict()["stages"]["mql"]["next"] == {"won": 0.7, "lost": 0.3}
    with pytest.raises(TypeError, match="precision"):
        lcsim.compare(base, variant, uncertainty=small, precision=0.1)


def test_uncertainty_needs_a_scenario(tmp_path, small):
    snaps = lcsim.synth(TRUTH, seed=1, observe_until=90, snapshots="monthly")["snapshots"]
    markov = lcsim.calibrate(None, snapshots=snaps, absorbing=["won", "lost"])
    with pytest.raises(TypeError, match="scenario"):
        lcsim.simulate(small.scenario, replications=2, uncertainty=markov)


def test_a_value_set_by_hand_is_not_drawn(small):
    post = Posterior(small)
    doubled = small.scenario.with_changes({"arrivals.streams[0].rate_per_day": 8.0})
    for p in range(3):
        (drawn,) = _draw_scenarios(post, [doubled], 1, p)
        assert drawn.to_dict()["arrivals"]["streams"][0]["rate_per_day"] == 8.0
        assert (
            drawn.to_dict()["stages"]["lead"]["next"] != doubled.to_dict()["stages"]["lead"]["next"]
        )
    run = lcsim.simulate(doubled, replications=6, threads=2, uncertainty=small)
    customers = run.metrics()["customers"]
    assert customers.min() > 1.6 * 4.23 * 120  # about 8 a day for 120 days, in every draw


# ---- studies --------------------------------------------------------------------------------------
def test_uncertain_run_round_trips_through_a_study(small, tmp_path):
    import h5py
    import pandas as pd

    run = lcsim.simulate(
        small.scenario, replications=8, seed=5, threads=2, uncertainty=small, inner=2
    )
    path = tmp_path / "study.h5"
    run.save(path, "psa")
    back = lcsim.open(path)["psa"]
    assert isinstance(back, lcsim.UncertainRun)
    assert (back.inner, back.draws, back.source) == (2, 4, run.source)
    summary, again = run.summary(), back.summary()
    pd.testing.assert_frame_equal(again, summary)
    assert (
        again.attrs["uncertainty"] == summary.attrs["uncertainty"]
        and "4 posterior draws x 2" in back.note
    )
    np.testing.assert_array_equal(back.arrays["metrics"], run.arrays["metrics"])
    np.testing.assert_array_equal(back.arrays["occupancy"], run.arrays["occupancy"])
    assert back.scenario == small.scenario and back.info.seed == 5
    pd.testing.assert_frame_equal(lcsim.variance_split(back), lcsim.variance_split(run))

    # The draw of each replication: the posterior's draw number r // inner, as simulated.
    draws = run.parameter_draws()
    pd.testing.assert_frame_equal(back.parameter_draws(), draws)
    post = Posterior(small)
    assert list(draws.columns) == ["replication", "draw"] + post.paths
    assert list(draws["draw"]) == [0, 0, 1, 1, 2, 2, 3, 3]
    for r in range(8):
        expected = post.draw(5, r // 2)
        assert [draws.loc[r, p] for p in post.paths] == [expected[p] for p in post.paths]
    assert draws["stages.lead.next.mql"].nunique() == 4

    # The layout h5py sees (docs/format.md), written before the complete marker.
    with h5py.File(path, "r") as f:
        g = f["runs/psa"]
        assert g.attrs["uncertainty"] == run.note
        assert g.attrs["uncertainty_inner"] == 2 and g.attrs["uncertainty_source"] == run.source
        assert g["parameter_draws"].shape == (8, len(post.paths))
        assert [str(p) for p in g["parameter_draws"].attrs["parameters"]] == post.paths
        assert g.attrs["complete"] == 1
    # A group without the marker (as a killed writer of another tool might leave) is not a run,
    # draws or not.
    with h5py.File(path, "r+") as f:
        half = f.create_group("runs/half")
        half.create_dataset("parameter_draws", data=np.zeros((8, len(post.paths))))
        half.attrs["uncertainty"] = run.note
        half.attrs["complete"] = 0
    assert lcsim.open(path).runs() == ["psa"]
    with pytest.raises(lcsim.ScenarioError, match="already exists"):
        run.save(path, "psa")
    # A normal run stays a normal run; a read-back uncertain run saves again and pickles.
    lcsim.simulate(small.scenario, replications=2, seed=5).save(path, "plain")
    plain = lcsim.open(path)["plain"]
    assert type(plain) is lcsim.Run and plain._run.parameter_draws is None
    back.save(path, "again")
    pd.testing.assert_frame_equal(lcsim.open(path)["again"].summary(), summary)
    unpickled = pickle.loads(pickle.dumps(back))
    assert isinstance(unpickled, lcsim.UncertainRun)
    pd.testing.assert_frame_equal(unpickled.parameter_draws(), draws)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(run)).parameter_draws(), draws)


def test_uncertain_comparison_round_trips_through_a_study(small, tmp_path):
    import h5py
    import pandas as pd

    base = small.scenario
    variant = base.with_changes({"stages.mql.next.won": 0.7, "stages.mql.next.lost": 0.3})
    cmp = lcsim.compare(base, variant, replications=6, seed=2, threads=2, uncertainty=small)
    path = tmp_path / "study.h5"
    cmp.save(path, "cmp")
    back = lcsim.open(path).comparison("cmp")
    assert isinstance(back, lcsim.UncertainComparison)
    mine, theirs = cmp.deltas(), back.deltas()
    pd.testing.assert_frame_equal(theirs.drop(columns="variant"), mine.drop(columns="variant"))
    assert list(theirs["variant"].unique()) == [
        "cmp.v1"
    ]  # runs are named as stored, as for any comparison
    assert theirs.attrs["uncertainty"] == mine.attrs["uncertainty"]
    assert [v.split(":", 1)[1] for v in back.verdicts] == [v.split(":", 1)[1] for v in cmp.verdicts]
    pd.testing.assert_frame_equal(back.base.summary(), cmp.base.summary())
    # The variant kept its own mql probabilities in every draw; the base's were drawn.
    vd, bd = back.variants[0].parameter_draws(), back.base.parameter_draws()
    assert (vd["stages.mql.next.won"] == 0.7).all() and bd["stages.mql.next.won"].nunique() == 6
    np.testing.assert_array_equal(vd["stages.lead.next.mql"], bd["stages.lead.next.mql"])
    # The stored deltas table (for h5py readers) holds the intervals over draws.
    with h5py.File(path, "r") as f:
        stored = pd.DataFrame(f["comparisons/cmp/v1/deltas"][()])
        assert f["comparisons/cmp"].attrs["complete"] == 1
        assert f["runs/cmp.v1"].attrs["uncertainty"] == cmp.variants[0].note
    stored["metric"] = stored["metric"].str.decode("utf-8")
    np.testing.assert_allclose(stored["ci_low"], mine["ci_low"], equal_nan=True)
    np.testing.assert_allclose(stored["ci_high"], mine["ci_high"], equal_nan=True)
    assert list(stored["metric"]) == list(mine["metric"])
    assert lcsim.open(path).runs() == ["cmp.base", "cmp.v1"]
    assert isinstance(lcsim.open(path)["cmp.v1"], lcsim.UncertainRun)
