"""The answer a manager can act on: a comparison's variants ranked by net value, each with one plain
sentence, and a variant's changes in words.

``lcsim.recommend.rank(comparison)`` (or a study and the name of one of its comparisons) returns
one :class:`Recommendation` per variant, best first::

    for r in lcsim.recommend.rank(lcsim.open("study.h5"), "b2b_whatif"):
        print(r.rank, r.sentence, "cannot tell apart from", r.tied_with)

What the numbers are:

- **net value** is the study's ``net_value`` delta: the variant's revenue minus its touchpoint and
  staff cost, each discounted to day 0 at the scenario's ``money.discount_rate`` (so it is less than
  revenue minus cost before discounting), variant minus base, the mean over the comparison's paired
  replications with its 95% Student-t interval;
- **per run of N prospects**: every figure is per replication, one simulated history of the
  scenario's horizon with everyone who enters in it (N = the base's ``customers``: the starting
  cohort plus arrivals);
- **cannot tell apart** (``tied_with``): with ``rule="overlap"`` (the default) two variants whose
  95% intervals of net value overlap, i.e. ``low_a <= high_b and low_b <= high_a``; with
  ``rule="paired"`` two variants whose paired difference (variant a minus variant b on the same
  replications, common random numbers) has a 95% Student-t interval that contains 0. Overlapping
  intervals can hide a real difference that the paired interval shows; they never show one that is
  not there, which is why overlap is the default for a page a manager reads.

The sentence is led by the metric that moved (the first of conversions, revenue, touchpoint and
staff cost whose 95% interval excludes 0), so a change that only moves revenue is not described in
conversions. ``describe_changes(base, variant)`` says what a variant changes, in words, from
:meth:`lcsim.Scenario.diff` (dotted paths are for the analyst's table, not for these lines).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._paths import lookup
from .scenario import Scenario
from .study import Study
from .study import open as open_study

__all__ = ["Recommendation", "rank", "describe_changes", "money", "headline", "RULES", "GLOSSARY"]

#: The rules for "cannot tell apart" (see the module's docstring).
RULES = ("overlap", "paired")
#: The metrics that can lead a sentence, in order of preference.
LEADS = ("conversions", "revenue", "touchpoint_cost")

#: Plain definitions of the words the report and the app use (shown where they first appear).
GLOSSARY = {
    "net value": "revenue minus touchpoint and staff cost, both discounted to today at the scenario's "
    "discount rate (money later is worth less), for the variant minus the base",
    "customers won": "conversions: customers who reach the won stage for the first time",
    "touchpoint and staff cost": "what the contacts cost (per contact, landed or not) plus the teams' "
    "pay (staff-days times the daily cost)",
    "per run of N prospects": "every figure is for one simulated history of the horizon with everyone "
    "who enters in it (N prospects), averaged over the replications (repeated "
    "runs with different random draws)",
    "95% CI": "the 95% confidence interval: the range the true average difference lies in, given how much "
    "the replications vary",
    "cannot tell apart": "two variants whose 95% intervals of net value overlap: the study cannot say "
    "which is better; more replications may",
    "paired": "base and variant are simulated with the same random draws (common random numbers), so a "
    "difference comes from the change, not from luck",
}


# ---- numbers as words ----------------------------------------------------------------------------


def money(x: float, scale: float | None = None, sign: bool = True) -> str:
    """An amount of money for a sentence: ``+$0.99 M``, ``-$3 k``, ``+$2,973``, ``$15``.

    ``scale`` (1, 1e3 or 1e6; default: chosen from ``x``) lets an interval share its value's unit:
    :func:`money_scale` of the largest magnitude."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    scale = money_scale(abs(x)) if scale is None else scale
    prefix = ("+" if x > 0 else "-" if x < 0 else "") if sign else ("-" if x < 0 else "")
    a = abs(x)
    if scale == 1e6:
        text = f"${a / 1e6:,.2f} M"
    elif scale == 1e3:
        text = f"${a / 1e3:,.0f} k"
    else:
        text = f"${a:,.0f}" if a >= 10 or a == int(a) else f"${a:,.2f}"
    if text in ("$0.00 M", "$0 k"):
        prefix = ""  # no sign on a zero that rounding made
    return prefix + text


