"""lcsim.plot: each plot draws what the run says, with a title, axis labels and a legend."""

import colorsys
import math
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import SCENARIOS  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

import lcsim  # noqa: E402
import lcsim.plot  # noqa: E402

# An absorbing stage written between others, a re-entry (lead -> lead), a won stage that is not
# absorbing and two drop-off destinations.
SMALL = """\
name: small
horizon: 120
report_every: 10
seed: 7
replications: 4
won: customer
stages:
  lead: {dwell: {mean: 5}, next: {mql: 0.5, lost: 0.3, lead: 0.2}}
  lost: {absorbing: true}
  mql: {dwell: {mean: 8}, next: {customer: 0.4, lead: 0.2, lost: 0.4}}
  customer: {dwell: {mean: 60}, next: {churned: 0.5, customer: 0.5}}
  churned: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 500}]
  streams: [{stage: lead, rate_per_day: 5}]
"""
ACTIVE = ["lead", "mql", "customer"]
ORDER = [
    "lead",
    "mql",
    "customer",
    "lost",
    "churned",
]  # non-absorbing in written order, then absorbing


@pytest.fixture(scope="module")
def run():
    return lcsim.simulate(lcsim.Scenario.from_yaml(SMALL, "small.yaml"), threads=1)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def bars(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def legend_labels(ax):
    legend = ax.get_legend()
    assert legend is not None, "no legend"
    return [t.get_text() for t in legend.get_texts()]


def check_decorations(ax):
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_title().strip()
    assert ax.get_xlabel().strip()
    assert ax.get_ylabel().strip()


def test_funnel_bars_are_the_mean_reached_and_dropoff(run):
    ax = lcsim.plot.funnel(run)
    check_decorations(ax)
    assert legend_labels(ax) == ["reached", "drop-off"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ORDER

    reached, dropoff = bars(ax)
    assert reached.get_label() == "reached" and dropoff.get_label() == "drop-off"
    expected = run.reached().groupby("stage", observed=True)["customers"].mean()
    np.testing.assert_allclose([p.get_height() for p in reached], expected[ORDER].to_numpy())
    metrics = run.metrics()
    np.testing.assert_allclose(
        [p.get_height() for p in dropoff], [metrics[f"dropoff.{s}"].mean() for s in ORDER]
    )
    assert reached.patches[ORDER.index("lost")].get_height() > 0
    assert (
        dropoff.patches[ORDER.index("lost")].get_height() == 0
    )  # nothing leaves an absorbing stage


def test_funnel_error_bars_are_the_95_percent_intervals(run):
    """The drop-off error bars match the core's Student-t intervals in run.summary()."""
    ax = lcsim.plot.funnel(run, log=False)
    assert ax.get_yscale() == "linear"
    _, dropoff = bars(ax)
    segments = dropoff.errorbar.lines[2][0].get_segments()
    summary = run.summary().set_index("metric")
    for stage, seg in zip(ORDER[:3], segments):
        row = summary.loc[f"dropoff.{stage}"]
        np.testing.assert_allclose(sorted(seg[:, 1]), [row.ci_low, row.ci_high], rtol=1e-9)


def test_aggregation_matches_summary(run):
    """The shared helper's means and intervals equal the core's summary for every metric."""
    summary = run.summary().set_index("metric")
    values = run.metrics()[summary.index].to_numpy(float)
    mean, low, high = lcsim.plot._across_replications(values)
    np.testing.assert_allclose(mean, summary["mean"], rtol=1e-12)
    np.testing.assert_allclose(low, summary["ci_low"], rtol=1e-9)
    np.testing.assert_allclose(high, summary["ci_high"], rtol=1e-9)
    mean, low, high = lcsim.plot._across_replications(values, band="range")
    np.testing.assert_array_equal(low, values.min(axis=0))
    np.testing.assert_array_equal(high, values.max(axis=0))


def test_t95_factor_is_the_student_t_quantile():
    known = {
        1: 12.706204736,
        2: 4.302652730,
        5: 2.570581836,
        9: 2.262157163,
        30: 2.042272456,
        120: 1.979930405,
    }
    for df, q in known.items():
        assert lcsim._core.t95_factor(df + 1) == pytest.approx(q, rel=1e-8)
    assert math.isnan(lcsim._core.t95_factor(1))


def test_occupancy_lines_are_the_mean_per_stage(run):
    ax = lcsim.plot.occupancy(run)
    check_decorations(ax)
    assert legend_labels(ax) == ACTIVE  # absorbing stages left out by default
    mean = run.occupancy().groupby(["stage", "day"], observed=True)["count"].mean()
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ACTIVE
    for line, stage in zip(lines, ACTIVE):
        np.testing.assert_array_equal(line.get_xdata(), run.report_times)
        np.testing.assert_allclose(line.get_ydata(), mean[stage].to_numpy())
    assert len(ax.collections) == len(ACTIVE)  # one band per line


def test_occupancy_range_band_and_chosen_stages(run):
    ax = lcsim.plot.occupancy(run, stages=["mql", "lost"], band="range")
    assert legend_labels(ax) == ["mql", "lost"]
    occ = run.occupancy()
    for band, stage in zip(ax.collections, ["mql", "lost"]):
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        counts = occ.loc[occ.stage == stage, "count"]
        assert ys.min() == pytest.approx(counts.min()) and ys.max() == pytest.approx(counts.max())

    ax = lcsim.plot.occupancy(run, band=None)
    assert len(ax.collections) == 0 and len(ax.get_lines()) == len(ACTIVE)
    with pytest.raises(ValueError, match="band"):
        lcsim.plot.occupancy(run, band="sd")
    with pytest.raises(ValueError, match="unknown stage"):
        lcsim.plot.occupancy(run, stages=["nope"])


def test_flows_shares_match_transitions(run):
    ax = lcsim.plot.flows(run)
    check_decorations(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ACTIVE

    tr = (
        run.transitions()
        .groupby(["from", "to"], observed=True)["count"]
        .sum()
        .unstack()
        .loc[ACTIVE]
    )
    shares = tr.div(tr.sum(axis=1), axis=0)
    destinations = [c for c in tr.columns if tr[c].sum() > 0]

    series = bars(ax)
    labels = [c.get_label() for c in series]
    assert sorted(labels) == sorted(destinations)
    assert legend_labels(ax) == labels
    # drop-off destinations come last
    assert labels[-2:] in (["lost", "churned"], ["churned", "lost"])

    widths = np.array([[p.get_width() for p in c] for c in series])  # [destination, from]
    np.testing.assert_allclose(widths.sum(axis=0), 1.0)
    for c, w in zip(series, widths):
        np.testing.assert_allclose(w, shares[c.get_label()].to_numpy())
    # segments are stacked left to right
    np.testing.assert_allclose([p.get_x() for p in series[1]], widths[0])

    for c in series:
        hue, _, saturation = colorsys.rgb_to_hls(*to_rgb(c.patches[0].get_facecolor()))
        red_or_grey = saturation < 0.15 or hue < 0.1 or hue > 0.9
        assert red_or_grey == (c.get_label() in ("lost", "churned")), (
            f"{c.get_label()}: hue {hue:.2f}, saturation {saturation:.2f}"
        )
    texts = [t.get_text() for t in ax.texts]
    assert f"{shares.loc['lead', 'mql']:.0%}" in texts


def test_plots_draw_on_a_given_axes(run):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    figures = plt.get_fignums()
    assert lcsim.plot.funnel(run, ax=axes[0]) is axes[0]
    assert lcsim.plot.occupancy(run, ax=axes[1]) is axes[1]
    assert lcsim.plot.flows(run, ax=axes[2]) is axes[2]
    assert plt.get_fignums() == figures  # no new figure
    assert all(bars(axes[0])) and axes[1].get_lines() and bars(axes[2])


def test_new_figures_and_rendering(tmp_path):
    """The bundled baseline, three replications: every plot renders to PNG."""
    run = lcsim.simulate(SCENARIOS / "b2b_saas" / "baseline.yaml", replications=3, threads=1)
    for name, plot in [
        ("funnel", lcsim.plot.funnel),
        ("occupancy", lcsim.plot.occupancy),
        ("flows", lcsim.plot.flows),
    ]:
        before = len(plt.get_fignums())
        ax = plot(run)
        assert len(plt.get_fignums()) == before + 1
        ax.figure.savefig(tmp_path / f"{name}.png", dpi=50)
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert lcsim.plot.funnel(run).get_yscale() == "log"  # 46k leads vs tens of advocates


def test_one_replication_has_no_intervals_but_plots(run):
    one = lcsim.simulate(lcsim.Scenario.from_yaml(SMALL), replications=1, threads=1)
    for plot in (lcsim.plot.funnel, lcsim.plot.occupancy, lcsim.plot.flows):
        plot(one).figure.canvas.draw()


def test_lazy_attribute():
    """``import lcsim; lcsim.plot`` works in a fresh interpreter (plot is imported on first use)."""
    code = "import lcsim; assert 'lcsim.plot' not in __import__('sys').modules; print(lcsim.plot.__all__)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "funnel" in out.stdout
