"""`lcsim synth` and `lcsim calibrate`: CRM history written from a known scenario, read back and
calibrated through the command line, and the messages bad history files get."""

import csv
import json

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
    res = lcsim_cli("synth", scenario, "--events", d / "events.csv", "--snapshots", d / "snapshots.csv",
                    "--touchpoints", d / "touchpoints.csv", "--observe-until", "240", "--json")
    assert res.returncode == 0, res.stderr
    return d, json.loads(res.stdout)


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
    res = lcsim_cli("synth", d / "truth.yaml", "--events", tmp_path / "e.csv", "--observe-until", "240")
    assert res.returncode == 0, res.stderr
    assert "customers" in res.stdout and "right-censored" in res.stdout
    assert "lcsim calibrate" in res.stdout
    assert (tmp_path / "e.csv").read_text() == (d / "events.csv").read_text()


def test_round_trip_recovers_next_probabilities_within_their_intervals(history, lcsim_cli, tmp_path):
    d, summary = history
    out = tmp_path / "calibrated.yaml"
    report_file = tmp_path / "report.json"
    res = lcsim_cli("calibrate", d / "events.csv", "--out", out, "--report", report_file,
                    "--censor-at", summary["censor_at"], "--absorbing", "won,lost", "--won", "won",
                    "--segment-column", "segment", "--json")
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
    lead_mean = [f for f in report["families"] if f["stage"] == "lead" and f["segment"] == ""
                 and f["family"] == "exponential"][0]
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


def test_human_tables_mark_the_chosen_family_and_print_warnings_first(history, lcsim_cli, tmp_path):
    d, summary = history
    res = lcsim_cli("calibrate", d / "events.csv", "--out", tmp_path / "c.yaml", "--absorbing", "won,lost",
                    "--segment-column", "segment", "--censor-at", summary["censor_at"])
    assert res.returncode == 0, res.stderr
    assert "estimates (95% intervals" in res.stdout
    assert "stages.mql.next.won" in res.stdout
    family_lines = [line for line in res.stdout.splitlines() if line.startswith("lead ") and " - " in line]
    assert len(family_lines) == 4  # exponential, weibull, lognormal, gamma for all segments
    assert sum(" * " in line for line in family_lines) == 1
    assert "wrote " in res.stdout
    # Customers first seen shortly before the end have one row: a warning, in the documented form.
    assert all(line.startswith("warning: ") for line in res.stderr.splitlines()), res.stderr
    assert "events.csv" in res.stderr


def test_touchpoint_lift_from_the_contact_log(history, lcsim_cli, tmp_path):
    d, summary = history
    res = lcsim_cli("calibrate", d / "events.csv", "--out", tmp_path / "c.yaml", "--absorbing", "won,lost",
                    "--censor-at", summary["censor_at"], "--touchpoints", d / "touchpoints.csv",
                    "--lift", "webinar:mql:5", "--json")
    assert res.returncode == 0, res.stderr
    lift = json.loads(res.stdout)["lift"]
    assert len(lift) == 1
    assert lift[0]["touchpoint"] == "webinar" and lift[0]["stage"] == "mql" and lift[0]["window"] == 5
    assert lift[0]["converged"]
    assert lift[0]["ci_low"] <= 2.0 <= lift[0]["ci_high"], lift[0]
    assert lift[0]["ci_low"] > 1.0
    assert "webinar" in (tmp_path / "c.yaml").read_text()  # noted in the header, not in the scenario

    bad = lcsim_cli("calibrate", d / "events.csv", "--out", tmp_path / "x.yaml", "--lift", "webinar")
    assert bad.returncode == 2
    assert "--lift" in bad.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_snapshots_alone_give_a_scenario_that_runs(history, lcsim_cli, tmp_path):
    d, summary = history
    out = tmp_path / "snap.yaml"
    res = lcsim_cli("calibrate", "--snapshots", d / "snapshots.csv", "--absorbing", "won,lost", "--won", "won",
                    "--out", out, "--json")
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

    # With events as well, the snapshot fit is reported beside the event-log estimates.
    both = lcsim_cli("calibrate", d / "events.csv", "--snapshots", d / "snapshots.csv", "--absorbing",
                     "won,lost", "--censor-at", summary["censor_at"], "--out", tmp_path / "both.yaml", "--json")
    assert both.returncode == 0, both.stderr
    report = json.loads(both.stdout)
    assert report["scenario"]["source"] == "events"
    assert report["snapshots"]["n_customers"] > 1000


