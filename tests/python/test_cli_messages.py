"""The `lcsim` command line as a person reads it: short range messages, did-you-mean for misspelt
top-level keys (a variant's `changes:` and `extends:` included), units in `lcsim run`'s tables,
`lcsim analyze`'s notes wrapped to 100 columns, and one help style for every verb."""

import re

import pytest
from conftest import SCENARIOS
from test_cli import SMALL  # the small scenario of the CLI's other tests

BASELINE = SCENARIOS / "b2b_saas" / "baseline.yaml"
ERLANG = __import__("pathlib").Path(__file__).parent / "data" / "erlang_a.yaml"


def one_line(res):
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args, option, expected",
    [
        (
            ["run", "{s}", "--replications", "0"],
            "--replications",
            "expected a whole number of at least 1, got 0",
        ),
        (
            ["run", "{s}", "-r", "2.5"],
            "--replications",
            "expected a whole number of at least 1, got 2.5",
        ),
        (
            ["run", "{s}", "--threads", "-3"],
            "--threads",
            "expected a whole number of at least 1, got -3",
        ),
        (
            ["compare", "{s}", "{s}", "--replications", "0"],
            "--replications",
            "expected a whole number of at least 1, got 0",
        ),
        (
            ["compare", "{s}", "{s}", "--precision", "0"],
            "--precision",
            "expected a number from 1e-09 to 10, got 0",
        ),
        (
            ["sweep", "{s}", "--replications", "many"],
            "--replications",
            "expected a whole number of at least 1, got 'many'",
        ),
        (
            ["app", "--port", "70000"],
            "--port",
            "expected a whole number from 1 to 65535, got 70000",
        ),
        (
            ["optimise", "{s}", "--lever", "horizon=100:200", "--trials", "0"],
            "--trials",
            "expected a whole number of at least 1, got 0",
        ),
        (
            ["optimise", "{s}", "--lever", "horizon=100:200", "--replications", "1"],
            "--replications",
            "expected a whole number of at least 2, got 1",
        ),
        (
            ["optimise", "{s}", "--lever", "horizon=100:200", "--tolerance", "-5"],
            "--tolerance",
            "expected a number of at least 0, got -5",
        ),
    ],
)
def test_a_value_out_of_range_is_one_short_human_line(lcsim_cli, tmp_path, args, option, expected):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SMALL)
    res = lcsim_cli(*[a.replace("{s}", str(scenario)) for a in args])
    assert res.returncode == 2
    line = one_line(res)
    verb = args[0]
    assert line == f"lcsim {verb}: {option}: {expected} (see lcsim {verb} --help)"
    assert len(line) < 120 and "179769" not in line and "0.000000" not in line


def variant(tmp_path, body):
    (tmp_path / "base.yaml").write_text(SMALL)
    path = tmp_path / "variant.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    "body, wrong, meant, line",
    [
        ("extends: base.yaml\nname: v\nchnages:\n  horizon: 200\n", "chnages", "changes", 3),
        ("extnds: base.yaml\nchanges:\n  horizon: 200\n", "extnds", "extends", 1),
        (SMALL.replace("horizon: 120", "horizn: 120"), "horizn", "horizon", 2),
        ("extends: base.yaml\nname: v\nreplicatons: 8\n", "replicatons", "replications", 3),
    ],
)
def test_a_misspelt_top_level_key_gets_a_did_you_mean(
    lcsim_cli, tmp_path, body, wrong, meant, line
):
    path = variant(tmp_path, body)
    res = lcsim_cli("validate", path)
    assert res.returncode == 2
    hit = [line for line in res.stderr.splitlines() if f"unknown key '{wrong}'" in line]
    assert len(hit) == 1, res.stderr
    assert hit[0].startswith(f"{path}:{line}:"), hit[0]
    assert hit[0].endswith(f"did you mean '{meant}'?"), hit[0]
    if wrong == "extnds":  # a file with changes: and no extends: is a variant missing its base
        assert "in a file with 'changes:'" in hit[0]
        return
    listed = re.search(r"expected one of: ([^)]*)\)", hit[0]).group(1).split(", ")
    assert {"changes", "extends", "horizon", "stages"} <= set(listed)
    assert listed == sorted(listed)


