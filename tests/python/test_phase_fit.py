"""The phase-type snapshot fit through the CLI and Python: lcsim synth's monthly panel (with creation
times) of a semi-Markov scenario -> lcsim calibrate --snapshots -> a scenario with coxian dwells that
lcsim run simulates; the Markov fit beside it; bad options exit 2 with the field."""

from __future__ import annotations

import json

import pytest
import yaml

import lcsim

TRUTH = """
name: semi_markov_small
horizon: 540
report_every: 30
seed: 3
replications: 1
won: won
stages:
  lead: {dwell: {dist: weibull, shape: 1.8, mean: 20}, next: {mql: 0.6, lost: 0.4}}
  mql:  {dwell: {dist: weibull, shape: 0.7, mean: 30}, next: {won: 0.5, lead: 0.1, lost: 0.4}}
  won:  {absorbing: true}
  lost: {absorbing: true}
arrivals:
  streams: [{stage: lead, rate_per_day: 6}]
"""


@pytest.fixture(scope="module")
def panel(lcsim_cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("phase")
    (d / "truth.yaml").write_text(TRUTH)
    res = lcsim_cli("synth", d / "truth.yaml", "--events", d / "events.csv", "--snapshots", d / "snaps.csv",
                    "--every", "monthly")
    assert res.returncode == 0, res.stderr
    return d


def test_snapshots_give_a_phase_type_scenario_that_runs(panel, lcsim_cli, tmp_path):
    header = (panel / "snaps.csv").read_text().splitlines()[0]
    assert header == "customer_id,date,stage,created"
    out = tmp_path / "fitted.yaml"
    res = lcsim_cli("calibrate", "--snapshots", panel / "snaps.csv", "--absorbing", "won,lost", "--transitions",
                    "lead:mql,lead:lost,mql:won,mql:lead,mql:lost", "--out", out, "--report", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    assert "phase-type snapshot fit" in res.stdout and "coxian" in res.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    phase = report["phase_type"]
    assert phase["n_created"] > 0.9 * phase["n_customers"]
    assert phase["aic"] < phase["aic_markov"]
    chosen = dict(zip(phase["stages"], phase["phases"]))
    assert chosen["lead"] > 1 and chosen["mql"] > 1
    rows = {r["parameter"]: r for r in phase["estimates"]}
    for stage, mean in (("lead", 20.0), ("mql", 30.0)):
        r = rows[f"stages.{stage}.dwell.mean"]
        assert r["ci_low"] <= mean <= r["ci_high"], r
    assert rows["stages.mql.next.won"]["ci_low"] <= 0.5 <= rows["stages.mql.next.won"]["ci_high"]
    # The Markov fit of the same file is reported too and misses lead's mean dwell.
    markov = {r["parameter"]: r for r in report["snapshots"]["estimates"]}
    assert not markov["stages.lead.dwell.mean"]["ci_low"] <= 20.0 <= markov["stages.lead.dwell.mean"]["ci_high"]

    scenario = yaml.safe_load(out.read_text())
    lead = scenario["stages"]["lead"]["dwell"]
    assert lead["dist"] == "coxian" and len(lead["rates"]) == chosen["lead"] and lead["exit"][-1] == 1
    run = lcsim_cli("run", out, "--replications", "2")
    assert run.returncode == 0, run.stderr

    markov_only = lcsim_cli("calibrate", "--snapshots", panel / "snaps.csv", "--absorbing", "won,lost",
                            "--max-phases", "1", "--out", tmp_path / "markov.yaml", "--json")
    assert markov_only.returncode == 0, markov_only.stderr
    assert "phase_type" not in json.loads(markov_only.stdout)
    assert "coxian" not in (tmp_path / "markov.yaml").read_text()


@pytest.mark.parametrize("args, field", [
    (["--phases", "lead=7"], "--phases"),
    (["--phases", "leed=2"], "phases.leed"),
    (["--entry-stage", "won"], "entry_stage"),
])
def test_bad_phase_options_exit_2_naming_the_field(panel, lcsim_cli, tmp_path, args, field):
    out = tmp_path / "x.yaml"
    res = lcsim_cli("calibrate", "--snapshots", panel / "snaps.csv", "--absorbing", "won,lost", *args, "--out", out)
    assert res.returncode == 2, res.stderr
    assert field in res.stderr
    assert not out.exists()


def test_python_calibration_exposes_the_phase_type_fit(panel):
    cal = lcsim.calibrate(None, snapshots=panel / "snaps.csv", absorbing=["won", "lost"],
                          transitions=[("lead", "mql"), ("lead", "lost"), ("mql", "won"), ("mql", "lead"),
                                       ("mql", "lost")])
    assert list(cal.dwells.columns) == ["stage", "family", "phases", "mean", "ci_low", "ci_high", "rates", "exit", "n"]
    lead = cal.dwells.set_index("stage").loc["lead"]
    assert lead["family"] == "coxian" and lead["phases"] == len(lead["rates"]) > 1
    assert cal.phase_candidates.iloc[0]["step"] == "Markov"
    assert cal.phase_candidates["chosen"].iloc[0]
    assert cal.loglik["phase_type"] > cal.loglik["markov"]
    occ = cal.phase_estimates[cal.phase_estimates["parameter"].str.startswith("occupancy.365.")]
    assert set(occ["parameter"]) == {f"occupancy.365.{s}" for s in ("lead", "mql", "won", "lost")}
    assert abs(occ["estimate"].sum() - 1.0) < 1e-9
    fixed = lcsim.calibrate(None, snapshots=panel / "snaps.csv", absorbing=["won", "lost"], phases={"lead": 2},
                            max_phases=1)
    assert fixed.dwells.set_index("stage").loc["lead", "phases"] == 2
    assert fixed.dwells.set_index("stage").loc["mql", "phases"] == 1
    markov = lcsim.calibrate(None, snapshots=panel / "snaps.csv", absorbing=["won", "lost"], max_phases=1)
    assert markov.dwells is None and markov.loglik == {}
    with pytest.raises(lcsim.ScenarioError, match="max_phases"):
        lcsim.calibrate(None, snapshots=panel / "snaps.csv", absorbing=["won", "lost"], max_phases=9)


def test_synth_frames_carry_creation_times():
    history = lcsim.synth(lcsim.Scenario.from_yaml(TRUTH), observe_until=120, snapshots="monthly")
    snaps = history["snapshots"]
    assert "created" in snaps.columns
    first = history["events"].groupby("customer_id")["timestamp"].min()
    assert (snaps.set_index("customer_id")["created"].groupby(level=0).first() == first.loc[
        snaps["customer_id"].unique()]).all()