BAD_HEADER = "customer_id,timestamp,stage\n"


@pytest.mark.parametrize("rows, args, expected", [
    ("c1,2025-01-06T09:00:00Z,lead\nc1,2025-13-40,mql\n", [], ["bad.csv:3:", "timestamp", "2025-13-40"]),
    ("c1,2025-01-06,lead\nc1,2025-01-09,leed\n", ["--stages", "lead,mql,won,lost"],
     ["bad.csv:3:", "stage", "'leed'", "did you mean 'lead'"]),
    ("c1,2025-01-06,Lead\nc1,2025-01-09,Qualified\n", ["--stage-map", "MAP"],
     ["bad.csv:3:", "stage", "'Qualified'"]),
])
def test_bad_history_exits_2_naming_row_and_column(lcsim_cli, tmp_path, rows, args, expected):
    (tmp_path / "bad.csv").write_text(BAD_HEADER + rows)
    (tmp_path / "map.yaml").write_text("Lead: lead\nMQL: mql\n")
    args = [str(tmp_path / "map.yaml") if a == "MAP" else a for a in args]
    res = lcsim_cli("calibrate", tmp_path / "bad.csv", "--out", tmp_path / "out.yaml", *args)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for piece in expected:
        assert piece in lines[0], (piece, lines[0])
    assert not (tmp_path / "out.yaml").exists()


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
    res = lcsim_cli("calibrate", tmp_path / "ok.csv", "--out", tmp_path / "out.yaml", "--stage-map",
                    tmp_path / "map.yaml")
    assert res.returncode == 2
    assert "map.yaml:1: Lead: expected a stage name, got a list" in res.stderr
    res = lcsim_cli("calibrate", "--out", tmp_path / "out.yaml")
    assert res.returncode == 2 and "--snapshots" in res.stderr
    res = lcsim_cli("calibrate", tmp_path / "missing.csv", "--out", tmp_path / "out.yaml")
    assert res.returncode == 2 and "missing.csv" in res.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_bad_synth_options_exit_2_naming_the_option(history, lcsim_cli, tmp_path):
    d, _ = history
    res = lcsim_cli("synth", d / "truth.yaml", "--events", tmp_path / "e.csv", "--start-date", "2025-02-30")
    assert res.returncode == 2
    assert "--start-date: expected a date YYYY-MM-DD, got 2025-02-30" in res.stderr
    res = lcsim_cli("synth", d / "truth.yaml", "--events", tmp_path / "e.csv", "--observe-until", "400")
    assert res.returncode == 2 and "--observe-until" in res.stderr
    res = lcsim_cli("synth", d / "truth.yaml", "--events", tmp_path / "e.csv", "--snapshots",
                    tmp_path / "s.csv", "--every", "weekly")
    assert res.returncode == 2 and "--every" in res.stderr
    assert not (tmp_path / "e.csv").exists()


def test_help_lists_the_options(lcsim_cli):
    synth = lcsim_cli("synth", "--help")
    assert synth.returncode == 0
    for option in ("--events", "--snapshots", "--every", "--touchpoints", "--replication", "--seed",
                   "--start-date", "--observe-until", "--json"):
        assert option in synth.stdout, option
    cal = lcsim_cli("calibrate", "--help")
    assert cal.returncode == 0
    for option in ("--out", "--snapshots", "--segment-column", "--censor-at", "--stage-map", "--absorbing",
                   "--won", "--drop-duplicates", "--touchpoints", "--lift", "--report", "--json"):
        assert option in cal.stdout, option
    top = lcsim_cli("--help")
    assert "synth" in top.stdout and "calibrate" in top.stdout
