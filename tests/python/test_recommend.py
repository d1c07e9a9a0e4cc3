"""lcsim.recommend: variants ranked by net value, "cannot tell apart", the plain sentence and the
changes in words."""

import math
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

import lcsim
from lcsim import recommend
from lcsim.recommend import describe_changes, money, rank, tied

B2B = SCENARIOS / "b2b_saas"
TEAM = SCENARIOS / "sales_team"


# ---- a comparison with chosen numbers ---------------------------------------------------------------


def _run(name, scenario, net=None):
    metrics = (
        None
        if net is None
        else pd.DataFrame({"replication": np.arange(len(net)), "net_value": net})
    )
    return SimpleNamespace(
        name=name,
        scenario=scenario,
        info=SimpleNamespace(scenario_name=scenario.name),
        metrics=lambda: metrics,
    )


def fake_comparison(variants, customers=46_000.0):
    """variants: [(scenario, {metric: (delta, low, high)}, per-replication net values or None)]."""
    base = lcsim.Scenario.load(B2B / "baseline.yaml")
    rows = []
    for i, (_scenario, metrics, _) in enumerate(variants):
        metrics = {"customers": (0.0, 0.0, 0.0), **metrics}
        for metric, (delta, low, high) in metrics.items():
            base_mean = customers if metric == "customers" else 1000.0
            rows.append(
                {
                    "variant": f"v{i}",
                    "metric": metric,
                    "base_mean": base_mean,
                    "variant_mean": base_mean + delta,
                    "delta": delta,
                    "ci_low": low,
                    "ci_high": high,
                    "n": 20,
                }
            )
    table = pd.DataFrame(rows)
    return SimpleNamespace(
        base=_run("base", base),
        variants=[_run(f"v{i}", s, net) for i, (s, _, net) in enumerate(variants)],
        deltas=lambda: table,
    )


def variant(changes, name):
    return lcsim.Scenario.load(B2B / "baseline.yaml").with_changes({"name": name, **changes})


MOVED = {
    "conversions": (67.35, 62.4, 72.3),
    "revenue": (1.2e6, 1.07e6, 1.33e6),
    "touchpoint_cost": (8.7e4, 8.6e4, 8.8e4),
}


def test_variants_are_ranked_by_net_value_and_overlapping_intervals_cannot_be_told_apart():
    cmp = fake_comparison(
        [
            (
                variant({"touchpoints.nurture_email.reach": 0.4}, "small"),
                {**MOVED, "net_value": (10.0, 5.0, 15.0)},
                None,
            ),
            (
                variant({"touchpoints.nurture_email.reach": 0.5}, "big"),
                {**MOVED, "net_value": (100.0, 80.0, 120.0)},
                None,
            ),
            (
                variant({"touchpoints.nurture_email.reach": 0.6}, "close"),
                {**MOVED, "net_value": (90.0, 85.0, 95.0)},
                None,
            ),
            # touches "close" at one end only (95 == 95): still overlapping, so tied
            (
                variant({"touchpoints.nurture_email.reach": 0.7}, "touching"),
                {**MOVED, "net_value": (50.0, 15.5, 95.0)},
                None,
            ),
        ]
    )
    recs = rank(cmp)
    assert [r.label for r in recs] == ["big", "close", "touching", "small"]
    assert [r.rank for r in recs] == [1, 2, 3, 4]
    assert [r.net_value for r in recs] == [100.0, 90.0, 50.0, 10.0]
    ties = {r.label: set(r.tied_with) for r in recs}
    assert ties == {
        "big": {"close", "touching"},
        "close": {"big", "touching"},
        "touching": {"big", "close"},
        "small": set(),
    }  # small's 15 < touching's 15.5: apart
    assert "cannot be told apart from close, touching" in recommend.headline(recs)


def test_equal_net_values_keep_the_comparisons_order():
    cmp = fake_comparison(
        [
            (
                variant({"touchpoints.nurture_email.reach": 0.4}, "first"),
                {**MOVED, "net_value": (10.0, 9.0, 11.0)},
                None,
            ),
            (
                variant({"touchpoints.nurture_email.reach": 0.5}, "second"),
                {**MOVED, "net_value": (10.0, 9.0, 11.0)},
                None,
            ),
        ]
    )
    assert [r.label for r in rank(cmp)] == ["first", "second"]


