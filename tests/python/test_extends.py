"""Variants as "the baseline plus a change" (`extends:`): the bundled short variants equal the full
files they replaced, bit for bit in their results; provenance reaches the study; errors name the file
and line the problem is in; Scenario.diff lists what a variant changes."""

import json
import pickle
from pathlib import Path

import h5py
import pytest
from conftest import SCENARIOS

import lcsim

FULL = Path(__file__).parent / "data" / "full_variants"
PAIRS = sorted(p.relative_to(FULL) for p in FULL.rglob("*.yaml"))


def test_every_bundled_variant_is_written_as_a_change_to_its_baseline():
    assert len(PAIRS) == 7
    for relative in PAIRS:
        variant = lcsim.Scenario.load(SCENARIOS / relative)
        assert variant.extends == [str(SCENARIOS / relative.parent / "baseline.yaml")], relative
        own_lines = [line for line in variant.own_text.splitlines() if line.strip()]
        assert len(own_lines) < 25, f"{relative}: {len(own_lines)} lines, expected a short variant"


@pytest.mark.parametrize("relative", PAIRS, ids=str)
def test_a_short_variant_equals_the_full_file_it_replaced(relative):
    short = lcsim.Scenario.load(SCENARIOS / relative)
    full = lcsim.Scenario.load(FULL / relative)
    assert short.to_yaml() == full.to_yaml()
    assert short == full
    a = lcsim.simulate(short, replications=2, seed=11, threads=2)
    b = lcsim.simulate(full, replications=2, seed=11, threads=1)
    assert a.arrays.keys() == b.arrays.keys()
    for key in a.arrays:
        assert a.arrays[key].tobytes() == b.arrays[key].tobytes(), key
    assert a.summary().equals(b.summary())


def test_a_variant_keeps_its_resolved_text_its_own_text_and_its_bases(tmp_path):
    variant = lcsim.Scenario.load(SCENARIOS / "b2b_saas/faster_follow_up.yaml")
    assert "extends" not in variant.text and "stages:" in variant.text
    assert variant.own_text == (SCENARIOS / "b2b_saas/faster_follow_up.yaml").read_text()
    # Rebuilt from its pickled state (a Dask worker without the base file): same scenario, same provenance.
    again = pickle.loads(pickle.dumps(variant))
    assert (
        again == variant and again.extends == variant.extends and again.own_text == variant.own_text
    )
    # to_yaml is the resolved, canonical form: it loads on its own.
    alone = tmp_path / "resolved.yaml"
    alone.write_text(variant.to_yaml())
    assert lcsim.Scenario.load(alone) == variant
    # A variant of a variant.
    (tmp_path / "sub").mkdir()
    chained = tmp_path / "sub" / "even_faster.yaml"
    chained.write_text(
        f"extends: {SCENARIOS / 'b2b_saas/faster_follow_up.yaml'}\n"
        "changes: {touchpoints.first_call.reach: 0.95}\n"
    )
    s = lcsim.Scenario.load(chained)
    assert s.extends == [
        str(SCENARIOS / "b2b_saas/faster_follow_up.yaml"),
        str(SCENARIOS / "b2b_saas/baseline.yaml"),
    ]
    assert s.diff(variant) == [
        lcsim.ScenarioChange(
            "touchpoints.first_call.reach",
            0.95,
            variant.to_dict()["touchpoints"]["first_call"]["reach"],
        )
    ]


def test_diff_lists_the_changed_paths_with_old_and_new_values():
    base = lcsim.Scenario.load(SCENARIOS / "b2b_saas/baseline.yaml")
    faster = lcsim.Scenario.load(SCENARIOS / "b2b_saas/faster_follow_up.yaml")
    changes = {c.path: c for c in base.diff(faster)}
    assert set(changes) == {
        "name",
        "description",
        "touchpoints.first_call.schedule.after_entry.days",
    }
    assert changes["touchpoints.first_call.schedule.after_entry.days"].old == [2]
    assert changes["touchpoints.first_call.schedule.after_entry.days"].new == [0.1667]
    webinar = lcsim.Scenario.load(SCENARIOS / "b2b_saas/webinar_for_mqls.yaml")
    added = {c.path: c for c in base.diff(webinar)}["touchpoints.webinar"]
    assert added.old is None and added.new["reach"] == 0.25
    removed = {c.path: c for c in webinar.diff(base)}["touchpoints.webinar"]
    assert removed.new is None
    assert base.diff(base) == []


