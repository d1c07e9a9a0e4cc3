"""The `lcsim` command line: exit codes, messages, JSON, and the studies it writes."""

import json
import signal
import subprocess
import time

import golden
import pytest
from conftest import SCENARIOS, all_scenarios

BASELINE = SCENARIOS / "b2b_saas" / "baseline.yaml"

SMALL = """\
name: small
horizon: 120
report_every: 10
replications: 4
won: customer
stages:
  lead: {dwell: {mean: 5}, next: {customer: 0.3, lost: 0.7}}
  customer: {absorbing: true, revenue_per_month: 100}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 1000}]
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_version_and_help(lcsim_cli):
    out = lcsim_cli("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("lcsim 0.")
    for args in (["--help"], ["run", "--help"], ["validate", "--help"]):
        res = lcsim_cli(*args)
        assert res.returncode == 0, args
        assert "Usage" in res.stdout or "usage" in res.stdout.lower()
    assert "--replications" in lcsim_cli("run", "--help").stdout


@pytest.mark.parametrize("scenario", all_scenarios(), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_every_bundled_scenario_validates_and_runs_to_its_pinned_numbers(lcsim_cli, scenario):
    """`lcsim validate` passes and `lcsim run --json` gives the golden summary (test_golden.py)
    of every metric, through the command line's JSON (written at full precision)."""
    res = lcsim_cli("validate", scenario)
    assert res.returncode == 0, res.stderr
    assert "ok" in res.stdout
    run = lcsim_cli("run", scenario, "--replications", golden.REPLICATIONS, "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["run"]["replications"] == golden.REPLICATIONS
    actual = {
        "seed": data["run"]["seed"],
        "replications": data["run"]["replications"],
        "metrics": {row["metric"]: {k: row[k] for k in golden.FIELDS} for row in data["summary"]},
    }
    moved = golden.differences(golden.read(scenario), actual)
    assert not moved, f"{scenario}: pinned values moved:\n  " + "\n  ".join(moved)


def test_validate_reports_file_line_and_field_with_exit_2(lcsim_cli, tmp_path):
    bad = write(tmp_path, SMALL.replace("dwell: {mean: 5}", "dwel: {mean: 5}"))
    res = lcsim_cli("validate", bad)
    assert res.returncode == 2
    lines = [line for line in res.stderr.splitlines() if line]
    assert any(
        line.startswith(f"{bad}:7:") and "stages.lead.dwel" in line and "dwell" in line
        for line in lines
    ), res.stderr


def test_validate_lists_every_problem(lcsim_cli, tmp_path):
    bad = write(
        tmp_path,
        SMALL.replace("customer: 0.3, lost: 0.7", "customer: 0.3, lost: 0.6").replace(
            "count: 1000", "count: -5"
        ),
    )
    res = lcsim_cli("validate", bad)
    assert res.returncode == 2
    assert "stages.lead.next" in res.stderr
    assert "arrivals.initial[0].count" in res.stderr
    assert len([line for line in res.stderr.splitlines() if ": " in line]) >= 2


def test_run_bad_input_is_one_clear_line_and_exit_2(lcsim_cli, tmp_path):
    res = lcsim_cli("run", tmp_path / "missing.yaml")
    assert res.returncode == 2
    assert "missing.yaml" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = lcsim_cli("run", write(tmp_path, SMALL), "--replications", "0")
    assert res.returncode == 2
    res = lcsim_cli("run", write(tmp_path, SMALL), "--no-such-option")
    assert res.returncode == 2


def test_run_text_output_has_metrics_with_ci_and_funnel(lcsim_cli, tmp_path):
    res = lcsim_cli("run", write(tmp_path, SMALL))
    assert res.returncode == 0, res.stderr
    assert "conversion_rate" in res.stdout
    assert "95% CI" in res.stdout
    assert "funnel" in res.stdout
    for stage in ("lead", "customer", "lost"):
        assert f"\n{stage}" in res.stdout
    assert res.stderr == ""  # no progress bar when stderr is not a terminal


def strip_timing(data):
    data = dict(data)
    data["run"] = {
        k: v
        for k, v in data["run"].items()
        if k not in ("seconds", "transitions_per_second", "created")
    }
    return data


def test_results_identical_at_one_and_two_threads(lcsim_cli):
    outs = []
    for threads in (1, 2):
        res = lcsim_cli("run", BASELINE, "--replications", "4", "--threads", threads, "--json")
        assert res.returncode == 0, res.stderr
        outs.append(strip_timing(json.loads(res.stdout)))
    assert outs[0] == outs[1]
    res = lcsim_cli("run", BASELINE, "--replications", "4", "--seed", "7", "--json")
    assert strip_timing(json.loads(res.stdout))["summary"] != outs[0]["summary"]


def test_study_layout_matches_docs_and_second_run_appends(lcsim_cli, tmp_path):
    h5py = pytest.importorskip("h5py")
    study = tmp_path / "study.h5"
    scenario = write(tmp_path, SMALL)
    assert lcsim_cli("run", scenario, "--out", study, "--name", "first").returncode == 0
    with h5py.File(study, "r") as f:
        assert f.attrs["filetype"] in (b"lcsim-study", "lcsim-study")
        assert list(f.attrs["format_version"]) == [1, 4]
        first = {
            k: f["runs/first"][k][()]
            for k in ("occupancy", "transitions", "touchpoints", "metrics", "summary")
        }
        g = f["runs/first"]
        assert g["occupancy"].shape == (4, 13, 3)
        assert g["transitions"].shape == (4, 3, 3)
        assert g["touchpoints"].shape == (4, 0, 4)
        assert g["metrics"].shape == (4,)
        assert "conversion_rate" in g["metrics"].dtype.names
        assert g.attrs["replications"] == 4
        assert "name: small" in (
            g.attrs["scenario"].decode()
            if isinstance(g.attrs["scenario"], bytes)
            else g.attrs["scenario"]
        )
        assert int(g.attrs["complete"]) == 1
        assert (
            list(g.attrs["resource_names"]) == []
            and "queue_length" not in g
            and "queue_wait" not in g
        )
        assert "events" not in g
    res = lcsim_cli("run", scenario, "--out", study, "--name", "second", "--events", "--seed", "3")
    assert res.returncode == 0, res.stderr
    with h5py.File(study, "r") as f:
        assert sorted(f["runs"].keys()) == ["first", "second"]
        for key, value in first.items():
            again = f["runs/first"][key][()]
            if value.dtype.hasobject:  # variable-length strings: compare values, NaN included
                assert repr(again.tolist()) == repr(value.tolist()), key
            else:
                assert again.tobytes() == value.tobytes(), key
        ev = f["runs/second/events"]
        assert ev.shape[0] > 4 * 1000
        assert set(ev.dtype.names) >= {"replication", "customer", "time", "from", "to", "cause"}
    dup = lcsim_cli("run", scenario, "--out", study, "--name", "first")
    assert dup.returncode == 2
    assert "already exists" in dup.stderr


def test_ctrl_c_stops_quickly_and_writes_nothing(lcsim_cli, tmp_path):
    scenario = write(
        tmp_path,
        SMALL.replace("count: 1000", "count: 20000000").replace(
            "replications: 4", "replications: 50"
        ),
    )
    study = tmp_path / "study.h5"
    proc = subprocess.Popen(
        [lcsim_cli.path, "run", scenario, "--out", study],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    assert proc.poll() is None, "the long run finished too early to test interruption"
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - start < 1.5
    assert proc.returncode == 130
    assert "cancelled" in err
    assert not study.exists()