def test_the_tie_rules_at_their_boundaries():
    a = SimpleNamespace(ci=(1.0, 2.0))
    assert tied(a, SimpleNamespace(ci=(2.0, 3.0)))  # touching ends overlap
    assert not tied(a, SimpleNamespace(ci=(2.0 + 1e-9, 3.0)))
    assert tied(a, SimpleNamespace(ci=(-5.0, 1.0)))
    assert tied(a, SimpleNamespace(ci=(0.0, 9.0)))  # one inside the other
    assert tied(a, a, "paired", (0.1, -0.2, 0.4))  # the paired difference's CI holds 0
    assert not tied(a, a, "paired", (0.5, 0.1, 0.9))
    assert tied(a, a, "paired", (0.5, 0.0, 0.9))
    with pytest.raises(ValueError, match="paired"):
        tied(a, a, "paired")
    with pytest.raises(ValueError, match="rule"):
        tied(a, a, "guess")


def test_the_paired_rule_uses_the_replications_difference():
    # Overlapping intervals against the base, but b is above a in every replication by 1 +- 0.1:
    # the paired rule tells them apart, the overlap rule does not.
    rng = np.random.default_rng(7)
    a = rng.normal(100, 10, 20)
    b = a + 1 + rng.normal(0, 0.1, 20)
    cmp = fake_comparison(
        [
            (
                variant({"touchpoints.nurture_email.reach": 0.4}, "a"),
                {**MOVED, "net_value": (a.mean(), 95.0, 105.0)},
                a,
            ),
            (
                variant({"touchpoints.nurture_email.reach": 0.5}, "b"),
                {**MOVED, "net_value": (b.mean(), 96.0, 106.0)},
                b,
            ),
        ]
    )
    assert [r.tied_with for r in rank(cmp)] == [("a",), ("b",)]
    paired = rank(cmp, rule="paired")
    assert [r.label for r in paired] == ["b", "a"] and [r.tied_with for r in paired] == [(), ()]
    d = b - a
    half = lcsim._core.t95_factor(20) * d.std(ddof=1) / math.sqrt(20)
    assert paired[0].extra["a"] == pytest.approx((d.mean(), d.mean() - half, d.mean() + half))
    with pytest.raises(ValueError, match="rule"):
        rank(cmp, rule="guess")


@pytest.mark.parametrize(
    "metrics, lead, words",
    [
        (MOVED, "conversions", "about +67 customers won and "),
        (
            {
                "conversions": (0.0, 0.0, 0.0),
                "revenue": (1_136_696.0, 1.07e6, 1.2e6),
                "touchpoint_cost": (1.6e5, 1.5e5, 1.7e5),
            },
            "revenue",
            "no change in customers won, +$1.14 M revenue and ",
        ),
        (
            {
                "conversions": (0.2, -0.5, 0.9),
                "revenue": (10.0, -50.0, 70.0),
                "touchpoint_cost": (-85.0, -90.0, -80.0),
            },
            "touchpoint_cost",
            "no change in customers won or revenue, -$85 touchpoint and staff cost and ",
        ),
        (
            {
                "conversions": (0.2, -0.5, 0.9),
                "revenue": (10.0, -50.0, 70.0),
                "touchpoint_cost": (1.0, -2.0, 3.0),
            },
            "",
            "no clear change in customers won, revenue or cost, and ",
        ),
    ],
)
def test_the_sentence_is_led_by_the_metric_that_moved(metrics, lead, words):
    cmp = fake_comparison(
        [
            (
                variant({"touchpoints.nurture_email.reach": 0.4}, "v"),
                {**metrics, "net_value": (856_613.0, 796_591.0, 916_635.0)},
                None,
            )
        ]
    )
    r = rank(cmp)[0]
    assert r.lead == lead
    assert words in r.sentence
    assert r.sentence.endswith(
        "+$0.86 M net value over 2 years per run of 46,000 prospects; 95% CI +$0.80 M to +$0.92 M."
    )


def test_a_net_value_whose_interval_holds_zero_says_so():
    cmp = fake_comparison(
        [
            (
                variant({"touchpoints.nurture_email.reach": 0.4}, "v"),
                {**MOVED, "net_value": (49_884.0, -2_973.0, 102_742.0)},
                None,
            )
        ]
    )
    r = rank(cmp)[0]
    assert not r.clear
    assert (
        "+$50 k net value" in r.sentence
        and "95% CI -$3 k to +$103 k, so it may be no better than the base." in r.sentence
    )
    assert "not clear" in recommend.headline([r])