def money_scale(magnitude: float) -> float:
    """The unit for an amount of this size: millions from 500,000, thousands from 10,000, else 1."""
    return 1e6 if magnitude >= 5e5 else 1e3 if magnitude >= 1e4 else 1.0


def count(x: float, sign: bool = True) -> str:
    """A count of customers: whole numbers from 10, one decimal below (``+67``, ``+4.6``)."""
    x = float(x)
    text = f"{abs(x):,.0f}" if abs(x) >= 10 else f"{abs(x):.1f}"
    if sign:
        return (
            "+" if x > 0 and text.strip("0.") else "-" if x < 0 and text.strip("0.") else ""
        ) + text
    return ("-" if x < 0 else "") + text


def horizon_words(days: float) -> str:
    """``730`` -> ``2 years``, ``90`` -> ``90 days``."""
    days = float(days)
    if days >= 365 and days % 365 == 0:
        n = int(days // 365)
        return f"{n} year{'s' if n != 1 else ''}"
    return f"{days:g} days"


def _days(x: Any) -> str:
    """A duration in days as words: 0.1667 -> 4 hours, 1 -> 1 day, 2.5 -> 2.5 days."""
    if isinstance(x, list):
        return ", ".join(_days(v) for v in x)
    x = float(x)
    if 0 < x < 1:
        hours = x * 24
        return (
            f"{hours:.0f} hour{'s' if round(hours) != 1 else ''}"
            if abs(hours - round(hours)) < 0.05
            else f"{hours:.1f} hours"
        )
    return f"{x:g} day{'s' if x != 1 else ''}"


def _pct(x: Any) -> str:
    return f"{100 * float(x):.3g}%"


def _cash(x: Any) -> str:
    x = float(x)
    return f"${x:,.0f}" if x == int(x) else f"${x:,.2f}"


def _name(key: str) -> str:
    return str(key).replace("_", " ")


_ACRONYMS = {"mql", "sql", "icp", "smb"}


def _stage(stage: str) -> str:
    return stage.upper() if stage.lower() in _ACRONYMS else stage


def _who(stages: Sequence[str]) -> str:
    """Target stages as words: [mql] -> MQLs, [dormant] -> those in dormant."""
    stages = list(stages)
    if all(s.lower() in _ACRONYMS for s in stages):
        return " and ".join(s.upper() + "s" for s in stages)
    return (
        "the "
        + " and ".join(_stage(s) for s in stages)
        + " stage"
        + ("s" if len(stages) > 1 else "")
    )


def _every(days: float) -> str:
    return {1: "daily", 7: "weekly", 14: "every two weeks", 30: "monthly"}.get(
        float(days), f"every {_days(days)}"
    )


def _schedule(schedule: dict) -> str:
    parts = []
    cal = schedule.get("calendar")
    if cal:
        if cal.get("every"):
            text = _every(cal["every"])
            if cal.get("start"):
                text += f" from day {cal['start']:g}"
            parts.append(text)
        if cal.get("days"):
            parts.append("on days " + ", ".join(f"{d:g}" for d in cal["days"]))
    after = schedule.get("after_entry")
    if after:
        if after.get("days"):
            parts.append(f"{_days(after['days'])} after entering")
        if after.get("every"):
            start = after.get("start")
            parts.append(
                ("then " if after.get("days") else "")
                + _every(after["every"])
                + " while there"
                + (f" from day {start:g}" if start else "")
            )
    return ", ".join(parts) or "on no schedule"


def _dwell(d: Any) -> str:
    """A distribution of days as words (hand-off, service, patience, dwell)."""
    if not isinstance(d, dict):
        return _value(d)
    dist = d.get("dist", "exponential")
    if dist == "fixed":
        return f"exactly {_days(d['days'])}"
    if "mean" in d:
        return f"{_days(d['mean'])} on average ({dist})"
    if "median" in d:
        return f"median {_days(d['median'])} ({dist})"
    if "rate" in d:
        return f"{_days(1 / float(d['rate']))} on average ({dist})"
    return dist


def _shares(next_: dict) -> str:
    return ", ".join(f"{_pct(p)} to {_stage(s)}" for s, p in next_.items())


def _value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ", ".join(_value(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{_name(k)} {_value(x)}" for k, x in v.items())
    return str(v)


def _effect(effect: dict) -> str:
    parts = []
    move = effect.get("move")
    if move:
        parts.append(
            f"{_pct(move['probability'])} of those reached move to {_stage(move['to'])} at once"
        )
    window = effect.get("window", 0)
    factor = effect.get("hazard_factor", 1)
    if window and factor != 1:
        if factor > 1:
            parts.append(
                f"{'the others' if move else 'those reached'} move on {factor:g}× as fast for {_days(window)}"
            )
        else:
            parts.append(
                f"{'the others' if move else 'those reached'} leave {factor:g}× as fast "
                f"(stay longer) for {_days(window)}"
            )
    if window and effect.get("next"):
        parts.append(f"and then go {_shares(effect['next'])}")
    return "; ".join(parts)


def _touchpoint(name: str, t: dict, short: bool = False) -> str:
    segments = t.get("segments")
    who = _who(t.get("stages", [])) + (
        f" ({', '.join(_stage(s) for s in segments)} only)" if segments else ""
    )
    head = (
        f"{_name(name)} for {who}, {_schedule(t.get('schedule', {}))} "
        f"({_pct(t.get('reach', 1))} reach, {_cash(t.get('cost', 0))} a contact)"
    )
    if short:
        return head
    effect = _effect(t.get("effect", {}))
    return head + (f": {effect}" if effect else "")


# ---- changes in words ----------------------------------------------------------------------------

_TOUCHPOINT_FIELDS = {
    "reach": ("reach", _pct),
    "cost": ("cost per contact", _cash),
    "stages": ("for", _who),
    "segments": ("segments", lambda v: ", ".join(map(_stage, v)) if v else "all"),
    "schedule": ("schedule", _schedule),
    "effect": ("effect", _effect),
}
_RESOURCE_FIELDS = {
    "servers": ("staff", _value),
    "handoff": ("hand-off", _dwell),
    "service": ("work per customer", _dwell),
    "patience": ("patience before giving up", _dwell),
    "discipline": (
        "queue order",
        lambda v: {"fifo": "first come, first served", "priority": "by priority"}.get(v, _value(v)),
    ),
    "priority": ("served first", lambda v: ", then ".join(map(_stage, v)) if v else "no one"),
    "cost_per_server_day": ("cost a staff-day", _cash),
    "serves": ("works", _who),
    "abandon_to": ("those giving up go to", _stage),
}
_STAGE_FIELDS = {
    "dwell": ("time there", _dwell),
    "next": ("then", _shares),
    "revenue_per_month": ("revenue a month", _cash),
}
_TOP = {
    "horizon": ("horizon", _days),
    "replications": ("replications", _value),
    "seed": ("seed", _value),
    "report_every": ("report every", _days),
    "won": ("won stage", _stage),
    "max_customers": ("customer limit", _value),
}


def _was(field_words: str, fmt, old: Any, new: Any) -> str:
    if old is None:
        return f"{field_words} {fmt(new)} (new)"
    if new is None:
        return f"no {field_words} (was {fmt(old)})"
    return f"{field_words} {fmt(new)} instead of {fmt(old)}"


def _units(base: dict, variant: dict, paths: Sequence[str]) -> list[tuple]:
    """The changed paths grouped into the units that are described together, in diff order:
    (kind, key tuple, old, new)."""
    units: dict[tuple, tuple] = {}
    for path in paths:
        parts = path.split(".")
        head = parts[0]
        if head in ("touchpoints", "referrals") and len(parts) >= 2:
            key = (head, parts[1]) if len(parts) == 2 else (head, parts[1], parts[2])
        elif head == "resources" and len(parts) >= 2:
            key = (head, parts[1]) if len(parts) == 2 else (head, parts[1], parts[2])
        elif head == "stages" and len(parts) >= 2:
            key = (head, parts[1]) if len(parts) == 2 else (head, parts[1], parts[2])
        elif head == "segments" and len(parts) >= 2:
            key = (head, parts[1]) if len(parts) == 2 else (head, parts[1], *parts[2:5])
        elif head == "arrivals" and len(parts) >= 3 and parts[1] == "streams":
            key = (
                (head, "streams", parts[2])
                if len(parts) == 3
                else (head, "streams", parts[2], parts[3])
            )
        else:
            key = tuple(parts)
        if key not in units:
            units[key] = (key, lookup(base, key, None), lookup(variant, key, None))
    return list(units.values())


def _describe(key: tuple, old: Any, new: Any, short: bool, variant: dict) -> str | list:
    head = key[0]
    if head == "touchpoints":
        name = key[1]
        if len(key) == 2:
            if old is None:
                return "Adds " + _touchpoint(name, new, short)
            if new is None:
                return "Removes " + _touchpoint(name, old, True)
            return f"Changes {_name(name)}"
        words, fmt = _TOUCHPOINT_FIELDS.get(key[2], (_name(key[2]), _value))
        if (
            key[2] == "schedule"
            and old
            and new
            and (old.get("after_entry") or {}).keys()
            == {"days"}
            == (new.get("after_entry") or {}).keys()
        ):
            return (
                f"{_name(name).capitalize()}: contacts {_days(new['after_entry']['days'])} "
                f"after entering instead of {_days(old['after_entry']['days'])}"
            )
        return f"{_name(name).capitalize()}: " + _was(words, fmt, old, new)
    if head == "resources":
        team = f"{_name(key[1]).capitalize()} team"
        if len(key) == 2:
            if old is None:
                return (
                    f"Adds the {_name(key[1])} team ({_value(new.get('servers'))} staff, "
                    f"works {_who(new.get('serves', []))})"
                )
            return f"Removes the {_name(key[1])} team"
        if key[2] == "servers" and old is not None and new is not None:
            return f"{team}: {_value(new)} staff instead of {_value(old)}"
        words, fmt = _RESOURCE_FIELDS.get(key[2], (_name(key[2]), _value))
        return f"{team}: " + _was(words, fmt, old, new)
    if head == "referrals":
        if len(key) == 2:
            what = new if old is None else old
            text = (
                f"{_name(key[1])} referrals: {_value(what.get('rate_per_day'))} a day per customer in "
                f"{_stage(what.get('from', '?'))}, arriving in {_stage(what.get('to', '?'))}"
            )
            return ("Adds " if old is None else "Removes ") + text
        if key[2] == "rate_per_day":
            return (
                f"{_name(key[1]).capitalize()} referrals: {_value(new)} a day per customer in the "
                f"{_stage(lookup(variant, ('referrals', key[1], 'from'), None) or '?')} stage "
                f"instead of {_value(old)} ({float(new) / float(old):.3g}×)"
                if old and new
                else f"{_name(key[1]).capitalize()} referrals: "
                + _was("rate a day", _value, old, new)
            )
        return f"{_name(key[1]).capitalize()} referrals: " + _was(_name(key[2]), _value, old, new)
    if head == "stages":
        if len(key) == 2:
            return (
                "Adds" if old is None else "Removes" if new is None else "Changes"
            ) + f" stage {_stage(key[1])}"
        words, fmt = _STAGE_FIELDS.get(key[2], (_name(key[2]), _value))
        return f"In {_stage(key[1])}: " + _was(words, fmt, old, new)
    if head == "segments":
        if len(key) == 2:
            return (
                "Adds" if old is None else "Removes" if new is None else "Changes"
            ) + f" segment {_stage(key[1])}"
        if key[2] == "share":
            return f"Segment {_stage(key[1])}: " + _was("share", _pct, old, new)
        if key[2] == "stages" and len(key) >= 5:
            words, fmt = _STAGE_FIELDS.get(key[4], (_name(key[4]), _value))
            return f"Segment {_stage(key[1])}, in {_stage(key[3])}: " + _was(words, fmt, old, new)
        return f"Segment {_stage(key[1])}: " + _was(
            " ".join(_name(k) for k in key[2:]), _value, old, new
        )
    if head == "arrivals" and len(key) >= 3 and key[1] == "streams":
        n = int(key[2]) + 1
        if len(key) == 3:
            return (
                "Adds" if old is None else "Removes" if new is None else "Changes"
            ) + f" arrival stream {n}"
        if key[3] == "rate_per_day":
            return f"Arrival stream {n}: " + _was("arrivals a day", _value, old, new)
        return f"Arrival stream {n}: " + _was(_name(key[3]), _value, old, new)
    if (
        head == "arrivals"
        and len(key) == 2
        and key[1] == "streams"
        and isinstance(old, list)
        and isinstance(new, list)
    ):
        lines = []
        for n in range(max(len(old), len(new))):
            a = old[n] if n < len(old) else None
            b = new[n] if n < len(new) else None
            if a is None or b is None:
                lines.append(
                    ("Adds" if a is None else "Removes")
                    + f" arrival stream {n + 1} ({_value((a or b).get('rate_per_day'))} a day into "
                    f"{_stage((a or b).get('stage', '?'))})"
                )
                continue
            for k in list(a) + [k for k in b if k not in a]:
                if a.get(k) != b.get(k):
                    words = "arrivals a day" if k == "rate_per_day" else _name(k)
                    lines.append(
                        f"Arrival stream {n + 1}: " + _was(words, _value, a.get(k), b.get(k))
                    )
        return lines
    if head == "arrivals" and len(key) == 2 and key[1] == "initial":
        return (
            "Starting customers: "
            + _was(
                "",
                lambda v: "; ".join(
                    f"{x.get('count')} in {_stage(x.get('stage', '?'))}" for x in v
                ),
                old,
                new,
            ).strip()
        )
    if head == "money" and len(key) == 2 and key[1] == "discount_rate":
        return "Money: " + _was("discount rate a year", _pct, old, new)
    if len(key) == 1 and key[0] in _TOP:
        words, fmt = _TOP[key[0]]
        return words.capitalize() + ": " + _was("", fmt, old, new).strip()
    return (
        " › ".join(_name(k) for k in key).capitalize() + ": " + _was("", _value, old, new).strip()
    )


def describe_changes(base: Scenario, variant: Scenario, short: bool = False) -> list[str]:
    """What ``variant`` changes relative to ``base``, one plain line per touchpoint, team, referral,
    stage, segment or setting changed (its name and description left out), in the order of
    :meth:`Scenario.diff`. ``short`` leaves out touchpoints' effects (for one-sentence use)."""
    b, v = base.to_dict(), variant.to_dict()
    paths = [c.path for c in base.diff(variant) if c.path not in ("name", "description")]
    out: list[str] = []
    for key, old, new in _units(b, v, paths):
        text = _describe(key, old, new, short, v)
        out.extend(text if isinstance(text, list) else [text])
    return out


# ---- the ranking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """One variant of a comparison, ranked by net value (see the module docstring for the words)."""

    variant: str  #: run name in the study
    label: str  #: the variant's scenario name
    rank: int  #: 1 = the highest net value
    net_value: float  #: net value delta (discounted), per replication
    ci: tuple  #: its 95% CI (low, high)
    tied_with: tuple  #: labels of the variants it cannot be told apart from
    lead: str  #: the metric that led the sentence (a LEADS entry, or "" when none moved)
    sentence: str  #: the plain sentence
    changes: tuple  #: describe_changes(base, variant)
    conversions: float  #: conversions delta per replication
    conversions_ci: tuple
    revenue: float  #: revenue delta before discounting
    cost: float  #: touchpoint and staff cost delta before discounting
    prospects: float  #: the base's customers per replication (starting cohort plus arrivals)
    horizon_days: float
    discount_rate: float
    replications: int
    rule: str = "overlap"
    base_label: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def clear(self) -> bool:
        """Whether the net value's 95% interval excludes 0 (the variant is clearly better or worse
        than the base)."""
        return self.ci[0] > 0 or self.ci[1] < 0


def _moved(row) -> bool:
    return bool(row["ci_low"] > 0 or row["ci_high"] < 0)


def _sentence(changes_short: list[str], rows, prospects: float, horizon: float) -> tuple[str, str]:
    more = len(changes_short) - 1
    what = (changes_short[0] if changes_short else "") + (
        f" and {more} more change{'s' if more > 1 else ''}" if more > 0 else ""
    )
    what = what or "The same scenario as the base"
    lead = next((m for m in LEADS if m in rows.index and _moved(rows.loc[m])), "")
    net = rows.loc["net_value"]
    scale = money_scale(max(abs(net["delta"]), abs(net["ci_low"]), abs(net["ci_high"])))
    if lead == "conversions":
        moved = f"about {count(rows.loc['conversions', 'delta'])} customers won and "
    elif lead == "revenue":
        moved = f"no change in customers won, {money(rows.loc['revenue', 'delta'])} revenue and "
    elif lead == "touchpoint_cost":
        moved = (
            f"no change in customers won or revenue, {money(rows.loc['touchpoint_cost', 'delta'])} "
            "touchpoint and staff cost and "
        )
    else:
        moved = "no clear change in customers won, revenue or cost, and "
    ci = f"95% CI {money(net['ci_low'], scale)} to {money(net['ci_high'], scale)}"
    if not (net["ci_low"] > 0 or net["ci_high"] < 0):
        ci += ", so it may be no better than the base"
    sentence = (
        f"{what}: {moved}{money(net['delta'], scale)} net value over {horizon_words(horizon)} "
        f"per run of {count(prospects, sign=False)} prospects; {ci}."
    )
    return sentence[0].upper() + sentence[1:], lead


def _paired_ci(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    d = np.asarray(a, float) - np.asarray(b, float)
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    if n < 2:
        return mean, -math.inf, math.inf
    half = _core.t95_factor(n) * float(d.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def tied(
    a: Recommendation, b: Recommendation, rule: str = "overlap", paired: tuple | None = None
) -> bool:
    """Whether a and b cannot be told apart by ``rule``: ``"overlap"``, their net-value intervals
    overlap (``a.low <= b.high and b.low <= a.high``); ``"paired"``, the 95% interval of the paired
    difference ``paired = (mean, low, high)`` contains 0."""
    if rule == "overlap":
        return a.ci[0] <= b.ci[1] and b.ci[0] <= a.ci[1]
    if rule == "paired":
        if paired is None:
            raise ValueError("tied(rule='paired') needs the paired difference's interval")
        return paired[1] <= 0 <= paired[2]
    raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def rank(
    comparison_or_study, comparison: str | None = None, rule: str = "overlap"
) -> list[Recommendation]:
    """The variants of a comparison, best net value first, each with its sentence and the variants it
    cannot be told apart from.

    ``comparison_or_study``: an :class:`lcsim.Comparison`, an :class:`lcsim.Study` or a study's path;
    for a study, ``comparison`` names one of its comparisons (it may be left out when the study
    holds exactly one). ``rule``: ``"overlap"`` or ``"paired"`` (module docstring). Equal net values
    keep the comparison's order.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    cmp = _comparison(comparison_or_study, comparison)
    deltas = cmp.deltas()
    base_scenario = cmp.base.scenario
    settings = base_scenario.to_dict()
    horizon = float(settings["horizon"])
    discount = float((settings.get("money") or {}).get("discount_rate", 0.0))
    base_label = cmp.base.info.scenario_name or cmp.base.name
    drafts = []
    for i, run in enumerate(cmp.variants):
        rows = deltas[deltas["variant"] == run.name].set_index("metric")
        prospects = (
            float(rows.loc["customers", "base_mean"]) if "customers" in rows.index else math.nan
        )
        variant_scenario = run.scenario
        changes = describe_changes(base_scenario, variant_scenario)
        sentence, lead = _sentence(
            describe_changes(base_scenario, variant_scenario, short=True), rows, prospects, horizon
        )
        net = rows.loc["net_value"]
        conv = rows.loc["conversions"] if "conversions" in rows.index else None
        drafts.append(
            (
                i,
                run,
                Recommendation(
                    variant=run.name,
                    label=run.info.scenario_name or run.name,
                    rank=0,
                    net_value=float(net["delta"]),
                    ci=(float(net["ci_low"]), float(net["ci_high"])),
                    tied_with=(),
                    lead=lead,
                    sentence=sentence,
                    changes=tuple(changes),
                    conversions=float(conv["delta"]) if conv is not None else math.nan,
                    conversions_ci=(float(conv["ci_low"]), float(conv["ci_high"]))
                    if conv is not None
                    else (math.nan, math.nan),
                    revenue=float(rows.loc["revenue", "delta"])
                    if "revenue" in rows.index
                    else math.nan,
                    cost=float(rows.loc["touchpoint_cost", "delta"])
                    if "touchpoint_cost" in rows.index
                    else math.nan,
                    prospects=prospects,
                    horizon_days=horizon,
                    discount_rate=discount,
                    replications=int(net["n"]),
                    rule=rule,
                    base_label=base_label,
                ),
            )
        )
    drafts.sort(key=lambda d: (-d[2].net_value, d[0]))
    per_rep = {}
    if rule == "paired":
        for _, run, _r in drafts:
            m = run.metrics().set_index("replication")["net_value"]
            per_rep[run.name] = m
    out = []
    for position, (_, run, r) in enumerate(drafts, start=1):
        ties, extra = [], {}
        for _, other_run, other in drafts:
            if other is r:
                continue
            paired = None
            if rule == "paired":
                a, b = per_rep[run.name], per_rep[other_run.name]
                common = a.index.intersection(b.index)
                paired = _paired_ci(a.loc[common].to_numpy(), b.loc[common].to_numpy())
                extra[other.label] = paired
            if tied(r, other, rule, paired):
                ties.append(other.label)
        out.append(_replace(r, rank=position, tied_with=tuple(ties), extra=extra))
    return out


def _replace(r: Recommendation, **changes) -> Recommendation:
    from dataclasses import replace

    return replace(r, **changes)


def _comparison(obj, name: str | None):
    if isinstance(obj, (str, os.PathLike)):
        obj = open_study(obj)
    if isinstance(obj, Study):
        names = obj.comparisons()
        if name is None:
            if len(names) != 1:
                raise ValueError(
                    f"{obj.path}: holds {len(names)} comparisons ({', '.join(names) or 'none'}): "
                    "name one with comparison="
                )
            name = names[0]
        if name not in names:
            raise ValueError(
                f"{obj.path}: no comparison '{name}' (it has: {', '.join(names) or 'none'})"
            )
        return obj.comparison(name)
    if name is not None:
        raise TypeError("rank(): comparison= is for a study; a Comparison is already one")
    if not hasattr(obj, "deltas") or not hasattr(obj, "variants"):
        raise TypeError(
            f"rank(): expected an lcsim.Comparison, an lcsim.Study or a study's path, got {type(obj).__name__}"
        )
    return obj


def headline(recs: Sequence[Recommendation]) -> str:
    """One line over the ranking: what to do, or that the study cannot decide."""
    if not recs:
        return "No variants to rank."
    best = recs[0]
    if best.ci[1] < 0:
        return (
            f"None of the variants beats the base ({best.base_label}): keep it; "
            f"the best loses {money(-best.net_value, sign=False)} of net value."
        )
    if best.tied_with:
        others = ", ".join(best.tied_with)
        text = (
            f"{best.label} has the highest net value ({money(best.net_value)}), "
            f"but it cannot be told apart from {others}."
        )
    else:
        text = f"Best by net value: {best.label} ({money(best.net_value)}), clearly ahead of the others."
    if not best.clear:
        text += " Its gain over the base is not clear either (its 95% CI includes 0)."
    return text
