"""lcsim.optimise / lcsim optimise: the best plan under constraints.

The known optimum is an Erlang-A queue (tests/python/data/erlang_a.yaml): SQLs arrive at 8 a day, a
rep serves one in about a day, a waiting SQL gives up after about a day; a served one is worth 400,
a rep costs 138 a day. The best team size follows from the birth-death chain's stationary
distribution (derived here, not simulated). The chance constraint is checked against an independent
long run of the chosen plan; threads and Dask give the same plans bit for bit; bad levers are errors
before anything is simulated.
"""

import json
import math
import re
import time

import h5py
import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS

import lcsim
from lcsim.optimise import Optimisation, optimise

DATA = __import__("pathlib").Path(__file__).parent / "data"
ERLANG = DATA / "erlang_a.yaml"
LAM, MU, THETA, VALUE, REP_DAY, HORIZON = 8.0, 1.0, 1.0, 400.0, 138.0, 365.0


def throughput(c: int, n_max: int = 400) -> float:
    """Served customers per day of the M/M/c+M queue in steady state: birth rate LAM, death rate
    min(n, c) MU + max(n - c, 0) THETA in state n."""
    log_p = [0.0]
    for n in range(1, n_max):
        log_p.append(log_p[-1] + math.log(LAM) - math.log(min(n, c) * MU + max(n - c, 0) * THETA))
    p = np.exp(np.array(log_p) - max(log_p))
    p /= p.sum()
    return float(sum(p[n] * min(n, c) * MU for n in range(n_max)))


def net_value(c: int) -> float:
    return (VALUE * throughput(c) - REP_DAY * c) * HORIZON


@pytest.fixture(scope="module")
def erlang():
    return lcsim.Scenario.load(ERLANG)


def test_lands_on_the_known_best_team_size(erlang):
    values = {c: net_value(c) for c in range(1, 21)}
    best = max(values, key=values.get)
    assert best == 9  # the scenario file says so; the margins to 8 and 10 are about 9,000 a year
    assert min(values[best] - values[best - 1], values[best] - values[best + 1]) > 8500

    opt = optimise(erlang, {"resources.sales.servers": (1, 20)}, "net_value", trials=30, batch=6)
    assert opt.best == {"resources.sales.servers": best}
    assert opt.settings["evaluations"] <= 30
    search = opt.trials[opt.trials.phase == "search"]
    assert len(search) == 30 and search["resources.sales.servers"].between(1, 20).all()
    # The winner's value, on fresh replications, is the closed form's (the queue starts empty and
    # customers in service at the horizon are not counted yet: < 1% together).
    won = opt.final.iloc[opt.settings["winner"]]
    assert won["objective"] == pytest.approx(values[best], rel=0.01)
    # Its deltas against the base (4 reps) agree with the stored comparison's numbers.
    deltas = opt.selection.deltas()
    row = deltas[
        (deltas.variant == opt.selection.variants[opt.settings["winner"]].name)
        & (deltas.metric == "net_value")
    ]
    assert won["delta"] == pytest.approx(float(row["delta"].iloc[0]), rel=1e-12)
    assert won["delta_ci_low"] == pytest.approx(float(row["ci_low"].iloc[0]), rel=1e-9)
    assert not any("cannot separate" in line for line in opt.verdict)
    assert opt.verdict[0].startswith("Best plan: resources.sales.servers = 9")
    # 9 is inside 1..20: no edge-of-range warning.
    assert opt.settings["edges"] == [] and not any(
        line.startswith("Edge of range") for line in opt.verdict
    )


def test_a_chance_constraint_holds_in_an_independent_long_run(erlang):
    # The cheapest team that converts at least 2,240 SQLs a year in 90% of years.
    opt = optimise(
        erlang,
        {"resources.sales.servers": (1, 14)},
        "touchpoint_cost",
        direction="minimise",
        constraints=["conversions>=2240@0.9"],
        trials=24,
        batch=6,
    )
    chosen = opt.best["resources.sales.servers"]
    won = opt.final.iloc[opt.settings["winner"]]
    reported = won["conversions>=2240@0.9"]
    assert won["feasible"] == 1.0 and reported >= 0.9
    line = next(v for v in opt.verdict if v.startswith("P(conversions >= 2240)"))
    assert f"{reported:.2f}" in line
    # An independent long run (another seed, 400 replications) of the chosen plan and of one rep fewer.
    long = lcsim.simulate(opt.scenario, replications=400, seed=424242).metrics()
    p_long = float(np.mean(long.conversions >= 2240))
    assert p_long >= 0.9
    n = opt.settings["final_replications"]
    assert abs(reported - p_long) <= 3 * math.sqrt(p_long * (1 - p_long) / n) + 1 / n
    fewer = lcsim.simulate(
        erlang.with_changes({"resources.sales.servers": chosen - 1}), replications=400, seed=424242
    ).metrics()
    assert np.mean(fewer.conversions >= 2240) < 0.9  # so the chosen plan is the cheapest that holds