def test_a_study_stores_the_resolved_scenario_and_the_variant_provenance(tmp_path, lcsim_cli):
    out = tmp_path / "study.h5"
    variant = SCENARIOS / "sales_team/two_more_reps.yaml"
    done = lcsim_cli("run", variant, "--replications", 2, "--out", out)
    assert done.returncode == 0, done.stderr
    with h5py.File(out, "r") as f:
        (group,) = f["runs"].values()
        text = group.attrs["scenario"]
        text = text.decode() if isinstance(text, bytes) else text
        assert "extends" not in text and "servers: 5" in text
        bases = [b.decode() if isinstance(b, bytes) else b for b in group.attrs["scenario_extends"]]
        assert bases == [str(SCENARIOS / "sales_team/baseline.yaml")]
        own = group.attrs["scenario_own_text"]
        assert (own.decode() if isinstance(own, bytes) else own) == variant.read_text()
    study = lcsim.open(out)
    run = study[study.runs()[0]]
    assert run.info.scenario_extends == bases
    assert run.scenario == lcsim.Scenario.load(variant)
    # A plain scenario has neither attribute.
    lcsim_cli("run", SCENARIOS / "sales_team/baseline.yaml", "--replications", 2, "--out", out)
    with h5py.File(out, "r") as f:
        plain = [g for g in f["runs"].values() if "scenario_extends" not in g.attrs]
        assert len(plain) == 1 and "scenario_own_text" not in plain[0].attrs


def test_errors_point_into_the_file_and_line_they_are_in(tmp_path, lcsim_cli):
    base = (SCENARIOS / "b2b_saas/baseline.yaml").read_text()
    (tmp_path / "baseline.yaml").write_text(base)
    variant = tmp_path / "wide.yaml"
    variant.write_text(
        "# a webinar for everyone\nextends: baseline.yaml\nchanges:\n  touchpoints.nurture_email.reach: 1.4\n"
    )
    with pytest.raises(lcsim.ScenarioError) as caught:
        lcsim.Scenario.load(variant)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (
        str(variant),
        4,
        "touchpoints.nurture_email.reach",
    )
    done = lcsim_cli("validate", variant)
    assert done.returncode == 2
    assert f"{variant}:4: touchpoints.nurture_email.reach:" in done.stdout + done.stderr
    # Inherited from the base: the base's line.
    line = next(i for i, text in enumerate(base.splitlines(), 1) if "reach: 0.35" in text)
    (tmp_path / "baseline.yaml").write_text(base.replace("reach: 0.35", "reach: -0.35"))
    (tmp_path / "named.yaml").write_text("extends: baseline.yaml\nname: named\n")
    done = lcsim_cli("validate", tmp_path / "named.yaml")
    assert done.returncode == 2
    assert (
        f"{tmp_path / 'baseline.yaml'}:{line}: touchpoints.nurture_email.reach:"
        in done.stdout + done.stderr
    )
    # Missing base and cycles.
    (tmp_path / "lost.yaml").write_text("extends: nowhere.yaml\n")
    done = lcsim_cli("validate", tmp_path / "lost.yaml")
    assert (
        done.returncode == 2
        and "cannot read the base scenario 'nowhere.yaml'" in done.stdout + done.stderr
    )
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    done = lcsim_cli("validate", tmp_path / "a.yaml")
    assert done.returncode == 2
    message = done.stdout + done.stderr
    assert (
        "extends cycle" in message
        and str(tmp_path / "a.yaml") in message
        and str(tmp_path / "b.yaml") in message
    )


def test_compare_and_sweep_take_a_variant(tmp_path, lcsim_cli):
    base = SCENARIOS / "b2b_saas/baseline.yaml"
    faster = SCENARIOS / "b2b_saas/faster_follow_up.yaml"
    cli = lcsim_cli("compare", base, faster, "--replications", 4, "--json")
    assert cli.returncode == 0, cli.stderr
    (variant,) = json.loads(cli.stdout)["variants"]
    assert variant["changed_touchpoints"] == ["first_call"]
    cli_deltas = {d["metric"]: d["delta"] for d in variant["deltas"]}
    py = lcsim.compare(
        lcsim.Scenario.load(base), lcsim.Scenario.load(faster), replications=4
    ).deltas()
    assert {row.metric: row.delta for row in py.itertuples()} == cli_deltas
    # A sweep over a field only the base writes.
    done = lcsim_cli(
        "sweep", faster, "--set", "touchpoints.nurture_email.reach=0.2,0.5", "--replications", 2
    )
    assert done.returncode == 0, done.stderr