def test_money_and_counts_in_words():
    assert money(988_864) == "+$0.99 M" and money(-1_136_696) == "-$1.14 M"
    assert (
        money(-2_973, 1e3) == "-$3 k" and money(102_742) == "+$103 k" and money(49_884) == "+$50 k"
    )
    assert money(2_973) == "+$2,973" and money(15, sign=False) == "$15" and money(0.5) == "+$0.50"
    assert money(400, 1e6) == "$0.00 M"  # no sign on a zero that rounding made
    assert (
        recommend.count(67.35) == "+67"
        and recommend.count(4.6) == "+4.6"
        and recommend.count(46_015.2, sign=False) == "46,015"
    )
    assert recommend.horizon_words(730) == "2 years" and recommend.horizon_words(90) == "90 days"


# ---- changes in words ----------------------------------------------------------------------------


def words(base, variant_):
    return describe_changes(base, variant_)


def test_a_touchpoint_added_in_words():
    base = lcsim.Scenario.load(B2B / "baseline.yaml")
    assert words(base, lcsim.Scenario.load(B2B / "webinar_for_mqls.yaml")) == [
        "Adds webinar for MQLs, weekly from day 3 (25% reach, $15 a contact): 20% of those reached move to SQL at "
        "once; the others move on 1.2× as fast for 14 days"
    ]
    assert describe_changes(
        base, lcsim.Scenario.load(B2B / "webinar_for_mqls.yaml"), short=True
    ) == ["Adds webinar for MQLs, weekly from day 3 (25% reach, $15 a contact)"]
    loyalty = words(base, lcsim.Scenario.load(B2B / "loyalty_programme.yaml"))
    assert loyalty[0] == (
        "Adds loyalty customer for the customer stage, monthly while there (70% reach, $25 a contact): "
        "those reached leave 0.8× as fast (stay longer) for 30 days; and then go 72% to loyal, 28% to churned"
    )
    assert len(loyalty) == 2 and loyalty[1].startswith("Adds loyalty loyal for the loyal stage")


def test_a_touchpoint_removed_and_changed_in_words():
    base = lcsim.Scenario.load(B2B / "baseline.yaml")
    assert words(base, base.with_changes({"touchpoints.nurture_email": None})) == [
        "Removes nurture email for the lead stage, 1 day after entering, then weekly while there "
        "(35% reach, $0.50 a contact)"
    ]
    assert words(base, lcsim.Scenario.load(B2B / "faster_follow_up.yaml")) == [
        "First call: contacts 4 hours after entering instead of 2 days"
    ]
    assert words(
        base,
        base.with_changes({"touchpoints.first_call.reach": 0.5, "touchpoints.first_call.cost": 80}),
    ) == ["First call: reach 50% instead of 90%", "First call: cost per contact $80 instead of $60"]


def test_team_size_hand_off_queue_and_referrals_in_words():
    base = lcsim.Scenario.load(TEAM / "baseline.yaml")
    assert words(base, lcsim.Scenario.load(TEAM / "two_more_reps.yaml")) == [
        "Sales team: 5 staff instead of 3"
    ]
    assert words(base, lcsim.Scenario.load(TEAM / "four_hour_sla.yaml")) == [
        "Sales team: hand-off exactly 4 hours instead of 2 days on average (gamma)",
        "Sales team: queue order by priority instead of first come, first served",
        "Sales team: served first ICP, then SMB (new)",
    ]
    assert words(base, lcsim.Scenario.load(TEAM / "referral_programme.yaml")) == [
        "Word of mouth referrals: 0.04 a day per customer in the advocate stage instead of 0.01 (4×)"
    ]
    assert words(base, base.with_changes({"resources.sales.cost_per_server_day": 400})) == [
        "Sales team: cost a staff-day $400 instead of $350"
    ]