def test_plans_the_data_cannot_separate_are_called_so():
    base = lcsim.Scenario.load(SCENARIOS / "b2b_saas" / "baseline.yaml")
    opt = optimise(
        base,
        {"touchpoints.nurture_email.reach": [0.35, 0.3501]},
        "net_value",
        trials=4,
        batch=2,
        replications=4,
        final_replications=12,
    )
    assert len(opt.final) == 2
    assert any(line.startswith("The data cannot separate the top plans") for line in opt.verdict)


def test_a_winner_at_the_end_of_its_range_says_so(erlang):
    # Net value grows with the team up to 9 reps: in 1..5 the best is the top end, 5.
    opt = optimise(
        erlang,
        {"resources.sales.servers": (1, 5)},
        "net_value",
        trials=10,
        batch=5,
        replications=4,
        final_replications=8,
    )
    assert opt.best == {"resources.sales.servers": 5}
    edges = opt.settings["edges"]
    assert [(e["lever"], e["side"], e["widen"], e["limit"]) for e in edges] == [
        ("resources.sales.servers", "top", "1:7", False)
    ]
    assert opt.verdict[1] == edges[0]["text"]
    assert opt.verdict[1].startswith(
        "Edge of range: resources.sales.servers = 5 is at the top of its range 1 to 5"
    )
    assert "--lever resources.sales.servers=1:7" in opt.verdict[1]


def test_edges_of_ranges_and_the_fields_limits():
    from lcsim.optimise import _edges, parse_levers

    base = lcsim.Scenario.load(SCENARIOS / "b2b_saas" / "baseline.yaml")
    reach = "touchpoints.nurture_email.reach"
    levers = parse_levers(base, {reach: (0.2, 0.6)})
    # Within 2% of the range (0.008) of an end is at that end; further in is not.
    assert _edges(base, levers, {reach: 0.5921})[0]["side"] == "top"
    assert _edges(base, levers, {reach: 0.5919}) == []
    assert _edges(base, levers, {reach: 0.2079})[0]["side"] == "bottom"
    assert _edges(base, levers, {reach: 0.2081}) == []
    top = _edges(base, levers, {reach: 0.599})[0]
    assert top["widen"] == "0.2:0.8" and not top["limit"]
    assert _edges(base, levers, {reach: 0.2})[0]["widen"] == "0:0.6"
    # Half a range below 0.1 is a negative reach, which the scenario refuses: no numbers suggested.
    bottom = _edges(base, parse_levers(base, {reach: (0.1, 0.5)}), {reach: 0.1})[0]
    assert (
        bottom["widen"] is None
        and not bottom["limit"]
        and "as far as the field allows" in bottom["text"]
    )
    # A reach of 1 is as far as a reach goes: the field's limit, said as such, nothing to widen.
    levers = parse_levers(base, {reach: (0.5, 1.0)})
    limit = _edges(base, levers, {reach: 1.0})[0]
    assert (
        limit["limit"]
        and limit["widen"] is None
        and "which is as far as the field allows" in limit["text"]
    )
    with pytest.raises(lcsim.ScenarioError):  # the limit is the scenario's own
        base.with_changes({reach: 1.0 + 1e-6})


