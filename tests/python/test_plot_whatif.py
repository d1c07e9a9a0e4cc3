"""lcsim.plot.compare and lcsim.plot.sweep draw what the comparison and the sweep say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402
from test_sweep import EVERY, REACH, TINY  # noqa: E402

import lcsim  # noqa: E402
import lcsim.plot  # noqa: E402

METRICS = ["conversions", "conversion_rate", "revenue", "touchpoint_cost", "net_value"]


@pytest.fixture(scope="module")
def base():
    return lcsim.Scenario.from_yaml(TINY, "tiny.yaml")


@pytest.fixture(scope="module")
def cmp(base):
    more = base.with_changes({REACH: 0.6, "name": "more_reach"})
    faster = base.with_changes({EVERY: 3, "name": "every_3_days"})
    return lcsim.compare(
        base, more, faster, replications=6, threads=2, independent=False, who_changed=False
    )


@pytest.fixture(scope="module")
def grid(base):
    return lcsim.sweep(base, {REACH: [0.1, 0.3, 0.5], EVERY: [7, 14]}, replications=3, threads=2)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def legend_labels(ax):
    legend = ax.get_legend()
    assert legend is not None, "no legend"
    return [t.get_text() for t in legend.get_texts()]


def check_decorations(ax):
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_title().strip()
    assert ax.get_xlabel().strip()
    assert ax.get_ylabel().strip()


def errorbars(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def horizontal_interval(container, i=0):
    """(low, high) of the i-th horizontal error bar."""
    seg = container.lines[2][0].get_segments()[i]
    return sorted(seg[:, 0])


def has_zero_line(ax):
    return any(
        np.allclose(line.get_xdata(), 0) and line.get_linestyle() == "--" for line in ax.get_lines()
    )


def variant_names(cmp):
    return [v.name for v in cmp.variants]


# ---- compare ---------------------------------------------------------------------------------
def test_compare_one_row_per_metric_with_the_paired_deltas(cmp):
    axes = lcsim.plot.compare(cmp)
    deltas = cmp.deltas().set_index(["variant", "metric"])
    names = variant_names(cmp)
    assert len(axes) == len(METRICS)
    assert (
        axes[0].figure._suptitle is not None
        and cmp.base.name in axes[0].figure._suptitle.get_text()
    )
    for ax, metric in zip(axes, METRICS):
        check_decorations(ax)
        assert metric in ax.get_title() and metric in ax.get_xlabel()
        assert has_zero_line(ax)
        assert [t.get_text() for t in ax.get_yticklabels()] == names
        bars = errorbars(ax)
        assert [b.get_label() for b in bars] == names
        for j, (bar, name) in enumerate(zip(bars, names)):
            row = deltas.loc[(name, metric)]
            x, y = bar.lines[0].get_data()
            assert y[0] == j
            assert x[0] == pytest.approx(row["delta"], rel=1e-12, abs=1e-12)
            np.testing.assert_allclose(
                horizontal_interval(bar), [row["ci_low"], row["ci_high"]], rtol=1e-9, atol=1e-12
            )
            low, high = ax.get_xlim()
            assert low <= min(row["ci_low"], 0) and high >= max(row["ci_high"], 0)
    assert legend_labels(axes[-1]) == names
    # Reach 0.6 instead of 0.25 lands more webinar contacts: more conversions, a filled (significant) dot.
    more = errorbars(axes[0])[0]
    assert deltas.loc[(names[0], "conversions"), "ci_low"] > 0
    assert more.lines[0].get_markerfacecolor() != "white"


def test_compare_relative_puts_lifts_on_one_axis(cmp):
    ax = lcsim.plot.compare(cmp, relative=True)
    check_decorations(ax)
    assert has_zero_line(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == METRICS
    names = variant_names(cmp)
    assert legend_labels(ax) == names
    deltas = cmp.deltas().set_index(["variant", "metric"])
    # The tiny scenario earns no revenue: the revenue lift is undefined (base mean 0), shown as "n/a".
    assert deltas.loc[(names[0], "revenue"), "base_mean"] == 0
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("n/a") == len(names)
    for bar, name in zip(errorbars(ax), names):
        x, y = bar.lines[0].get_data()
        shown = [m for m in METRICS if np.isfinite(deltas.loc[(name, m), "lift"])]
        assert "revenue" not in shown and len(shown) == len(METRICS) - 1
        np.testing.assert_allclose(
            x, [deltas.loc[(name, m), "lift"] * 100 for m in shown], rtol=1e-12
        )
        rows = [METRICS.index(m) for m in shown]
        np.testing.assert_allclose(
            np.round(np.asarray(y, dtype=float)), rows
        )  # each dot on its metric's row
        for i, m in enumerate(shown):
            row = deltas.loc[(name, m)]
            np.testing.assert_allclose(
                horizontal_interval(bar, i),
                [100 * row["lift_ci_low"], 100 * row["lift_ci_high"]],
                rtol=1e-9,
            )
            assert (
                f"{row['lift']:+.1%} [{row['lift_ci_low']:+.1%}, {row['lift_ci_high']:+.1%}]"
                in texts
            )


def test_compare_chosen_metrics_and_axes(cmp):
    fig, axes = plt.subplots(2, 1)
    out = lcsim.plot.compare(cmp, metrics=["revenue", "conversions"], ax=axes)
    assert list(out) == list(axes)
    assert "revenue" in axes[0].get_title() and "conversions" in axes[1].get_title()
    assert len(lcsim.plot.compare(cmp, metrics="conversions")) == 1
    with pytest.raises(ValueError, match="unknown metric"):
        lcsim.plot.compare(cmp, metrics=["nope"])
    with pytest.raises(ValueError, match="Axes"):
        lcsim.plot.compare(cmp, ax=axes[0])  # five metrics, one Axes
    # A deltas DataFrame works as well as the Comparison.
    ax = lcsim.plot.compare(cmp.deltas(), relative=True, metrics=["conversions"])
    assert legend_labels(ax) == variant_names(cmp)


def test_compare_variants_with_the_same_name_stay_apart(base):
    cmp = lcsim.compare(
        base,
        base.with_changes({REACH: 0.6}),
        base.with_changes({EVERY: 3}),
        replications=3,
        threads=2,
        independent=False,
        who_changed=False,
    )
    assert [v.name for v in cmp.variants] == ["tiny", "tiny"]
    axes = lcsim.plot.compare(cmp, metrics=["conversions"])
    assert legend_labels(axes[0]) == ["tiny #1", "tiny #2"]
    deltas = cmp.deltas()
    x = [bar.lines[0].get_xdata()[0] for bar in errorbars(axes[0])]
    np.testing.assert_allclose(
        x, deltas.loc[deltas["metric"] == "conversions", "delta"], rtol=1e-12
    )


# ---- sweep -----------------------------------------------------------------------------------
def test_sweep_lines_are_the_means_per_hue_with_ci_bands(grid):
    ax = lcsim.plot.sweep(grid, x=REACH, metric="conversions", hue=EVERY)
    check_decorations(ax)
    assert ax.get_xlabel() == REACH and "conversions" in ax.get_ylabel()
    assert "conversions" in ax.get_title() and "95% CI" in ax.get_title()
    assert legend_labels(ax) == ["7", "14"]
    assert ax.get_legend().get_title().get_text() == EVERY
    res = grid.results(metrics=["conversions"])
    lines = ax.get_lines()
    assert len(lines) == 2 and len(ax.collections) == 2  # one band per line
    for line, band, every in zip(lines, ax.collections, [7, 14]):
        rows = res[res[EVERY] == every].sort_values(REACH)
        np.testing.assert_array_equal(line.get_xdata(), rows[REACH].to_numpy())
        np.testing.assert_allclose(line.get_ydata(), rows["mean"].to_numpy(), rtol=1e-12)
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() == pytest.approx(rows["ci_low"].min()) and ys.max() == pytest.approx(
            rows["ci_high"].max()
        )


def test_sweep_one_parameter_without_hue(base):
    sw = lcsim.sweep(base, {REACH: [0.4, 0.1, 0.25]}, replications=3, threads=2)
    ax = lcsim.plot.sweep(sw, x=REACH, metric="revenue")
    check_decorations(ax)
    assert legend_labels(ax) == ["mean"]
    (line,) = ax.get_lines()
    rows = sw.results(metrics=["revenue"]).sort_values(REACH)
    np.testing.assert_array_equal(line.get_xdata(), [0.1, 0.25, 0.4])  # sorted by x
    np.testing.assert_allclose(line.get_ydata(), rows["mean"].to_numpy(), rtol=1e-12)


def test_sweep_other_varying_parameters_give_unjoined_points(grid):
    """With hue=None on a 2-D grid, points at one reach differ in cadence: dots and error bars, no lines."""
    ax = lcsim.plot.sweep(grid, x=REACH, metric="conversions")
    assert "also varies" in ax.get_title() and EVERY in ax.get_title()
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]  # no bands
    (bars,) = errorbars(ax)
    x, y = bars.lines[0].get_data()
    assert bars.lines[0].get_linestyle() == "None"
    res = grid.results(metrics=["conversions"]).sort_values(REACH, kind="stable")
    np.testing.assert_allclose(sorted(x), sorted(res[REACH]))
    np.testing.assert_allclose(sorted(y), sorted(res["mean"]), rtol=1e-12)


def test_sweep_categorical_x_and_errors(grid):
    df = pd.DataFrame(
        {
            "point": [0, 1, 2],
            "schedule": ["weekly", "fortnightly", "monthly"],
            "metric": "conversions",
            "mean": [10.0, 8.0, 5.0],
            "std": 1.0,
            "ci_low": [9.0, 7.0, 4.0],
            "ci_high": [11.0, 9.0, 6.0],
            "n": 5,
        }
    )
    ax = lcsim.plot.sweep(df, x="schedule", metric="conversions")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["weekly", "fortnightly", "monthly"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [10.0, 8.0, 5.0])
    with pytest.raises(ValueError, match="not a parameter"):
        lcsim.plot.sweep(grid, x="touchpoints.webinar.cost", metric="conversions")
    with pytest.raises(ValueError, match="unknown metric"):
        lcsim.plot.sweep(grid, x=REACH, metric="nope")
    with pytest.raises(ValueError, match="another parameter"):
        lcsim.plot.sweep(grid, x=REACH, metric="conversions", hue=REACH)
