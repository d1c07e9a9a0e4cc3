"""The benchmark peers (benches/peers/) simulate the same workload as lcsim: funnel-10 and +webinar.

A faster wrong answer is worth nothing, so the speed comparison of benches/README.md only counts if
the numpy model, the SimPy model and lcsim agree on where the customers are at day 730. Each peer is
compared with lcsim by a two-sample chi-square test of homogeneity on the counts of customers per
stage (sparse stages pooled so that every expected count is at least 5), with fixed seeds; agreement
is p > 1e-3. Negative controls show the test has teeth: a peer with one wrong probability
(awareness -> engaged .35 instead of .30) and a peer without the webinar are both rejected.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from conftest import ROOT

import lcsim

sys.path.insert(0, str(ROOT / "benches" / "peers"))
import numpy_funnel  # noqa: E402

FUNNEL = ROOT / "benches" / "funnel10" / "funnel10.yaml"
WEBINAR = ROOT / "benches" / "funnel10" / "funnel10_webinar.yaml"
N_LCSIM = 1_000_000  # lcsim and numpy: well under a second each
N_NUMPY = 1_000_000
N_SIMPY = 20_000  # SimPy: about 30k events, a second or so
ALPHA = 1e-3

WRONG_NEXT = dict(numpy_funnel.NEXT, awareness={"engaged": 0.35, "lost": 0.65})


# ---- chi-square without scipy -------------------------------------------------------------------
def _upper_regularized_gamma(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): series below a + 1, continued fraction above."""
    if x <= 0.0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # modified Lentz for the continued fraction of Gamma(a, x)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return math.exp(log_front) * h


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ chi-square(df)."""
    return _upper_regularized_gamma(df / 2.0, x / 2.0)


def homogeneity(a: dict, b: dict, min_expected: float = 5.0):
    """Two-sample chi-square test that counts a and b (stage -> customers) come from one categorical
    distribution. Returns (statistic, df, p). Categories whose expected count is below min_expected
    in either sample are pooled (sparsest first) until every cell has enough."""
    stages = sorted(set(a) | set(b))
    table = np.array([[a.get(s, 0) for s in stages], [b.get(s, 0) for s in stages]], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1, keepdims=True)

    def expected(t):
        return rows * t.sum(axis=0, keepdims=True) / rows.sum()

    while table.shape[1] > 2 and expected(table).min() < min_expected:
        order = np.argsort(table.sum(axis=0))  # pool the two sparsest categories
        merged = table[:, order[0]] + table[:, order[1]]
        table = np.column_stack([np.delete(table, order[:2], axis=1), merged])
    e = expected(table)
    stat = float(((table - e) ** 2 / e).sum())
    df = table.shape[1] - 1
    return stat, df, chi2_sf(stat, df)


def test_chi2_sf_matches_tables():
    assert chi2_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-9)
    assert chi2_sf(10.0, 4) == pytest.approx(0.040427681994512805, rel=1e-9)
    assert chi2_sf(2.0, 10) == pytest.approx(0.9963401531726562, rel=1e-9)
    assert chi2_sf(150.0, 3) == pytest.approx(2.5272713606043064e-32, rel=1e-6)
    assert chi2_sf(0.0, 3) == 1.0


# ---- the three models ---------------------------------------------------------------------------
def lcsim_counts(path, n: int) -> dict:
    scenario = lcsim.Scenario.load(path).with_changes({"arrivals.initial.0.count": n})
    run = lcsim.simulate(scenario, replications=1, threads=1)
    assert run.report_times[-1] == 730.0
    last = run.arrays["occupancy"][0, -1, :]
    assert int(last.sum()) == n
    return dict(zip(run.stages, (int(c) for c in last)))


@pytest.fixture(scope="module")
def engine():
    return {False: lcsim_counts(FUNNEL, N_LCSIM), True: lcsim_counts(WEBINAR, N_LCSIM)}


@pytest.fixture(scope="module")
def simpy_funnel():
    pytest.importorskip("simpy", reason="the SimPy peer needs simpy (pip install '.[test]')")
    import simpy_funnel as module

    return module


@pytest.mark.parametrize("webinar", [False, True], ids=["funnel10", "webinar"])
def test_numpy_peer_agrees_with_lcsim(engine, webinar):
    peer = numpy_funnel.simulate(N_NUMPY, webinar=webinar, seed=11)
    assert sum(peer.values()) == N_NUMPY
    assert list(peer) == list(engine[webinar])  # same stages, same order
    stat, df, p = homogeneity(engine[webinar], peer)
    assert p > ALPHA, (
        f"numpy peer differs from lcsim: chi2={stat:.1f}, df={df}, p={p:.2e}\n{engine[webinar]}\n{peer}"
    )


@pytest.mark.parametrize("webinar", [False, True], ids=["funnel10", "webinar"])
def test_simpy_peer_agrees_with_lcsim(engine, simpy_funnel, webinar):
    peer = simpy_funnel.simulate(N_SIMPY, webinar=webinar, seed=12)
    assert sum(peer.values()) == N_SIMPY
    stat, df, p = homogeneity(engine[webinar], peer)
    assert p > ALPHA, (
        f"SimPy peer differs from lcsim: chi2={stat:.1f}, df={df}, p={p:.2e}\n{engine[webinar]}\n{peer}"
    )


def test_simpy_peer_agrees_with_numpy_peer(simpy_funnel):
    """The peers agree with each other too (not only each with lcsim)."""
    a = numpy_funnel.simulate(N_NUMPY, webinar=True, seed=13)
    b = simpy_funnel.simulate(N_SIMPY, webinar=True, seed=14)
    stat, df, p = homogeneity(a, b)
    assert p > ALPHA, f"chi2={stat:.1f}, df={df}, p={p:.2e}"


@pytest.mark.parametrize("webinar", [False, True], ids=["funnel10", "webinar"])
def test_a_wrong_peer_is_rejected(engine, webinar):
    """Negative control: awareness -> engaged .35 instead of .30 is caught."""
    wrong = numpy_funnel.simulate(N_NUMPY, webinar=webinar, seed=11, next_probs=WRONG_NEXT)
    stat, df, p = homogeneity(engine[webinar], wrong)
    assert p < ALPHA, f"a wrong peer passed: chi2={stat:.1f}, df={df}, p={p:.2e}"


def test_a_peer_without_the_webinar_is_rejected(engine):
    """Negative control: the webinar's effect on day-730 counts is large enough to be seen."""
    without = numpy_funnel.simulate(N_NUMPY, webinar=False, seed=11)
    stat, df, p = homogeneity(engine[True], without)
    assert p < ALPHA, (
        f"the webinar made no detectable difference: chi2={stat:.1f}, df={df}, p={p:.2e}"
    )