def test_rounded_levers_stay_inside_their_range():
    from lcsim.optimise import Lever, _rounded

    share = Lever("x", "float", 0.2, 0.6)
    assert _rounded(0.599068633462491, share, 3) == 0.599
    assert _rounded(0.20000123, share, 3) == 0.2
    assert _rounded(0.0123456, Lever("x", "float", 0.0, 1.0), 3) == 0.0123  # 3 significant digits
    # ... but at least to 1% of the range: 1234.567 in 1200..1300 to whole numbers, not to 1230.
    assert _rounded(1234.567, Lever("x", "float", 1200.0, 1300.0), 3) == 1235.0
    assert _rounded(14.2738, Lever("x", "float", 2.0, 21.0), 3) == 14.3
    # Rounding never leaves the range: 0.20049 to 3 digits is 0.2, below a low end of 0.2004.
    assert _rounded(0.20049, Lever("x", "float", 0.2004, 0.6), 3) == 0.2005


def test_top_plans_within_the_tolerance_are_practically_the_same(erlang):
    kwargs = dict(trials=6, batch=6, replications=4, final_replications=40)
    levers = {"resources.sales.servers": [8, 9]}
    plain = optimise(erlang, levers, **kwargs)
    w, r = plain.settings["winner"], plain.settings["runner_up"]
    assert len(plain.final) == 2 and r is not None
    final = plain.final
    lead = float(final["objective"][w] - final["objective"][r])
    assert lead > 0
    line = next(v for v in plain.verdict if v.startswith("Against the runner-up"))
    ci_has_zero = "cannot separate" in " ".join(plain.verdict)
    assert plain.settings["practically_same"] == ci_has_zero
    # A tolerance just above the lead calls them practically the same; just below, it changes nothing.
    above = optimise(erlang, levers, tolerance=lead * 1.01, **kwargs)
    below = optimise(erlang, levers, tolerance=lead * 0.99, **kwargs)
    assert above.settings["practically_same"] and below.settings["practically_same"] == ci_has_zero
    assert below.verdict == plain.verdict and line in above.verdict
    same = [v for v in above.verdict if "practically the same" in v]
    assert len(same) == 1
    assert (
        not ci_has_zero
    )  # on these seeds 9 reps lead 8 by about $7,300 (CI about +$5,800 to +$8,800)
    if not ci_has_zero:
        assert same[0].startswith(
            "The top plans are practically the same: the winner's lead over the runner-up"
        )
    with pytest.raises(ValueError, match="tolerance"):
        optimise(erlang, levers, tolerance=-1, **kwargs)


def test_bad_levers_and_goals_are_clear_errors_before_anything_runs(erlang, monkeypatch):
    calls = []
    real = lcsim._core.simulate
    monkeypatch.setattr(lcsim._core, "simulate", lambda *a, **k: calls.append(1) or real(*a, **k))
    bad = [
        ({"resources.sales.servrs": (1, 5)}, lcsim.ScenarioError, "did you mean 'servers'"),
        (
            {"resources.sales.servers": (5, 2)},
            ValueError,
            "low must be below high, got low 5 and high 2",
        ),
        (
            {"resources.sales.servers": (1.5, 4.0)},
            lcsim.ScenarioError,
            "lever resources.sales.servers = 1.5",
        ),
        ({"resources.sales.serves": (0, 1)}, TypeError, "a range needs a number field"),
        ({"resources.sales.servers": (1, "many")}, TypeError, "a range needs numbers"),
        ({"resources.sales.servers": (1, math.inf)}, ValueError, "must be finite"),
        ({"resources.sales.servers": []}, ValueError, "no choices"),
        ({"resources.sales.servers": [3, 3]}, ValueError, "repeat a value"),
        ({"resources.sales.servers": 4}, TypeError, "expected a tuple (low, high) or a list"),
        ({"money.discount_rate": [0.0, -2.0]}, lcsim.ScenarioError, "money.discount_rate = -2.0"),
        ({}, ValueError, "levers: expected a non-empty dict"),
    ]
    for levers, error, text in bad:
        with pytest.raises(error) as e:
            optimise(erlang, levers)
        assert text in str(e.value), (levers, str(e.value))
    good = {"resources.sales.servers": (1, 5)}
    for kwargs, error, text in [
        (dict(objective="profit"), ValueError, "unknown metric 'profit'"),
        (dict(constraints=["conversions=>5"]), ValueError, "expected METRIC<=VALUE"),
        (dict(constraints=["conversions>=5@1.5"]), ValueError, "between 0 and 1"),
        (dict(constraints=[5]), TypeError, "expected strings"),
        (dict(budget=-1), ValueError, "budget"),
        (dict(direction="up"), ValueError, "direction"),
        (dict(trials=0), ValueError, "trials"),
        (dict(replications=1), ValueError, "at least 2"),
    ]:
        with pytest.raises(error) as e:
            optimise(erlang, good, **kwargs)
        assert text in str(e.value), (kwargs, str(e.value))
    # Only the unknown metric needs the base's metric names, so only it simulated (the base, once).
    assert len(calls) == 1


