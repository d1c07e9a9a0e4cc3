"""Reference only (tests): the numpy implementation of the funnel-count fit that lcsim had before the
C++ one (src/calibrate/funnel_fit.cpp), kept to check that the C++ fit gives the same numbers on the
same data. lcsim itself does not import it.

Calibration from aggregate funnel counts (stage entries per period), fitted by matching.

>>> cal = lcsim.calibrate(funnel=counts, transitions={"lead": ["mql", "lost"], "mql": ["won", "lost"]})
>>> cal.estimates          # stages.<s>.dwell.mean, stages.<s>.next.<t>, arrivals.streams[i].rate_per_day

**Model.** A continuous-time Markov model (exponential dwells): stage s is left at rate 1/m_s
towards target t with probability p_st (the ``transitions`` give the targets). Customers arrive into
the *entry stages* (those no transition leads to) at a constant rate within each period, equal to
that stage's observed entries in the period divided by its length. With B the generator among the
non-absorbing stages and a_k the arrival rates of period k (length L), the occupancy x(t) follows
x' = x B + a_k, so over a period

    x(end) = x(start) e^{BL} + a_k F1,    integral of x = x(start) F1 + a_k F2,
    F1 = int_0^L e^{Bs} ds,  F2 = int_0^L int_0^t e^{Bs} ds dt,

read from one matrix exponential of the block matrix [[B, I, 0], [0, 0, I], [0, 0, 0]] L (Van Loan).
The expected entries into stage t in the period are (integral of x) . Q[:, t]. At the start of the
first period the funnel is empty (``start="empty"``) or in the steady state of the first period's
arrival rates, x = -a_0 B^-1 (``start="steady"``, the default: a funnel that has been running).

**Fit.** The counts of every stage in the data except the entry stages are matched by minimising
the Poisson deviance 2 sum[y log(y/mu) - (y - mu)] over theta = (log m_s, logits of p_st against the
first target) by Fisher scoring with Levenberg-Marquardt damping (the Jacobian of mu by central
differences). The covariance of theta is phi I^-1, I = J' diag(1/mu) J, phi = max(1, Pearson
chi^2 / (cells - parameters)) (quasi-Poisson: real counts are usually overdispersed). Intervals are
exp(theta +- z se) for means and delta-method intervals on the logit for probabilities.

**Identifiability.** Counts identify a next-probability when the target's entries are counted and
come from that source only (or the sources' flows differ in time). Dwell means are identified only
through *changes* of the inflow over time (a ramp-up from an empty funnel, seasonality, a campaign):
with a steady inflow and a steady start the expected counts do not depend on the means at all, and
with periods much longer than the dwells they depend on them only weakly. Means whose interval
spans more than a factor of 50 and probabilities whose interval is wider than 0.5 are listed in a
warning as not identified by the counts (a singular information matrix gets a vague ridge, so the
identified parameters keep their intervals); such a fit cannot be drawn from for ``uncertainty=``.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from lcsim.errors import ScenarioError
from lcsim.uncertainty import exact_sum as _exact

__all__ = ["expm", "fit_funnel"]

_Z95 = 1.959963984540054
_COLUMNS = ("period", "stage", "entries")


def expm(a) -> np.ndarray:
    """Matrix exponential: scaling and squaring with a diagonal [6/6] Pade approximant.

    The matrix is scaled by 2^-s so that its 1-norm is at most 1/2, where the [6/6] approximant's
    relative error is below 1e-16, then squared s times.
    """
    a = np.asarray(a, dtype=float)
    norm = np.abs(a).sum(axis=0).max() if a.size else 0.0
    s = max(0, int(math.ceil(math.log2(norm / 0.5)))) if norm > 0.5 else 0
    a = a / (2.0**s)
    q = 6
    c = [
        math.factorial(2 * q - k)
        * math.factorial(q)
        / (math.factorial(2 * q) * math.factorial(k) * math.factorial(q - k))
        for k in range(q + 1)
    ]
    eye = np.eye(a.shape[0])
    x = eye.copy()
    num = eye.copy()
    den = eye.copy()
    for k in range(1, q + 1):
        x = a @ x
        num = num + c[k] * x
        den = den + (-1) ** k * c[k] * x
    e = np.linalg.solve(den, num)
    for _ in range(s):
        e = e @ e
    return e


def _error(file: str, line: int, field: str, message: str) -> ScenarioError:
    return ScenarioError.of([(file, line, field, message)])


_errors = ScenarioError.of


class _Structure:
    """Stages, targets, entry and absorbing stages of the funnel model."""

    def __init__(self, transitions: Mapping[str, Sequence[str]], file: str):
        if not isinstance(transitions, Mapping) or not transitions:
            raise _error(
                file,
                0,
                "transitions",
                "expected a mapping {stage: [targets]} with at least one stage",
            )
        self.targets = {str(s): [str(t) for t in ts] for s, ts in transitions.items()}
        for s, ts in self.targets.items():
            if not ts or len(set(ts)) != len(ts) or s in ts:
                raise _error(
                    file,
                    0,
                    f"transitions.{s}",
                    f"expected distinct targets other than '{s}', got {ts}",
                )
        self.stages = list(self.targets) + sorted(
            {t for ts in self.targets.values() for t in ts} - set(self.targets)
        )
        self.transient = list(self.targets)
        self.absorbing = [s for s in self.stages if s not in self.targets]
        targeted = {t for ts in self.targets.values() for t in ts}
        self.entry = [s for s in self.transient if s not in targeted]
        if not self.entry:
            raise _error(
                file,
                0,
                "transitions",
                "no entry stage: every stage is some stage's target; "
                "arrivals must enter through a stage that no transition leads to",
            )


def _read(funnel, file: str) -> pd.DataFrame:
    if isinstance(funnel, pd.DataFrame):
        return funnel.copy()
    try:
        return pd.read_csv(os.fspath(funnel), dtype=str, keep_default_na=False)
    except OSError as e:
        raise _error(file, 0, "", f"cannot read file: {e}") from e


def _periods(
    values: pd.Series, file: str, period_days: float | None
) -> tuple[pd.Series, np.ndarray, list]:
    """(period key per row, start day of each distinct period, labels); days from the first period."""
    text = values.astype(str).str.strip()
    as_int = pd.to_numeric(text, errors="coerce")
    if as_int.notna().all() and (as_int == as_int.round()).all():
        step = 30.0 if period_days is None else float(period_days)
        keys = as_int.astype(np.int64)
        distinct = np.sort(keys.unique())
        if (np.diff(distinct) != 1).any():
            raise _error(
                file, 0, "period", f"expected consecutive integer periods, got {list(distinct)}"
            )
        starts = (distinct - distinct[0]) * step
        return keys, np.append(starts, starts[-1] + step), [str(k) for k in distinct]
    dates = pd.to_datetime(text, errors="coerce", format="mixed")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        raise _errors(
            [
                (
                    file,
                    int(i) + 2,
                    "period",
                    f"expected a date (YYYY-MM or YYYY-MM-DD) or an integer, "
                    f"got {values.iloc[i]!r}",
                )
                for i in bad[:20]
            ]
        )
    distinct = pd.DatetimeIndex(np.sort(dates.unique()))
    starts = ((distinct - distinct[0]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    if period_days is not None:
        last = float(period_days)
    elif (distinct.day == 1).all():
        last = float(distinct[-1].days_in_month)
    elif len(starts) > 1:
        last = float(starts[-1] - starts[-2])
    else:
        raise _error(file, 0, "period", "one period of dates: give period_days")
    return dates, np.append(starts, starts[-1] + last), [d.strftime("%Y-%m-%d") for d in distinct]


class _Model:
    """Expected entries per period and counted stage as a function of theta."""

    def __init__(self, st: _Structure, lengths: np.ndarray, arrivals: np.ndarray, start: str):
        self.st = st
        self.n = len(st.transient)
        self.lengths = lengths
        self.arrivals = arrivals  # [K, n]: arrivals per period into each transient stage
        self.start = start
        self.col = {s: i for i, s in enumerate(st.stages)}
        self.layout = []  # (stage index, slice of theta: log mean, logits)
        k = 0
        for i, s in enumerate(st.transient):
            m = len(st.targets[s])
            self.layout.append((i, k, m))
            k += m
        self.size = k

    def generator(self, theta: np.ndarray) -> np.ndarray:
        """Q over all stages (rows of absorbing stages 0)."""
        q = np.zeros((len(self.st.stages), len(self.st.stages)))
        for i, k, m in self.layout:
            mean = math.exp(theta[k])
            p = self.probs(theta[k + 1 : k + m])
            s = self.st.transient[i]
            for t, pt in zip(self.st.targets[s], p):
                q[i, self.col[t]] = pt / mean
            q[i, i] = -1.0 / mean
        return q

    @staticmethod
    def probs(logits: np.ndarray) -> np.ndarray:
        z = np.concatenate([[0.0], logits])
        z = np.exp(z - z.max())
        return z / z.sum()

    def entries(self, theta: np.ndarray) -> np.ndarray:
        """Expected entries [K, stages] (entry stages: the observed arrivals)."""
        q = self.generator(theta)
        n = self.n
        b = q[:n, :n]
        flows = q[:n, :].copy()
        np.fill_diagonal(flows[:, :n], 0.0)
        cache = {}
        rates = self.arrivals / self.lengths[:, None]
        if self.start == "steady":
            x = -np.linalg.solve(b.T, rates[0])
        else:
            x = np.zeros(n)
        out = np.zeros((len(self.lengths), len(self.st.stages)))
        for k, length in enumerate(self.lengths):
            if length not in cache:
                big = np.zeros((3 * n, 3 * n))
                big[:n, :n] = b
                big[:n, n : 2 * n] = np.eye(n)
                big[n : 2 * n, 2 * n :] = np.eye(n)
                e = expm(big * length)
                cache[length] = (e[:n, :n], e[:n, n : 2 * n], e[:n, 2 * n :])
            eb, f1, f2 = cache[length]
            integral = x @ f1 + rates[k] @ f2
            out[k] = integral @ flows
            out[k, :n] += self.arrivals[k]
            x = x @ eb + rates[k] @ f1
        return out


def fit_funnel(
    funnel,
    transitions: Mapping[str, Sequence[str]],
    *,
    won: str | None = None,
    start: str = "steady",
    period_days: float | None = None,
    level: float = 0.95,
    name: str = "calibrated",
    seed: int = 1,
    replications: int = 10,
    file: str | None = None,
) -> dict:
    """Fits the funnel model to counts; the data dict of a :class:`lcsim.Calibration` (kind "funnel").

    See :func:`lcsim.calibrate` (``funnel=``) for the parameters and the module docstring for the model.
    """
    file = file or ("<funnel>" if isinstance(funnel, pd.DataFrame) else os.fspath(funnel))
    if start not in ("steady", "empty"):
        raise _error(file, 0, "start", f"expected 'steady' or 'empty', got {start!r}")
    if not 0 < level < 1:
        raise _error(file, 0, "level", f"expected a number in (0, 1), got {level!r}")
    st = _Structure(transitions, file)
    frame = _read(funnel, file)
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise _errors(
            [
                (
                    file,
                    1,
                    c,
                    f"missing column '{c}' (columns: {', '.join(map(str, frame.columns))})",
                )
                for c in missing
            ]
        )
    if frame.empty:
        raise _error(file, 1, "entries", "no rows")
    problems = []
    stages = frame["stage"].astype(str).str.strip()
    for i, s in enumerate(stages):
        if s not in st.stages:
            close = difflib.get_close_matches(s, st.stages, n=1)
            hint = (
                f" (did you mean '{close[0]}'?)" if close else f" (stages: {', '.join(st.stages)})"
            )
            problems.append((file, i + 2, "stage", f"unknown stage '{s}'{hint}"))
    raw = frame["entries"]
    counts = pd.to_numeric(raw.astype(str).str.strip(), errors="coerce")
    for i, (r, c) in enumerate(zip(raw, counts)):
        if not (np.isfinite(c) and c >= 0 and c == round(c)):
            problems.append(
                (file, i + 2, "entries", f"expected a count (an integer >= 0), got {r!r}")
            )
    if problems:
        raise _errors(problems[:50])
    keys, edges, labels = _periods(frame["period"], file, period_days)
    distinct = np.sort(pd.unique(keys))
    index = {k: i for i, k in enumerate(distinct)}
    col = {s: i for i, s in enumerate(st.stages)}
    y = np.full((len(distinct), len(st.stages)), np.nan)
    for i, (k, s, c) in enumerate(zip(keys, stages, counts)):
        if not np.isnan(y[index[k], col[s]]):
            problems.append(
                (file, i + 2, "stage", f"a second row for stage '{s}' in period {labels[index[k]]}")
            )
        y[index[k], col[s]] = c
    counted = [s for s in st.stages if not np.isnan(y[:, col[s]]).all()]
    for s in counted:
        for k in np.flatnonzero(np.isnan(y[:, col[s]])):
            problems.append(
                (
                    file,
                    0,
                    "period",
                    f"no row for stage '{s}' in period {labels[k]} (give 0 entries)",
                )
            )
    for s in st.entry:
        if s not in counted:
            problems.append(
                (file, 0, "stage", f"entry stage '{s}' has no counts: its entries are the arrivals")
            )
    fitted = [s for s in counted if s not in st.entry]
    if not fitted:
        problems.append(
            (file, 0, "stage", "no counts of a stage after the entry stages: nothing to fit")
        )
    if problems:
        raise _errors(problems[:50])
    won = won if won is not None else ("won" if "won" in st.stages else None)
    if won not in st.stages:
        raise _error(file, 0, "won", f"expected a stage of the model (default 'won'), got {won!r}")

    lengths = np.diff(edges)
    arrivals = np.zeros((len(distinct), len(st.transient)))
    for s in st.entry:
        arrivals[:, st.transient.index(s)] = y[:, col[s]]
    model = _Model(st, lengths, arrivals, start)
    cells = [col[s] for s in fitted]
    obs = y[:, cells].reshape(-1)

    def mu_of(theta):
        return np.maximum(model.entries(theta)[:, cells].reshape(-1), 1e-12)

    def deviance(mu):
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(obs > 0, obs * np.log(obs / mu), 0.0)
        return 2.0 * float(np.sum(term - (obs - mu)))

    def jacobian(theta, h=1e-5):
        cols = []
        for j in range(len(theta)):
            e = np.zeros_like(theta)
            e[j] = h
            cols.append((mu_of(theta + e) - mu_of(theta - e)) / (2 * h))
        return np.column_stack(cols)

    theta = _start(st, y, col, model)
    mu = mu_of(theta)
    dev = deviance(mu)
    damping, converged, iterations = 1e-3, False, 0
    for iterations in range(1, 201):  # noqa: B007 - the count is read after the loop
        jac = jacobian(theta)
        score = jac.T @ ((obs - mu) / mu)
        info = jac.T @ (jac / mu[:, None])
        improved = False
        for _ in range(30):
            a = info + damping * np.diag(np.maximum(np.diag(info), 1e-12))
            step = np.linalg.lstsq(a, score, rcond=None)[0]
            step = np.clip(step, -2.0, 2.0)
            cand = theta + step
            cmu = mu_of(cand)
            cdev = deviance(cmu)
            if cdev <= dev:
                improved = True
                break
            damping *= 10.0
        if not improved:
            converged = bool(np.max(np.abs(score)) < 1e-3 * max(1.0, obs.mean()))
            break
        change = dev - cdev
        theta, mu, dev = cand, cmu, cdev
        damping = max(damping / 10.0, 1e-9)
        if change < 1e-9 * max(1.0, dev) and np.max(np.abs(step)) < 1e-7:
            converged = True
            break
    jac = jacobian(theta)
    info = jac.T @ (jac / mu[:, None])
    dof = len(obs) - len(theta)
    pearson = float(np.sum((obs - mu) ** 2 / mu))
    dispersion = max(1.0, pearson / dof) if dof > 0 else 1.0
    warnings = []
    eig = np.linalg.eigvalsh(info)
    if eig.min() <= 1e-10 * max(eig.max(), 1e-300):
        # Flat directions: a vague ridge (a normal prior with sd ~ 1e4 / sqrt(largest information) on
        # theta) keeps the identified parameters' intervals; the flat ones come out huge and flagged.
        info = info + 1e-8 * max(eig.max(), 1e-300) * np.eye(len(theta))
        warnings.append(
            (
                file,
                0,
                "funnel",
                "the information matrix is singular: some parameters are not "
                "identified by the counts",
            )
        )
    cov = dispersion * np.linalg.inv(info)
    return _result(
        st,
        model,
        theta,
        cov,
        y,
        col,
        fitted,
        counted,
        edges,
        labels,
        level,
        won,
        name,
        seed,
        replications,
        file,
        start,
        dict(
            deviance=dev,
            pearson=pearson,
            dispersion=dispersion,
            cells=len(obs),
            parameters=len(theta),
            iterations=iterations,
            converged=converged,
        ),
        warnings,
    )


def _start(st: _Structure, y, col, model: _Model) -> np.ndarray:
    """Starting values: means of 10 days; probabilities in proportion to the targets' total counted
    entries (targets without counts get the mean weight of the counted ones, or 1)."""
    theta = np.zeros(model.size)
    total = np.nansum(y, axis=0)
    for i, k, m in model.layout:
        theta[k] = math.log(10.0)
        targets = st.targets[st.transient[i]]
        w = np.array([total[col[t]] if not np.isnan(y[:, col[t]]).all() else 0.0 for t in targets])
        w = np.where(w > 0, w, w[w > 0].mean() if (w > 0).any() else 1.0)
        theta[k + 1 : k + m] = np.log(w[1:] / w[0])
    return theta


def _result(
    st,
    model,
    theta,
    cov,
    y,
    col,
    fitted,
    counted,
    edges,
    labels,
    level,
    won,
    name,
    seed,
    replications,
    file,
    start,
    fit,
    warnings,
) -> dict:
    z = float(np.sqrt(2.0) * _erfinv(level))
    rows = []
    scenario_stages = {}
    paths_mean = []
    total = np.nansum(y, axis=0)
    for i, k, m in model.layout:
        s = st.transient[i]
        n_in = int(total[col[s]]) if s in counted else 0
        se = math.sqrt(cov[k, k]) if np.isfinite(cov[k, k]) else math.nan
        mean = math.exp(theta[k])
        half = min(
            z * se, 700.0
        )  # exp() of more overflows: such a mean is flagged as not identified anyway
        rows.append(
            (f"stages.{s}.dwell.mean", mean, mean * math.exp(-half), mean * math.exp(half), n_in)
        )
        p = model.probs(theta[k + 1 : k + m])
        for j, t in enumerate(st.targets[s]):
            g = _logit_gradient(model, theta, k, m, j)
            var = float(g @ cov @ g)
            lo, hi = (
                (
                    _expit(_logit(p[j]) - z * math.sqrt(var)),
                    _expit(_logit(p[j]) + z * math.sqrt(var)),
                )
                if m > 1 and np.isfinite(var)
                else ((1.0, 1.0) if m == 1 else (math.nan, math.nan))
            )
            rows.append((f"stages.{s}.next.{t}", float(p[j]), lo, hi, n_in))
        scenario_stages[s] = {
            "dwell": {"dist": "exponential", "mean": float(mean)},
            "next": dict(zip(st.targets[s], _exact(p))),
        }
        paths_mean.append(s)
    for s in st.absorbing:
        scenario_stages[s] = {"absorbing": True}
    days = float(edges[-1] - edges[0])
    streams = []
    log_rates = []
    for e, s in enumerate(st.entry):
        n = int(total[col[s]])
        rate = n / days
        streams.append({"stage": s, "rate_per_day": float(rate)})
        half = z * math.sqrt(max(n, 1)) / days
        rows.append(
            (f"arrivals.streams[{e}].rate_per_day", rate, max(0.0, rate - half), rate + half, n)
        )
        log_rates.append(
            (
                f"arrivals.streams[{e}].rate_per_day",
                math.log(rate) if rate > 0 else math.nan,
                1.0 / max(n, 1),
            )
        )
    flagged = [
        r[0] for r in rows if r[0].endswith(".dwell.mean") and not r[3] / max(r[2], 1e-300) <= 50.0
    ]
    flagged += [r[0] for r in rows if ".next." in r[0] and not (r[3] - r[2]) <= 0.5]
    if flagged:
        warnings.append(
            (
                file,
                0,
                "funnel",
                "not identified by the counts (a mean's interval wider than a factor "
                "of 50, a probability's wider than 0.5): " + ", ".join(flagged),
            )
        )
    scenario = {
        "name": name,
        "description": f"fitted to funnel counts in {file} ({len(labels)} periods from {labels[0]})",
        "horizon": days,
        "report_every": float(np.median(np.diff(edges))),
        "seed": int(seed),
        "replications": int(replications),
        "won": won,
        "stages": scenario_stages,
        "arrivals": {"streams": streams},
    }
    if start == "steady":
        x0 = -np.linalg.solve(
            model.generator(theta)[: model.n, : model.n].T, model.arrivals[0] / model.lengths[0]
        )
        initial = [
            {"stage": s, "count": int(round(x0[i]))}
            for i, s in enumerate(st.transient)
            if round(x0[i]) >= 1
        ]
        if initial:
            scenario["arrivals"]["initial"] = initial
    mvn_paths, mvn_groups = [], []
    for i, _k, m in model.layout:
        s = st.transient[i]
        mvn_paths.append(f"stages.{s}.dwell.mean")
        mvn_groups.append([f"stages.{s}.dwell.mean"])
        nexts = [f"stages.{s}.next.{t}" for t in st.targets[s]]
        if m > 1:
            mvn_paths += nexts
            mvn_groups.append(nexts)
    stream_paths = [p for p, mu, _ in log_rates if np.isfinite(mu)]
    mean = np.concatenate([theta, [mu for _, mu, _ in log_rates if np.isfinite(mu)]])
    cov_all = np.zeros((len(mean), len(mean)))
    cov_all[: len(theta), : len(theta)] = cov
    for j, (_, _mu, var) in enumerate([r for r in log_rates if np.isfinite(r[1])]):
        cov_all[len(theta) + j, len(theta) + j] = var

    def transform(draw: np.ndarray) -> dict:
        out = {}
        for i, k, m in model.layout:
            s = st.transient[i]
            out[f"stages.{s}.dwell.mean"] = float(math.exp(draw[k]))
            if m > 1:
                out.update(
                    zip(
                        [f"stages.{s}.next.{t}" for t in st.targets[s]],
                        _exact(model.probs(draw[k + 1 : k + m])),
                    )
                )
        for j, p in enumerate(stream_paths):
            out[p] = float(math.exp(draw[len(theta) + j]))
        return out

    fitted_frame = model.entries(theta)
    table = pd.DataFrame(
        {
            "period": np.repeat(labels, len(counted)),
            "stage": np.tile(counted, len(labels)),
            "observed": y[:, [col[s] for s in counted]].reshape(-1),
            "expected": fitted_frame[:, [col[s] for s in counted]].reshape(-1),
        }
    )
    table["fitted"] = ~table["stage"].isin(st.entry)
    return {
        "file": file,
        "epoch": labels[0] if "-" in labels[0] else "",
        "window": (0.0, days),
        "estimates": rows,
        "families": [],
        "warnings": [(f, line, c, msg, True) for f, line, c, msg in warnings],
        "scenario_yaml": yaml.safe_dump(scenario, sort_keys=False),
        "fit": fit,
        "counts": table,
        "posterior_mvn": {
            "paths": mvn_paths + stream_paths,
            "unidentified": flagged,
            "groups": mvn_groups + [[p] for p in stream_paths],
            "mean": mean,
            "cov": cov_all,
            "transform": transform,
        },
    }


def _logit_gradient(model, theta, k, m, j) -> np.ndarray:
    """d logit(p_j) / d theta (zero outside the stage's logits)."""
    g = np.zeros(len(theta))
    if m == 1:
        return g
    p = model.probs(theta[k + 1 : k + m])
    # d log p_j / d logit_l = [j == l] - p_l  (l indexes targets 1..m-1; logit of target 0 fixed at 0)
    dlogp = -p[1:].copy()
    if j >= 1:
        dlogp[j - 1] += 1.0
    # logit p_j = log p_j - log(1 - p_j); d/dx = dlogp / (1 - p_j)
    g[k + 1 : k + m] = dlogp / (1.0 - p[j])
    return g


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p)) if 0 < p < 1 else (math.inf if p >= 1 else -math.inf)


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def _erfinv(y: float) -> float:
    """Inverse error function by Newton's method on math.erf (for the interval's z)."""
    x = 0.0
    for _ in range(60):
        x -= (math.erf(x) - y) / (2.0 / math.sqrt(math.pi) * math.exp(-x * x))
    return x