def test_simpy_peer_rejects_a_wrong_model_it_can_resolve(engine, simpy_funnel):
    """Negative control at the SimPy peer's small size: at 2e4 customers (about 140 churned) the
    test catches awareness -> engaged .35 only about one time in ten, so this uses .45, which it
    catches 99.7% of the time (measured over 300 seeds); at 10^6 both controls above are certain."""
    very_wrong = dict(numpy_funnel.NEXT, awareness={"engaged": 0.45, "lost": 0.55})
    peer = simpy_funnel.simulate(N_SIMPY, webinar=False, seed=12, next_probs=very_wrong)
    stat, df, p = homogeneity(engine[False], peer)
    assert p < ALPHA, f"a wrong SimPy peer passed: chi2={stat:.1f}, df={df}, p={p:.2e}"


def test_peers_count_transitions_like_lcsim(engine):
    """Transitions per customer agree (same definition: every stage move before day 730)."""
    run = lcsim.simulate(
        lcsim.Scenario.load(FUNNEL).with_changes({"arrivals.initial.0.count": 200_000}),
        replications=1,
        threads=1,
    )
    ours = run.arrays["metrics"][0, run.metric_names.index("transitions")] / 200_000
    _, theirs = numpy_funnel.simulate(200_000, webinar=False, seed=3, with_transitions=True)
    # per-customer transitions have sd ~1.3; the difference of two means of 2e5 has sd ~0.004
    assert abs(ours - theirs / 200_000) < 0.02