def test_levers_that_are_only_valid_together_are_tried_together():
    # Segment shares must sum to 1: each share alone is invalid, the pairs (0.35, 0.65) and
    # (0.45, 0.55) are valid, the other two combinations are failed trials with validate's message.
    base = lcsim.Scenario.load(SCENARIOS / "b2b_saas" / "baseline.yaml")
    opt = optimise(
        base,
        {"segments.icp.share": [0.35, 0.45], "segments.smb.share": [0.65, 0.55]},
        trials=16,
        batch=4,
        replications=3,
        final_replications=6,
    )
    search = opt.trials[opt.trials.phase == "search"]
    total = search["segments.icp.share"] + search["segments.smb.share"]
    valid = (total - 1.0).abs() < 1e-9
    assert (
        search.loc[valid, "objective"].notna().all()
        and search.loc[~valid, "objective"].isna().all()
    )
    assert (~valid).any() and search.loc[~valid, "note"].str.contains("shares must sum to 1").all()
    assert abs(sum(opt.best.values()) - 1.0) < 1e-9
    with pytest.raises(lcsim.ScenarioError, match="lever segments.icp.share = 0.45"):
        optimise(base, {"segments.icp.share": [0.35, 0.45]}, trials=2, replications=2)


def test_saved_in_the_study_and_as_an_extends_variant(erlang, tmp_path):
    opt = optimise(
        erlang,
        {"resources.sales.servers": (6, 12), "resources.sales.patience.mean": [1, 2]},
        "net_value",
        constraints=["touchpoint_cost<=500000"],
        trials=12,
        batch=4,
        replications=6,
        final_replications=20,
    )
    study = tmp_path / "study.h5"
    opt.save(study, "team")
    back = Optimisation.load(study, "team")
    pd.testing.assert_frame_equal(
        back.trials.drop(columns=["note"], errors="ignore"),
        opt.trials.drop(columns=["note"], errors="ignore"),
        check_dtype=False,
    )
    assert (
        back.verdict == opt.verdict and back.chosen == opt.chosen and back.settings == opt.settings
    )
    assert back.best == opt.best
    st = lcsim.open(study)
    assert "team" in st.comparisons()  # the selection step, with the base and finalists' runs
    stored = st.comparison("team").deltas()  # runs are stored as team.base, team.v1, ...
    pd.testing.assert_frame_equal(
        stored.drop(columns="variant"), opt.selection.deltas().drop(columns="variant")
    )
    with h5py.File(study, "r") as f:
        g = f["optimisations/team"]
        assert (
            g.attrs["complete"] == 1 and json.loads(g.attrs["settings"])["objective"] == "net_value"
        )
        assert (
            len(g["trials"]) == len(opt.trials)
            and "touchpoint_cost<=500000" in g["trials"].dtype.names
        )
    with pytest.raises(
        lcsim.ScenarioError, match="optimisation 'team' already exists"
    ):  # lcsim's InputError
        opt.save(study, "team")
    # The chosen plan as a small extends: file that loads to the plan the selection simulated.
    variant = opt.save_variant(tmp_path / "best_team.yaml")
    text = variant.read_text()
    assert "extends:" in text and "resources.sales.servers:" in text
    loaded = lcsim.Scenario.load(variant)
    strip = lambda d: {k: v for k, v in d.items() if k not in ("name", "description")}  # noqa: E731
    assert strip(loaded.to_dict()) == strip(opt.scenario.to_dict())
    assert {c.path for c in erlang.diff(loaded)} - {"name", "description"} <= set(opt.levers)


