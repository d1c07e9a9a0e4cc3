"""`lcsim synth` and `lcsim calibrate`: CRM history written from a known scenario, read back and
calibrated through the command line, and the messages bad history files get."""

import csv
import json

import numpy as np
import pytest

# Two segments with different lead -> mql probabilities, exponential dwells, a back move, a weekly
# webinar for mqls that doubles their hazard of moving on for 5 days, and ~4,700 customers.
TRUTH = """\
name: truth
horizon: 300
report_every: 10
seed: 20250106
replications: 1
won: won
stages:
  lead: {dwell: {dist: exponential, mean: 8}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: exponential, mean: 15}, next: {won: 0.4, lead: 0.2, lost: 0.4}}
  won: {absorbing: true}
  lost: {absorbing: true}
segments:
  icp: {share: 0.4, stages: {lead: {next: {mql: 0.8, lost: 0.2}}}}
  smb: {share: 0.6}
arrivals:
  initial: [{stage: lead, count: 100}]
  streams: [{stage: lead, rate_per_day: 15}]
touchpoints:
  webinar:
    stages: [mql]
    schedule: {calendar: {every: 7, start: 3}}
    reach: 0.6
    effect: {window: 5, hazard_factor: 2.0}
"""


@pytest.fixture(scope="module")
def history(lcsim_cli, tmp_path_factory):
    """The truth scenario synthesized once: events, monthly snapshots and contacts, observed for 240 days."""
    d = tmp_path_factory.mktemp("synth")
    scenario = d / "truth.yaml"
    scenario.write_text(TRUTH)
    res = lcsim_cli(
        "synth",
        scenario,
        "--events",
        d / "events.csv",
        "--snapshots",
        d / "snapshots.csv",
        "--touchpoints",
        d / "touchpoints.csv",
        "--observe-until",
        "240",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    return d, json.loads(res.stdout)


def calibrate_history(lcsim_cli, history, *more):
    """`lcsim calibrate` of the history's event log as `lcsim synth` suggests, plus `more`."""
    d, summary = history
    return lcsim_cli(
        "calibrate",
        d / "events.csv",
        "--censor-at",
        summary["censor_at"],
        "--absorbing",
        "won,lost",
        "--won",
        "won",
        "--segment-column",
        "segment",
        *more,
    )


def estimates(report):
    return {row["parameter"]: row for row in report["estimates"]}


def covers(row, truth):
    return row["ci_low"] <= truth <= row["ci_high"]


def test_synth_writes_the_files_and_summarises_them(history, lcsim_cli, tmp_path):
    d, summary = history
    assert summary["scenario"] == "truth"
    assert summary["segments"] is True
    assert summary["start_date"] == "2025-01-06"
    assert summary["censor_at"] == "2025-09-03T00:00:00Z"  # day 240
    assert summary["customers"] > 3000
    assert summary["customers_unobserved"] > 0
    with open(d / "events.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["customer_id", "timestamp", "stage", "segment"]
    assert len(rows) == summary["events"]["rows"]
    assert rows[0]["customer_id"] == "C000001" and rows[0]["timestamp"] == "2025-01-06T00:00:00Z"
    assert max(r["timestamp"] for r in rows) <= summary["censor_at"]
    assert {r["segment"] for r in rows} == {"icp", "smb"}
    assert summary["snapshots"]["dates"][:3] == ["2025-01-06", "2025-02-06", "2025-03-06"]
    assert summary["touchpoints"]["rows"] > 100
    assert "--censor-at 2025-09-03T00:00:00Z" in summary["calibrate_command"]

    # The text summary says the same in one paragraph and suggests the calibrate command.
    res = lcsim_cli(
        "synth", d / "truth.yaml", "--events", tmp_path / "e.csv", "--observe-until", "240"
    )
    assert res.returncode == 0, res.stderr
    assert "customers" in res.stdout and "right-censored" in res.stdout
    assert "lcsim calibrate" in res.stdout
    assert (tmp_path / "e.csv").read_text() == (d / "events.csv").read_text()


def test_round_trip_recovers_next_probabilities_within_their_intervals(
    history, lcsim_cli, tmp_path
):
    d, summary = history
    out = tmp_path / "calibrated.yaml"
    report_file = tmp_path / "report.json"
    res = calibrate_history(lcsim_cli, history, "--out", out, "--report", report_file, "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert json.loads(report_file.read_text())["estimates"] == report["estimates"]
    est = estimates(report)
    # The main next-probabilities, per segment where the truth differs and pooled where it does not.
    truth = {
        "segments.icp.stages.lead.next.mql": 0.8,
        "segments.smb.stages.lead.next.mql": 0.5,
        "stages.mql.next.won": 0.4,
        "stages.mql.next.lead": 0.2,
        "stages.mql.next.lost": 0.4,
    }
    for parameter, value in truth.items():
        assert covers(est[parameter], value), (parameter, est[parameter])
        assert est[parameter]["n"] > 100
    assert covers(est["segments.icp.share"], 0.4)
    lead_mean = [
        f
        for f in report["families"]
        if f["stage"] == "lead" and f["segment"] == "" and f["family"] == "exponential"
    ][0]
    assert lead_mean["params"]["mean"] == pytest.approx(8.0, rel=0.1)
    assert report["events"]["censor_at"] == summary["censor_at"]
    assert report["events"]["stays_open"] > 0
    assert set(report["scenario"]["segments"]) == {"icp", "smb"}

    # The YAML says where it came from and runs as it is.
    text = out.read_text()
    assert text.startswith("# Calibrated by lcsim ")
    assert "events.csv" in text and summary["censor_at"] in text
    run = lcsim_cli("run", out, "--replications", "2", "--json")
    assert run.returncode == 0, run.stderr
    metrics = {row["metric"]: row for row in json.loads(run.stdout)["summary"]}
    assert metrics["customers"]["mean"] > 3000
    assert metrics["conversions"]["mean"] > 0


def test_threads_give_the_same_report_and_scenario(history, lcsim_cli, tmp_path):
    """--threads 1 and --threads 2 (the dwell fits on threads): the same numbers, bit for bit."""
    d, summary = history
    runs = []
    for threads in ("1", "2"):
        out = tmp_path / f"calibrated_{threads}.yaml"
        res = calibrate_history(lcsim_cli, history, "--out", out, "--threads", threads, "--json")
        assert res.returncode == 0, res.stderr
        report = json.loads(res.stdout)
        for key in ("created", "inputs", "scenario"):
            report.pop(key, None)
        runs.append((report, out.read_text().split("\n", 1)[1]))  # (the first line has the date)
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    assert any(row["family"] == "coxian" for row in runs[0][0]["families"])
    bad = lcsim_cli("calibrate", d / "events.csv", "--threads", "0")
    assert bad.returncode != 0 and "--threads" in bad.stderr


def test_human_tables_mark_the_chosen_family_and_print_warnings_first(history, lcsim_cli, tmp_path):
    d, summary = history
    res = lcsim_cli(
        "calibrate",
        d / "events.csv",
        "--out",
        tmp_path / "c.yaml",
        "--absorbing",
        "won,lost",
        "--segment-column",
        "segment",
        "--censor-at",
        summary["censor_at"],
    )
    assert res.returncode == 0, res.stderr
    assert "estimates (95% intervals" in res.stdout
    assert "stages.mql.next.won" in res.stdout
    family_lines = [
        line for line in res.stdout.splitlines() if line.startswith("lead ") and " - " in line
    ]
    assert len(family_lines) == 5  # exponential, weibull, lognormal, gamma, coxian for all segments
    assert sum(" * " in line for line in family_lines) == 1
    assert "wrote " in res.stdout
    # Customers first seen shortly before the end have one row: a warning, in the documented form.
    assert all(line.startswith("warning: ") for line in res.stderr.splitlines()), res.stderr
    assert "events.csv" in res.stderr


def test_touchpoint_lift_from_the_contact_log(history, lcsim_cli, tmp_path):
    d, summary = history
    res = lcsim_cli(
        "calibrate",
        d / "events.csv",
        "--out",
        tmp_path / "c.yaml",
        "--absorbing",
        "won,lost",
        "--censor-at",
        summary["censor_at"],
        "--touchpoints",
        d / "touchpoints.csv",
        "--lift",
        "webinar:mql:5",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    lift = json.loads(res.stdout)["lift"]
    assert len(lift) == 1
    assert (
        lift[0]["touchpoint"] == "webinar" and lift[0]["stage"] == "mql" and lift[0]["window"] == 5
    )
    assert lift[0]["converged"]
    assert lift[0]["ci_low"] <= 2.0 <= lift[0]["ci_high"], lift[0]
    assert lift[0]["ci_low"] > 1.0
    assert (
        "webinar" in (tmp_path / "c.yaml").read_text()
    )  # noted in the header, not in the scenario

    bad = lcsim_cli(
        "calibrate", d / "events.csv", "--out", tmp_path / "x.yaml", "--lift", "webinar"
    )
    assert bad.returncode == 2
    assert "--lift" in bad.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_snapshots_alone_give_a_scenario_that_runs(history, lcsim_cli, tmp_path):
    d, summary = history
    out = tmp_path / "snap.yaml"
    res = lcsim_cli(
        "calibrate",
        "--snapshots",
        d / "snapshots.csv",
        "--absorbing",
        "won,lost",
        "--won",
        "won",
        "--out",
        out,
        "--json",
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["scenario"]["source"] == "snapshots"
    snap = {row["parameter"]: row for row in report["snapshots"]["estimates"]}
    # Monthly panels of stays of days: wide intervals, but lead (no touchpoint) covers its 8 days, and
    # mql lies below its 15 days, which the webinar shortens.
    assert covers(snap["stages.lead.dwell.mean"], 8.0), snap["stages.lead.dwell.mean"]
    assert 8.0 < snap["stages.mql.dwell.mean"]["estimate"] < 15.0
    assert covers(snap["stages.mql.next.won"], 0.4)
    assert any(w["field"] == "arrivals" for w in report["warnings"])
    assert "Snapshots: " in out.read_text()
    run = lcsim_cli("run", out, "--replications", "2")
    assert run.returncode == 0, run.stderr

    # --transitions fixes the allowed transitions instead of inferring them from the observed pairs.
    given = lcsim_cli(
        "calibrate",
        "--snapshots",
        d / "snapshots.csv",
        "--absorbing",
        "won,lost",
        "--transitions",
        "lead:mql,lead:lost,mql:won,mql:lead,mql:lost",
        "--out",
        tmp_path / "given.yaml",
        "--json",
    )
    assert given.returncode == 0, given.stderr
    fit = json.loads(given.stdout)["snapshots"]
    assert fit["transitions_inferred"] is False
    assert [(r["from"], r["to"]) for r in fit["rates"]] == [
        ("lead", "mql"),
        ("lead", "lost"),
        ("mql", "won"),
        ("mql", "lead"),
        ("mql", "lost"),
    ]
    bad = lcsim_cli(
        "calibrate",
        "--snapshots",
        d / "snapshots.csv",
        "--absorbing",
        "won,lost",
        "--transitions",
        "lead:mqll",
        "--out",
        tmp_path / "bad.yaml",
    )
    assert bad.returncode == 2 and "unknown stage 'mqll'" in bad.stderr

    # With events as well, the snapshot fit is reported beside the event-log estimates.
    both = lcsim_cli(
        "calibrate",
        d / "events.csv",
        "--snapshots",
        d / "snapshots.csv",
        "--absorbing",
        "won,lost",
        "--censor-at",
        summary["censor_at"],
        "--out",
        tmp_path / "both.yaml",
        "--json",
    )
    assert both.returncode == 0, both.stderr
    report = json.loads(both.stdout)
    assert report["scenario"]["source"] == "events"
    assert report["snapshots"]["n_customers"] > 1000


BAD_HEADER = "customer_id,timestamp,stage\n"


def assert_one_line_exit_2(res, expected, out):
    """Exit code 2, one error line on stderr holding every expected piece (after the log's warnings,
    which a log with errors shows too), and no output file."""
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [line for line in res.stderr.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1, res.stderr
    for piece in expected:
        assert piece in lines[0], (piece, lines[0])
    assert not out.exists()


@pytest.mark.parametrize(
    "rows, args, expected",
    [
        (
            "c1,2025-01-06T09:00:00Z,lead\nc1,2025-13-40,mql\n",
            [],
            ["bad.csv:3:", "timestamp", "2025-13-40"],
        ),
        (
            "c1,2025-01-06,lead\nc1,2025-01-09,leed\n",
            ["--stages", "lead,mql,won,lost"],
            ["bad.csv:3:", "stage", "'leed'", "did you mean 'lead'"],
        ),
        (
            "c1,2025-01-06,Lead\nc1,2025-01-09,Qualified\n",
            ["--stage-map", "MAP"],
            ["bad.csv:3:", "stage", "'Qualified'"],
        ),
    ],
)
def test_bad_history_exits_2_naming_row_and_column(lcsim_cli, tmp_path, rows, args, expected):
    (tmp_path / "bad.csv").write_text(BAD_HEADER + rows)
    (tmp_path / "map.yaml").write_text("Lead: lead\nMQL: mql\n")
    args = [str(tmp_path / "map.yaml") if a == "MAP" else a for a in args]
    res = lcsim_cli("calibrate", tmp_path / "bad.csv", "--out", tmp_path / "out.yaml", *args)
    assert_one_line_exit_2(res, expected, tmp_path / "out.yaml")
    # The picture before the errors: the class of defect that stops the fit, with its line.
    assert "stopped by the errors below" in res.stdout
    defect = "unparseable timestamp" if "timestamp" in expected else "unknown stage"
    assert defect in res.stdout and "error (drop these rows with --drop-invalid)" in res.stdout


def test_empty_file_bad_stage_map_and_no_input_exit_2(lcsim_cli, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    res = lcsim_cli("calibrate", tmp_path / "empty.csv", "--out", tmp_path / "out.yaml")
    assert res.returncode == 2
    assert "empty.csv" in res.stderr and "empty" in res.stderr
    (tmp_path / "header.csv").write_text(BAD_HEADER)
    res = lcsim_cli("calibrate", tmp_path / "header.csv", "--out", tmp_path / "out.yaml")
    assert res.returncode == 2 and "header.csv" in res.stderr
    (tmp_path / "map.yaml").write_text("Lead: [lead]\n")
    (tmp_path / "ok.csv").write_text(BAD_HEADER + "c1,2025-01-06,Lead\n")
    res = lcsim_cli(
        "calibrate",
        tmp_path / "ok.csv",
        "--out",
        tmp_path / "out.yaml",
        "--stage-map",
        tmp_path / "map.yaml",
    )
    assert res.returncode == 2
    assert "map.yaml:1: Lead: expected a stage name, got a list" in res.stderr
    res = lcsim_cli("calibrate", "--out", tmp_path / "out.yaml")
    assert res.returncode == 2 and "--snapshots" in res.stderr
    res = lcsim_cli("calibrate", tmp_path / "missing.csv", "--out", tmp_path / "out.yaml")
    assert res.returncode == 2 and "missing.csv" in res.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_bad_synth_options_exit_2_naming_the_option(history, lcsim_cli, tmp_path):
    d, _ = history
    res = lcsim_cli(
        "synth", d / "truth.yaml", "--events", tmp_path / "e.csv", "--start-date", "2025-02-30"
    )
    assert res.returncode == 2
    assert "--start-date: expected a date YYYY-MM-DD, got 2025-02-30" in res.stderr
    res = lcsim_cli(
        "synth", d / "truth.yaml", "--events", tmp_path / "e.csv", "--observe-until", "400"
    )
    assert res.returncode == 2 and "--observe-until" in res.stderr
    res = lcsim_cli(
        "synth",
        d / "truth.yaml",
        "--events",
        tmp_path / "e.csv",
        "--snapshots",
        tmp_path / "s.csv",
        "--every",
        "weekly",
    )
    assert res.returncode == 2 and "--every" in res.stderr
    assert not (tmp_path / "e.csv").exists()


def test_help_lists_the_options(lcsim_cli):
    synth = lcsim_cli("synth", "--help")
    assert synth.returncode == 0
    for option in (
        "--events",
        "--snapshots",
        "--every",
        "--touchpoints",
        "--replication",
        "--seed",
        "--start-date",
        "--observe-until",
        "--json",
    ):
        assert option in synth.stdout, option
    cal = lcsim_cli("calibrate", "--help")
    assert cal.returncode == 0
    for option in (
        "--out",
        "--snapshots",
        "--segment-column",
        "--censor-at",
        "--stage-map",
        "--absorbing",
        "--won",
        "--drop-duplicates",
        "--touchpoints",
        "--lift",
        "--report",
        "--json",
        "--date-means",
        "--columns",
        "--dry-run",
        "--stages",
        "--threads",
    ):
        assert option in cal.stdout, option
    assert "end-of-day" in cal.stdout and "month_end" in cal.stdout
    top = lcsim_cli("--help")
    assert "synth" in top.stdout and "calibrate" in top.stdout


# ---- funnel counts ----------------------------------------------------------------------------------
FUNNEL_TRUTH = {"lead": (8.0, {"mql": 0.5, "lost": 0.5}), "mql": (20.0, {"won": 0.4, "lost": 0.6})}
FUNNEL_TRANSITIONS = "lead:mql,lead:lost,mql:won,mql:lost"


def funnel_counts_csv(path, seed=5, rate=20.0, periods=12, days=30):
    """An independent generator: Poisson arrivals into lead from an empty funnel, exponential stays,
    entries counted per 30-day period starting 2025-01-01 (lost is not reported)."""
    import datetime

    rng = np.random.default_rng(seed)
    end = periods * days
    counts = {s: np.zeros(periods, dtype=int) for s in ("lead", "mql", "won")}
    t = rng.exponential(1 / rate)
    while t < end:
        stage, at = "lead", t
        counts["lead"][int(at // days)] += 1
        while stage in FUNNEL_TRUTH:
            mean, nxt = FUNNEL_TRUTH[stage]
            at += rng.exponential(mean)
            if at >= end:
                break
            stage = rng.choice(list(nxt), p=list(nxt.values()))
            if stage in counts:
                counts[stage][int(at // days)] += 1
        t += rng.exponential(1 / rate)
    start = datetime.date(2025, 1, 1)
    rows = ["period,stage,entries"]
    for k in range(periods):
        date = (start + datetime.timedelta(days=days * k)).isoformat()
        rows += [f"{date},{s},{counts[s][k]}" for s in counts]
    path.write_text("\n".join(rows) + "\n")
    return counts


def test_funnel_counts_calibrate_and_the_scenario_runs(lcsim_cli, tmp_path):
    counts = tmp_path / "counts.csv"
    funnel_counts_csv(counts)
    out, report_path = tmp_path / "funnel.yaml", tmp_path / "report.json"
    res = lcsim_cli(
        "calibrate",
        "--funnel",
        counts,
        "--transitions",
        FUNNEL_TRANSITIONS,
        "--start",
        "empty",
        "--out",
        out,
        "--report",
        report_path,
        "--name",
        "from_counts",
    )
    assert res.returncode == 0, res.stderr
    assert "calibrated from funnel counts" in res.stdout and "stages.mql.next.won" in res.stdout
    report = json.loads(report_path.read_text())
    assert report["scenario"]["source"] == "funnel" and report["inputs"]["funnel"] == str(counts)
    f = report["funnel"]
    assert f["converged"] and f["cells"] == 24 and f["parameters"] == 4 and f["start"] == "empty"
    assert (
        f["epoch"] == "2025-01-01"
        and f["periods"][1] == "2025-01-31"
        and f["period_starts"][-1] == 360
    )
    assert f["deviance"] < 2.5 * (24 - 4)
    assert len(f["counts"]) == 12 * 3
    est = estimates(report)
    for stage, (mean, nxt) in FUNNEL_TRUTH.items():
        assert covers(est[f"stages.{stage}.dwell.mean"], mean), est[f"stages.{stage}.dwell.mean"]
        for target, p in nxt.items():
            assert covers(est[f"stages.{stage}.next.{target}"], p), est[
                f"stages.{stage}.next.{target}"
            ]
    assert est["arrivals.streams[0].rate_per_day"]["estimate"] == pytest.approx(20.0, rel=0.05)
    assert report["warnings"] == []

    # The YAML says where it came from and simulates as it is: 20 leads a day x 0.5 x 0.4 for
    # 360 days is 1440 conversions, less the ~28 days the funnel takes to fill.
    text = out.read_text()
    assert text.startswith("# Calibrated by lcsim ") and "Source: funnel counts" in text
    run = lcsim_cli("run", out, "--replications", "2", "--json")
    assert run.returncode == 0, run.stderr
    metrics = {row["metric"]: row for row in json.loads(run.stdout)["summary"]}
    assert 1150 < metrics["conversions"]["mean"] < 1550

    # One implementation: Python's lcsim.calibrate(funnel=...) gives the command's numbers exactly.
    import lcsim

    cal = lcsim.calibrate(
        funnel=counts,
        transitions={"lead": ["mql", "lost"], "mql": ["won", "lost"]},
        start="empty",
        name="from_counts",
    )
    for row in cal.estimates.itertuples(index=False):
        assert (row.estimate, row.ci_low, row.ci_high, row.n) == tuple(
            est[row.parameter][k] for k in ("estimate", "ci_low", "ci_high", "n")
        ), row.parameter
    assert cal.fit["deviance"] == f["deviance"] and cal.fit["iterations"] == f["iterations"]


@pytest.mark.parametrize(
    "rows, args, expected",
    [
        (
            "2025-01-01,lead,100\n2025-01-01,mq1,40\n",
            [],
            ["counts.csv:3:", "stage", "unknown stage 'mq1'", "did you mean 'mql'"],
        ),
        (
            "2025-01-01,lead,100\n2025-01-01,mql,many\n",
            [],
            ["counts.csv:3:", "entries", "expected a count", "'many'"],
        ),
        ("2025-01-01,lead,100\n2025-01-01,mql,-3\n", [], ["counts.csv:3:", "entries", "'-3'"]),
        (
            "2025-01-01,lead,100\n2025-01-01,mql,40\n2025-02-01,lead,90\n2025-02-01,mql,30\n2025-01-01,mql,41\n",
            [],
            ["counts.csv:6:", "stage", "a second row for stage 'mql' in period 2025-01-01"],
        ),
        (
            "2025-01-01,lead,100\n",
            ["--transitions", "lead-mql"],
            ["--transitions", "FROM:TO", "'lead-mql'"],
        ),
        ("2025-01-01,lead,100\n", ["NONE"], ["--transitions", "--funnel needs the stage model"]),
    ],
)
def test_bad_funnel_counts_exit_2_naming_row_and_column(lcsim_cli, tmp_path, rows, args, expected):
    (tmp_path / "counts.csv").write_text("period,stage,entries\n" + rows)
    if not args:
        args = ["--transitions", FUNNEL_TRANSITIONS]
    args = [a for a in args if a != "NONE"]
    res = lcsim_cli(
        "calibrate", "--funnel", tmp_path / "counts.csv", "--out", tmp_path / "out.yaml", *args
    )
    assert_one_line_exit_2(res, expected, tmp_path / "out.yaml")


def test_funnel_empty_file_missing_column_and_mixed_inputs_exit_2(lcsim_cli, tmp_path):
    out = tmp_path / "out.yaml"
    (tmp_path / "empty.csv").write_text("")
    res = lcsim_cli(
        "calibrate",
        "--funnel",
        tmp_path / "empty.csv",
        "--transitions",
        FUNNEL_TRANSITIONS,
        "--out",
        out,
    )
    assert res.returncode == 2 and "empty.csv: empty file" in res.stderr
    (tmp_path / "cols.csv").write_text("period,stage,count\n2025-01,lead,3\n")
    res = lcsim_cli(
        "calibrate",
        "--funnel",
        tmp_path / "cols.csv",
        "--transitions",
        FUNNEL_TRANSITIONS,
        "--out",
        out,
    )
    assert res.returncode == 2 and "cols.csv:1: entries: missing column 'entries'" in res.stderr
    (tmp_path / "events.csv").write_text(BAD_HEADER + "c1,2025-01-06,lead\n")
    res = lcsim_cli(
        "calibrate",
        tmp_path / "events.csv",
        "--funnel",
        tmp_path / "cols.csv",
        "--transitions",
        FUNNEL_TRANSITIONS,
        "--out",
        out,
    )
    assert res.returncode == 2 and "EVENTS: cannot be combined with --funnel" in res.stderr
    res = lcsim_cli("calibrate", tmp_path / "events.csv", "--transitions", "lead:mql", "--out", out)
    assert (
        res.returncode == 2
        and "--transitions: applies to --funnel and --snapshots only" in res.stderr
    )
    res = lcsim_cli("calibrate", tmp_path / "events.csv", "--start", "empty", "--out", out)
    assert res.returncode == 2 and "--funnel" in res.stderr
    assert not out.exists()
    cal = lcsim_cli("calibrate", "--help")
    for option in ("--funnel", "--transitions", "--start", "--period-days"):
        assert option in cal.stdout, option