def test_run_tables_carry_units(lcsim_cli):
    res = lcsim_cli("run", BASELINE, "--replications", "3")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "mean per replication" in res.stdout and "730 days" in res.stdout
    header = next(line for line in lines if line.startswith("metric"))
    assert header.split()[:3] == ["metric", "unit", "mean"]
    unit = {
        line.split()[0]: line.split()[1]
        for line in lines[lines.index(header) + 1 :]
        if line.strip()
        and not line.startswith(" ")
        and len(line.split()) > 2
        and not line.startswith(("funnel", "stage ", "touchpoint ", "touchpoints (", "resources"))
    }
    assert unit["net_value"] == "$" and unit["revenue"] == "$" and unit["touchpoint_cost"] == "$"
    assert unit["conversions"] == "customers" and unit["time_to_convert_mean"] == "days"
    assert unit["conversion_rate"] == "share" and unit["value_per_conversion"] == "$/conversion"
    assert any(line.startswith("funnel (customers, mean per replication") for line in lines)
    assert any("cost ($)" in line for line in lines if line.startswith("touchpoint"))


def test_run_resources_table_carries_units(lcsim_cli):
    res = lcsim_cli("run", ERLANG, "--replications", "3")
    assert res.returncode == 0, res.stderr
    for label in (
        "utilisation",
        "served (customers)",
        "waited (% of joiners)",
        "wait mean (days)",
        "staff cost ($)",
    ):
        assert f"\n{label}" in res.stdout, label


@pytest.mark.parametrize(
    "scenario", [BASELINE, SCENARIOS / "b2b_saas" / "webinar_for_mqls.yaml"], ids=lambda p: p.stem
)
def test_analyze_fits_in_100_columns(lcsim_cli, scenario):
    res = lcsim_cli("analyze", scenario)
    assert res.returncode == 0, res.stderr
    notes = res.stdout.split("\nnotes\n", 1)[1]
    assert (
        notes.count("\n- ") + notes.startswith("- ") >= 2
    )  # several notes, each still starts with "- "
    too_long = [line for line in res.stdout.splitlines() if len(line) > 100]
    assert too_long == []
    # Wrapping keeps every word: the notes joined again are the JSON's notes.
    import json

    data = json.loads(lcsim_cli("analyze", scenario, "--json").stdout)
    joined = " ".join(line.strip() for line in notes.strip().splitlines())
    assert joined == " ".join("- " + " ".join(n.split()) for n in data["notes"])


def test_every_verb_has_the_same_help_style(lcsim_cli):
    verbs = [
        "validate",
        "run",
        "analyze",
        "compare",
        "sweep",
        "synth",
        "calibrate",
        "report",
        "app",
        "optimise",
    ]
    for verb in verbs:
        res = lcsim_cli(verb, "--help")
        assert res.returncode == 0, verb
        assert "Usage: " in res.stdout and "\nOptions:\n" in res.stdout, verb
        assert "usage: lcsim" not in res.stdout and "show this help message" not in res.stdout, (
            verb
        )  # argparse's
    text = lcsim_cli("optimise", "--help").stdout
    for option in (
        "--lever",
        "--maximise",
        "--minimise",
        "--subject-to",
        "--at-least",
        "--budget",
        "--trials",
        "--tolerance",
        "--progress",
        "--variant-out",
    ):
        assert option in text, option
    assert lcsim_cli("optimize", "--help").stdout == text


def test_analyse_is_an_alias_of_analyze(lcsim_cli):
    text = lcsim_cli("analyze", "--help")
    assert text.returncode == 0 and "Closed form" in text.stdout
    assert lcsim_cli("analyse", "--help").stdout == text.stdout