def test_the_command_line(tmp_path, lcsim_cli):
    study = tmp_path / "s.h5"
    done = lcsim_cli(
        "optimise",
        ERLANG,
        "--lever",
        "resources.sales.servers=1:20",
        "--maximise",
        "net_value",
        "--trials",
        "18",
        "--batch",
        "6",
        "--out",
        study,
        "--variant-out",
        tmp_path / "v.yaml",
        "--trials-csv",
        tmp_path / "t.csv",
    )
    assert done.returncode == 0, done.stderr
    assert "Best plan: resources.sales.servers = 9" in done.stdout
    assert Optimisation.load(study).best == {"resources.sales.servers": 9}
    assert len(pd.read_csv(tmp_path / "t.csv")) == 18 + 3
    assert lcsim.Scenario.load(tmp_path / "v.yaml").to_dict()["resources"]["sales"]["servers"] == 9
    for args, text in [
        (["--lever", "resources.sales.servers=5:2"], "low must be below high"),
        (["--lever", "resources.sales.servers"], "expected PATH=LOW:HIGH"),
        (
            ["--lever", "resources.sales.servers=1:20", "--at-least", "conversions>=10@2"],
            "between 0 and 1",
        ),
        (
            ["--lever", "resources.sales.servers=1:20", "--out", study],
            "already has an optimisation",
        ),
    ]:
        done = lcsim_cli("optimise", ERLANG, *args)
        assert done.returncode == 2 and text in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    done = lcsim_cli("optimise", "--help")
    assert done.returncode == 0 and "--lever" in done.stdout and "--at-least" in done.stdout


def test_the_command_line_rounds_warns_and_formats(tmp_path, lcsim_cli):
    study, best = tmp_path / "s.h5", tmp_path / "best.yaml"
    args = [
        "optimise",
        ERLANG,
        "--lever",
        "resources.sales.servers=1:5",
        "--lever",
        "resources.sales.patience.mean=0.5:2",
        "--trials",
        "12",
        "--batch",
        "6",
        "--replications",
        "4",
        "--final-replications",
        "10",
        "--tolerance",
        "1e9",
        "--out",
        study,
        "--variant-out",
        best,
    ]
    done = lcsim_cli(*args)
    assert done.returncode == 0, done.stderr
    assert (
        done.stderr == ""
    )  # no progress bar: stderr is not a terminal and --progress was not given
    out = done.stdout
    opt = Optimisation.load(study)
    assert opt.verdict == out.split("\n\nfinalists")[0].splitlines()
    # The edge of the team-size range, with the wider range to try.
    assert "Edge of range: resources.sales.servers = 5 is at the top of its range 1 to 5" in out
    assert "--lever resources.sales.servers=1:7" in out
    # Any lead is under a tolerance of $1e9: the top two are practically the same.
    assert (
        "practically the same" in out
        and opt.settings["practically_same"]
        and opt.settings["tolerance"] == 1e9
    )
    # The finalists' table: people's numbers, not pandas'.
    table = out.split("\n\nfinalists", 1)[1]
    assert "e+0" not in table and "feasible" not in table and "NaN" not in table
    assert "plan 1" in table and "(chosen)" in table and "$" in table
    assert re.search(r"net_value \(mean\)\s+\$\d{1,3}(,\d{3})+", table)
    assert re.search(r"vs base\s+[+-]\$", table)
    # best.yaml: the patience rounded (3 significant digits, or to 1% of the range), the team whole.
    text = best.read_text()
    patience = re.search(r"resources\.sales\.patience\.mean: (\S+)", text).group(1)
    assert len(patience.replace(".", "").lstrip("0")) <= 3, text
    assert re.search(r"resources\.sales\.servers: 5\n", text), text
    assert float(patience) == opt.best["resources.sales.patience.mean"]
    # ... and the rounded plan is the one the selection step simulated and the verdict reports.
    winner = opt.final.iloc[opt.settings["winner"]]
    again = lcsim.simulate(
        lcsim.Scenario.load(best),
        replications=opt.settings["final_replications"],
        seed=opt.settings["final_seed"],
    ).metrics()
    assert float(again.net_value.mean()) == pytest.approx(float(winner["objective"]), rel=1e-12)
    # With --progress the bar is drawn on stderr even here, and stdout is the same.
    shown = lcsim_cli(
        *[a for a in args if a not in (study, best, "--out", "--variant-out")], "--progress"
    )
    assert shown.returncode == 0, shown.stderr
    assert (
        "searching" in shown.stderr and "12/12" in shown.stderr and "Traceback" not in shown.stderr
    )
    saved = ("optimisation 'optimisation' added to", "chosen plan written to")
    assert shown.stdout.splitlines() == [
        line for line in out.splitlines() if not line.startswith(saved)
    ]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    client = Client(cluster)
    client.wait_for_workers(2)
    yield client
    client.close()
    cluster.close()


