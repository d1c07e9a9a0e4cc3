"""The calibration of a fixed 200,000-row log is what it was before the compact log reader
(issue 35): every number of `lcsim calibrate --report` and of the written scenario to 1e-12
relative, every count, line number, string, warning and cleaning step exactly.

The log: `lcsim synth tests/data/calibrate_reference/b2b_100.yaml --seed 7` (the B2B baseline at
100 arrivals a day: 75,401 accounts, 204,202 rows, time-ordered like a CRM export), then a few
defects put in deterministically (`add_defects`: a duplicate row, an unparseable timestamp, a row
with too many fields, an empty customer id, one timestamp written with a +02:00 offset, one row
moved to the end so that it is out of order within its customer), read with `--drop-invalid`.

The reference (tests/data/calibrate_reference/b2b_100.json) was written by the reader before
issue 35 (main at 415d012): regenerate it only when a change of the estimates is intended, with
`.venv/bin/python tests/python/test_calibrate_reference.py --write`. The synthesized log's
SHA-256 is part of it: when the engine's draws change, the test says so instead of comparing
estimates of another log.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "calibrate_reference"
VARIANT = DATA / "b2b_100.yaml"
REFERENCE = DATA / "b2b_100.json"
RELATIVE = 1e-12
CALIBRATE = [
    "--censor-at",
    "2027-01-06T00:00:00Z",
    "--absorbing",
    "lost,churned",
    "--won",
    "customer",
    "--segment-column",
    "segment",
    "--drop-invalid",
]


def add_defects(lines: list[str]) -> list[str]:
    """The synthesized rows with one defect of each kind the reader repairs or drops."""
    header, rows = lines[0], list(lines[1:])
    customer = [r.split(",", 1)[0] for r in rows]
    rows.append(rows[1000])  # a duplicate row
    c, t, s, g = rows[2000].split(",")
    rows[2000] = f"{c},not-a-time,{s},{g}"  # an unparseable timestamp
    rows[3000] = rows[3000] + ",extra"  # the wrong number of fields
    rows[4000] = "," + rows[4000].split(",", 1)[1]  # an empty customer id
    # The first row from 5000 on before 22:00 gets the same instant written at +02:00.
    i = next(i for i in range(5000, len(rows)) if int(rows[i].split(",")[1][11:13]) < 22)
    c, t, s, g = rows[i].split(",")
    rows[i] = f"{c},{t[:11]}{int(t[11:13]) + 2:02d}{t[13:19]}+02:00,{s},{g}"
    # The first row from 6000 on whose customer has a later row goes to the end: out of order.
    later = {}
    for i, cu in enumerate(customer):
        later[cu] = i
    i = next(i for i in range(6000, len(customer)) if later[customer[i]] > i)
    rows.append(rows.pop(i))
    return [header] + rows


def make_log(lcsim_cli, directory: Path) -> tuple[Path, str]:
    synth = directory / "synth.csv"
    res = lcsim_cli("synth", VARIANT, "--seed", 7, "--events", synth)
    assert res.returncode == 0, res.stderr
    digest = hashlib.sha256(synth.read_bytes()).hexdigest()
    log = directory / "events.csv"
    log.write_text("\n".join(add_defects(synth.read_text().splitlines())) + "\n")
    return log, digest


def calibrate(lcsim_cli, directory: Path) -> dict:
    log, digest = make_log(lcsim_cli, directory)
    report = directory / "report.json"
    scenario = directory / "calibrated.yaml"
    res = lcsim_cli(
        "calibrate", log, *CALIBRATE, "--out", scenario, "--report", report, cwd=directory
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(report.read_text())
    for key in ("created", "lcsim_version", "inputs"):
        out.pop(key)
    out["scenario"].pop("file")
    out["events"].pop("file")
    for w in out["warnings"]:
        w.pop("file")
    for step in out["events"]["cleaning"]:
        if len(step["lines"]) > 100:  # (the time zone class lists every row) as a count and a hash
            text = ",".join(map(str, step["lines"]))
            step["lines"] = {
                "count": len(step["lines"]),
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
            }
    written = yaml.safe_load(scenario.read_text())
    written.pop("description")  # names the file
    return {"synth_sha256": digest, "report": out, "scenario_yaml": written}


def differences(got, want, where="") -> list[str]:
    """Every place where `got` is not `want`: numbers to RELATIVE, the rest exactly."""
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return [] if got == want else [f"{where}: {got!r} != {want!r}"]
    if isinstance(want, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return [f"{where}: {got!r} is not a number ({want!r})"]
        if isinstance(want, int) and isinstance(got, int):
            return [] if got == want else [f"{where}: {got} != {want}"]
        if math.isnan(want) or math.isnan(got):
            return [] if math.isnan(want) and math.isnan(got) else [f"{where}: {got!r} != {want!r}"]
        if got == want:
            return []
        scale = max(abs(got), abs(want))
        return [] if abs(got - want) <= RELATIVE * scale else [f"{where}: {got!r} != {want!r}"]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [
                f"{where}: length {len(got) if isinstance(got, list) else got!r} != {len(want)}"
            ]
        out = []
        for i, (g, w) in enumerate(zip(got, want)):
            out += differences(g, w, f"{where}[{i}]")
        return out
    if isinstance(want, dict):
        if not isinstance(got, dict) or sorted(got) != sorted(want):
            return [
                f"{where}: keys {sorted(got) if isinstance(got, dict) else got!r} != {sorted(want)}"
            ]
        out = []
        for k in want:
            out += differences(got[k], want[k], f"{where}.{k}")
        return out
    raise TypeError(f"{where}: unexpected {type(want)}")


def test_the_reference_log_calibrates_to_the_recorded_estimates(lcsim_cli, tmp_path):
    reference = json.loads(REFERENCE.read_text())
    got = calibrate(lcsim_cli, tmp_path)
    assert got["synth_sha256"] == reference["synth_sha256"], (
        "lcsim synth now writes another log for the reference scenario (the engine's draws "
        "changed): check the estimates otherwise and regenerate the reference (see the module doc)"
    )
    # The comparison must be able to fail: the reference holds many numbers and every defect class.
    assert len(reference["report"]["estimates"]) > 100
    defects = {s["defect"] for s in reference["report"]["events"]["cleaning"]}
    assert {
        "duplicate row",
        "unparseable timestamp",
        "wrong number of fields",
        "empty customer id",
        "timezone offset",
        "out of order",
    } <= defects
    found = differences(got, reference)
    assert not found, f"{len(found)} differences, the first: " + "\n".join(found[:20])


def test_the_comparison_notices_a_change_in_the_thirteenth_digit():
    reference = json.loads(REFERENCE.read_text())
    changed = json.loads(REFERENCE.read_text())
    row = changed["report"]["estimates"][0]
    row["estimate"] *= 1 + 5e-12
    assert differences(changed, reference)
    row["estimate"] = reference["report"]["estimates"][0]["estimate"] * (1 + 5e-13)
    assert not differences(changed, reference)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write   (rewrites {REFERENCE.relative_to(ROOT)})")
    import tempfile

    exe = str(Path(sys.executable).parent / "lcsim")

    def run(*args, **kwargs):
        return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, **kwargs)

    with tempfile.TemporaryDirectory() as tmp:
        result = calibrate(run, Path(tmp))
    REFERENCE.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE.relative_to(ROOT)}")