def test_segments_stages_arrivals_money_and_settings_in_words():
    base = lcsim.Scenario.load(B2B / "baseline.yaml")
    assert words(
        base, base.with_changes({"segments.icp.share": 0.6, "segments.smb.share": 0.4})
    ) == ["Segment ICP: share 60% instead of 35%", "Segment SMB: share 40% instead of 65%"]
    assert words(
        base, base.with_changes({"stages.sql.next": {"customer": 0.4, "mql": 0.25, "lost": 0.35}})
    ) == [
        "In SQL: then 40% to customer, 25% to MQL, 35% to lost instead of 30% to customer, 25% to MQL, 45% to lost"
    ]
    assert words(base, base.with_changes({"stages.mql.dwell.mean": 10})) == [
        "In MQL: time there 10 days on average (gamma) instead of 12 days on average (gamma)"
    ]
    assert words(base, base.with_changes({"stages.customer.revenue_per_month": 1500})) == [
        "In customer: revenue a month $1,500 instead of $1,200"
    ]
    assert words(base, base.with_changes({"arrivals.streams.0.rate_per_day": 80})) == [
        "Arrival stream 1: arrivals a day 80 instead of 60"
    ]
    assert words(base, base.with_changes({"money.discount_rate": 0.08})) == [
        "Money: discount rate a year 8% instead of 10%"
    ]
    assert words(base, base.with_changes({"horizon": 365})) == [
        "Horizon: 365 days instead of 730 days"
    ]
    assert words(base, base) == []
    assert not any(
        re.search(r"\w\.\w+\.", w)
        for w in words(
            base, base.with_changes({"segments.icp.share": 0.6, "segments.smb.share": 0.4})
        )
    )


# ---- a real comparison ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = tmp_path_factory.mktemp("recommend") / "study.h5"
    lcsim.compare(
        B2B / "baseline.yaml",
        B2B / "webinar_for_mqls.yaml",
        B2B / "faster_follow_up.yaml",
        B2B / "loyalty_programme.yaml",
        replications=4,
    ).save(path, "b2b")
    lcsim.compare(TEAM / "baseline.yaml", TEAM / "two_more_reps.yaml", replications=3).save(
        path, "team"
    )
    return path


def test_rank_reads_a_stored_comparison_and_its_numbers(study):
    st = lcsim.open(study)
    cmp = st.comparison("b2b")
    recs = rank(st, "b2b")
    deltas = cmp.deltas().set_index(["variant", "metric"])
    nets = {v.name: deltas.loc[(v.name, "net_value"), "delta"] for v in cmp.variants}
    assert [r.variant for r in recs] == sorted(nets, key=lambda n: -nets[n])
    customers = deltas.loc[(cmp.variants[0].name, "customers"), "base_mean"]
    for r in recs:
        row = deltas.loc[(r.variant, "net_value")]
        assert (r.net_value, r.ci) == (row["delta"], (row["ci_low"], row["ci_high"]))
        scale = recommend.money_scale(
            max(abs(row["delta"]), abs(row["ci_low"]), abs(row["ci_high"]))
        )
        assert (
            f"{money(row['delta'], scale)} net value over 2 years per run of "
            f"{recommend.count(customers, sign=False)} prospects" in r.sentence
        )
        assert (
            f"95% CI {money(row['ci_low'], scale)} to {money(row['ci_high'], scale)}" in r.sentence
        )
        assert r.replications == 4 and r.horizon_days == 730 and r.discount_rate == 0.1
    loyalty = next(r for r in recs if r.label == "b2b_saas_loyalty_programme")
    assert (
        loyalty.lead == "revenue"
        and "customers won" in loyalty.sentence
        and "about" not in loyalty.sentence
    )
    # Same answers from the Comparison and from the study's path.
    assert (
        [r.sentence for r in rank(cmp)]
        == [r.sentence for r in recs]
        == [r.sentence for r in rank(str(study), "b2b")]
    )


def test_rank_says_which_comparison_it_needs(study, tmp_path):
    with pytest.raises(ValueError, match="holds 2 comparisons .*b2b, team.*comparison="):
        rank(study)
    with pytest.raises(ValueError, match="no comparison 'nope'"):
        rank(study, "nope")
    with pytest.raises(TypeError, match="expected an lcsim.Comparison"):
        rank(42)
    single = tmp_path / "one.h5"
    lcsim.open(study).comparison("team").save(single, "team")
    assert [r.label for r in rank(single)] == ["sales_team_two_more_reps"]