def test_threads_and_dask_give_the_same_plans(client):
    base = lcsim.Scenario.load(SCENARIOS / "b2b_saas" / "baseline.yaml")
    levers = {
        "touchpoints.nurture_email.reach": (0.1, 0.9),
        "touchpoints.first_call.schedule.after_entry.days": [[2], [1], [0.25]],
    }
    kwargs = dict(
        objective="net_value",
        budget=70000,
        trials=16,
        batch=8,
        replications=4,
        final_replications=8,
    )
    started = time.perf_counter()
    local = optimise(base, levers, threads=2, **kwargs)
    on_dask = optimise(base, levers, client=client, **kwargs)
    print(f"thread and Dask optimisations in {time.perf_counter() - started:.1f} s")
    pd.testing.assert_frame_equal(local.trials, on_dask.trials)
    assert local.verdict == on_dask.verdict and local.chosen == on_dask.chosen


def test_the_report_shows_the_optimisation_in_a_browser(erlang, tmp_path):
    from browser import chrome, console_errors, requested_urls, wait_for

    opt = optimise(
        erlang,
        {"resources.sales.servers": (1, 14)},
        "touchpoint_cost",
        direction="minimise",
        constraints=["conversions>=2240@0.9"],
        trials=18,
        batch=6,
    )
    study = tmp_path / "study.h5"
    opt.save(study, "team_size")
    page = lcsim.report(study, tmp_path / "report.html")
    html = page.read_text()
    assert "Optimisation team_size" in html and "conversions&gt;=2240@0.9" in html
    driver = chrome()
    try:
        driver.get(page.as_uri())
        from selenium.webdriver.common.by import By

        wait_for(
            lambda: (
                len(
                    driver.find_elements(
                        By.CSS_SELECTOR, "#optimisation-0 .js-plotly-plot .main-svg"
                    )
                )
                >= 3
            ),
            what="the optimisation's charts",
        )
        shown = [
            e.text for e in driver.find_elements(By.CSS_SELECTOR, "#optimisation-0 .verdict-text")
        ]
        assert shown == opt.verdict
        chosen = driver.find_element(By.CSS_SELECTOR, "#optimisation-0 tr.chosen").text
        assert str(opt.best["resources.sales.servers"]) in chosen and "met" in chosen
        # The history chart holds the search's objective values, trial by trial.
        ys = driver.execute_script(
            "return document.getElementById('optimisation-0-history').data[0].y;"
        )
        search = opt.trials[(opt.trials.phase == "search") & (opt.trials.feasible == 1.0)]
        assert ys == pytest.approx(search["objective"].tolist(), rel=0, abs=0)
        assert console_errors(driver) == []
        outside = [
            u
            for u in requested_urls(driver)
            if not u.startswith(("file://", "data:", "about:", "blob:"))
        ]
        assert outside == []
        driver.find_element(By.ID, "optimisation-0").screenshot(str(tmp_path / "optimisation.png"))
        assert (tmp_path / "optimisation.png").stat().st_size > 10_000
    finally:
        driver.quit()


def test_the_progress_bar_is_drawn_when_stderr_is_a_terminal(lcsim_cli):
    import os
    import pty
    import select
    import subprocess

    main, side = pty.openpty()
    proc = subprocess.Popen(
        [
            lcsim_cli.path,
            "optimise",
            str(ERLANG),
            "--lever",
            "resources.sales.servers=1:5",
            "--trials",
            "6",
            "--batch",
            "3",
            "--replications",
            "3",
            "--final-replications",
            "6",
        ],
        stdout=subprocess.PIPE,
        stderr=side,
        text=True,
    )
    os.close(side)
    seen, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:  # bounded: the run takes seconds
        ready, _, _ = select.select([main], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal closed: the program ended
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(main)
    assert proc.returncode == 0
    shown = seen.decode(errors="replace")
    assert "searching" in shown and "6/6" in shown and "re-evaluating the finalists" in shown
    assert "searching" not in out and out.startswith("Best plan:")  # stdout stays the answer
