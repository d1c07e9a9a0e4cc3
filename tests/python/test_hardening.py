"""Hardening (docs/hardening.md): studies survive killed writers, full disks and read-only
directories; bad files given to lcsim.open are StudyErrors; bad run names are refused; wrong
argument types name the argument; simulating from several threads is safe; every CLI subcommand
exits 2 with file, line and field on bad input."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from conftest import ROOT

import lcsim

SCENARIO = """\
name: hardening
horizon: 60
report_every: 7
seed: 11
replications: 4
won: customer
stages:
  lead: {dwell: {dist: exponential, mean: 6}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: weibull, shape: 1.4, mean: 9}, next: {customer: 0.4, lost: 0.6}}
  customer: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 200}]
  streams: [{stage: lead, rate_per_day: 10}]
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("hardening") / "s.yaml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def run(scenario_file):
    return lcsim.simulate(scenario_file, threads=1)


def _bytes(path: Path) -> bytes:
    return Path(path).read_bytes()


def _same_run(a, b) -> bool:
    return (
        a.arrays.keys() == b.arrays.keys()
        and all(a.arrays[k].tobytes() == b.arrays[k].tobytes() for k in a.arrays)
        and a.summary().equals(b.summary())
    )


# ---- killed writers --------------------------------------------------------------------------------


def _kill_writer_module():
    spec = importlib.util.spec_from_file_location("kill_writer", ROOT / "tools" / "kill_writer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_killed_writers_lose_no_earlier_run(tmp_path, lcsim_cli):
    """A few rounds of tools/kill_writer.py (the script does >= 50): Python and CLI writers killed
    at random moments, every run saved before still byte-identical and the study still opens."""
    kw = _kill_writer_module()
    result = kw.run_rounds(
        6, seed=24, workdir=tmp_path, lcsim_cli=lcsim_cli.path, log=lambda line: None
    )
    assert result.failures == []
    assert result.kills == 6
    assert result.runs_saved >= 1, (
        "no writer got one run saved: the kills were too early to test anything"
    )
    assert result.runs_checked >= result.runs_saved
    assert "final" in lcsim.open(tmp_path / "study.h5").runs()


# ---- full disk and read-only directory (a small tmpfs; needs root) -----------------------------------


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (and mount)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.fixture
def tmpfs(tmp_path):
    where = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mounted = []

    def mount(size="4m"):
        _mount_tmpfs(where, size)
        mounted.append(where)
        return where

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_disk_is_a_study_error_and_leaves_the_study_as_it_was(tmpfs, run):
    disk = tmpfs("3m")
    study = disk / "study.h5"
    run.save(study, "first")
    before = _bytes(study)
    # Fill the disk but for a few KiB: the next append cannot write its copy of the study.
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    with pytest.raises(lcsim.StudyError) as err:
        run.save(study, "second")
    message = str(err.value)
    assert str(disk) in message, message
    assert _bytes(study) == before
    assert lcsim.open(study).runs() == ["first"]
    assert _same_run(lcsim.open(study)["first"], run)
    # nothing of the failed write is left to fill the disk further
    assert sorted(p.name for p in disk.iterdir() if p.name not in ("filler",)) in (
        ["study.h5"],
        ["study.h5", "study.h5.lock"],
    )
    filler.unlink()
    run.save(study, "second")  # and with room again, it works
    assert lcsim.open(study).runs() == ["first", "second"]


def test_read_only_directory_is_a_study_error_and_leaves_the_study_as_it_was(tmpfs, run):
    disk = tmpfs("8m")
    study = disk / "study.h5"
    run.save(study, "first")
    before = _bytes(study)
    done = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")
    try:
        with pytest.raises(lcsim.StudyError) as err:
            run.save(study, "second")
        message = str(err.value)
        assert str(disk) in message, message
        assert "read-only" in message.lower() or "permission" in message.lower(), message
        assert _bytes(study) == before
        assert lcsim.open(study).runs() == ["first"]  # reading a read-only study works
        assert _same_run(lcsim.open(study)["first"], run)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], capture_output=True)


# ---- files that are not studies, run names ---------------------------------------------------------


def test_truncated_study_is_a_study_error(tmp_path, run):
    study = tmp_path / "study.h5"
    run.save(study, "a")
    size = study.stat().st_size
    for keep in (0, 7, 512, size // 2, size - 1):
        cut = tmp_path / f"cut{keep}.h5"
        cut.write_bytes(_bytes(study)[:keep])
        with pytest.raises(lcsim.StudyError) as err:
            st = lcsim.open(cut)
            for name in st.runs():
                st[name]
        assert type(err.value) is lcsim.StudyError
        assert str(cut) in str(err.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"just text, not HDF5\n", b"\x89HDF\r\n\x1a\n" + b"\0" * 100, os.urandom(4096)],
    ids=["empty", "text", "hdf5-signature-only", "random"],
)
def test_non_hdf5_file_is_a_study_error(tmp_path, content):
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    with pytest.raises(lcsim.StudyError) as err:
        lcsim.open(path)
    assert type(err.value) is lcsim.StudyError
    assert str(path) in str(err.value)


def test_a_directory_or_missing_file_is_a_study_error(tmp_path):
    for path in (tmp_path, tmp_path / "missing.h5"):
        with pytest.raises(lcsim.StudyError) as err:
            lcsim.open(path)
        assert str(path) in str(err.value)


@pytest.mark.parametrize("name", ["", "a/b", "/abs", "..", ".", "../up", "a/../b", "x\0y"])
def test_bad_run_names_are_refused_and_leave_the_study_alone(tmp_path, run, name):
    study = tmp_path / "study.h5"
    run.save(study, "good")
    before = _bytes(study)
    with pytest.raises(lcsim.ScenarioError) as err:
        run.save(study, name)
    assert any(p.field == "name" for p in err.value.problems), err.value.problems
    assert _bytes(study) == before
    assert lcsim.open(study).runs() == ["good"]


# ---- argument types --------------------------------------------------------------------------------


def _bad_calls(scenario_file):
    s = str(scenario_file)
    return [
        # (call, exception, the argument's name in the message)
        (lambda: lcsim.simulate(42), TypeError, "scenario"),
        (lambda: lcsim.simulate(None), TypeError, "scenario"),
        (lambda: lcsim.simulate(s, replications="3"), TypeError, "replications"),
        (lambda: lcsim.simulate(s, replications=None or [3]), TypeError, "replications"),
        (lambda: lcsim.simulate(s, replications=True), TypeError, "replications"),
        (lambda: lcsim.simulate(s, replications=0), ValueError, "replications"),
        (lambda: lcsim.simulate(s, replications=2.5), ValueError, "replications"),
        (lambda: lcsim.simulate(s, replications=float("nan")), ValueError, "replications"),
        (lambda: lcsim.simulate(s, seed="7"), TypeError, "seed"),
        (lambda: lcsim.simulate(s, seed=1.5), TypeError, "seed"),
        (lambda: lcsim.simulate(s, seed=-1), ValueError, "seed"),
        (lambda: lcsim.simulate(s, threads="2"), TypeError, "threads"),
        (lambda: lcsim.simulate(s, threads=-1), ValueError, "threads"),
        (lambda: lcsim.simulate(s, name=5), TypeError, "name"),
        (lambda: lcsim.simulate(s, progress="yes"), TypeError, "progress"),
        (lambda: lcsim.compare(s, 3), TypeError, "variants[0]"),
        (lambda: lcsim.compare(3, s), TypeError, "base"),
        (lambda: lcsim.compare(s, s, replications="many"), TypeError, "replications"),
        (lambda: lcsim.compare(s, s, seed=[1]), TypeError, "seed"),
        (lambda: lcsim.compare(s, s, batch=0), ValueError, "batch"),
        (lambda: lcsim.compare(s, s, max_replications="x"), TypeError, "max_replications"),
        (lambda: lcsim.compare(s, s, precision="0.1"), TypeError, "precision"),
        (lambda: lcsim.compare(s, s, precision=-0.1), ValueError, "precision"),
        (
            lambda: lcsim.compare(s, s, precision_metrics="conversions"),
            TypeError,
            "precision_metrics",
        ),
        (lambda: lcsim.sweep(7, {"horizon": [10]}), TypeError, "base"),
        (lambda: lcsim.sweep(s, {"horizon": [10]}, replications="2"), TypeError, "replications"),
        (lambda: lcsim.sweep(s, {"horizon": [10]}, seed="x"), TypeError, "seed"),
        (lambda: lcsim.sweep(s, {"horizon": [10]}, threads=0), ValueError, "threads"),
        (lambda: lcsim.calibrate(42), TypeError, "events"),
        (lambda: lcsim.calibrate(snapshots=3.5), TypeError, "snapshots"),
        (
            lambda: lcsim.calibrate(funnel=[1, 2], transitions={"lead": ["mql"]}),
            TypeError,
            "funnel",
        ),
        (lambda: lcsim.calibrate("e.csv", absorbing="lost"), TypeError, "absorbing"),
        (lambda: lcsim.calibrate("e.csv", stage_map=["a", "b"]), TypeError, "stage_map"),
        (lambda: lcsim.calibrate("e.csv", censor_at=20240101), TypeError, "censor_at"),
        (lambda: lcsim.calibrate("e.csv", segment_column=1), TypeError, "segment_column"),
        (lambda: lcsim.calibrate("e.csv", drop_duplicates="yes"), TypeError, "drop_duplicates"),
        (lambda: lcsim.calibrate("e.csv", on_invalid="skip"), ValueError, "on_invalid"),
        (lambda: lcsim.calibrate("e.csv", date_format=1), TypeError, "date_format"),
    ]


def test_devices_fifos_and_huge_files_are_not_read_as_scenarios(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.yaml"
    huge.write_text(SCENARIO)
    os.truncate(huge, (64 << 20) + 1)  # sparse
    for path, why in (
        ("/dev/zero", "not a regular file"),
        (fifo, "not a regular file"),
        (tmp_path, "a directory"),
        (huge, "larger than 64 MiB"),
    ):
        with pytest.raises(lcsim.ScenarioError, match=f"cannot read file: {why}"):
            lcsim.simulate(path)


def test_wrong_argument_types_name_the_argument(scenario_file):
    for i, (call, kind, argument) in enumerate(_bad_calls(scenario_file)):
        with pytest.raises(kind) as err:
            call()
        assert argument in str(err.value), (
            f"call {i}: {kind.__name__} does not name {argument}: {err.value}"
        )


# ---- threads -----------------------------------------------------------------------------------------


def test_simulating_from_several_python_threads_equals_serial(scenario_file):
    base = lcsim.Scenario.load(scenario_file)
    variants = [base.with_changes({"seed": 100 + i}) for i in range(6)]
    serial = [lcsim.simulate(v, threads=1, replications=3) for v in variants]
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(variants))

    def work(i):
        try:
            barrier.wait(timeout=30)
            # twice each, the same scenario from two threads at once as well
            results[i] = lcsim.simulate(variants[i], threads=2, replications=3)
            results[i + 100] = lcsim.simulate(variants[0], threads=1, replications=3)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(variants))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    for i, run in enumerate(serial):
        assert _same_run(results[i], run), f"variant {i} differs from its serial run"
        assert _same_run(results[i + 100], serial[0])
    # and the serial runs do differ between seeds, so equality above means something
    assert not _same_run(serial[0], serial[1])


# ---- exit codes: every subcommand, bad input -> exit 2 with file, line and field ---------------------

BAD_HORIZON = SCENARIO.replace("horizon: 60", "horizon: -1")  # line 2, field horizon
FILES = {
    "good.yaml": SCENARIO,
    "bad.yaml": BAD_HORIZON,
    "comma.yaml": ",\n"
    + SCENARIO,  # line 1: a stray ',' that made yaml-cpp's LoadAll loop for ever
    "alias_bomb.yaml": SCENARIO
    + "description: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"d{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)),
    "variant.yaml": "extends: good.yaml\nchanges:\n  stages.lead.next.mql: 1.5\n",
    "events.csv": "customer_id,timestamp,stage\nc1,2024-01-01T00:00:00Z,lead\nc1,2024-13-01,mql\n",
    "snapshots.csv": "customer_id,date,stage\nA,2024-01-01,lead\nA,2024-02-30,mql\n",
    "funnel.csv": "period,stage,entries\n0,lead,100\n0,mql,-3\n",
    "points.csv": "horizon,seed\n30,1\n-5,2\n",
    "stage_map.yaml": "Lead: lead\nMQL: [mql]\n",
    "stage_map_comma.yaml": ",\nLead: lead\n",  # yaml-cpp's LoadFile called this "an empty file"
    "alias_cycle.yaml": SCENARIO + "description: &c [x, *c]\n",  # an alias inside its own anchor
    "notastudy.h5": "not an HDF5 file\n",
}

CLI_CASES = [
    # (id, arguments, the start of the expected stderr line: file:line: field:)
    ("validate", ["validate", "bad.yaml"], "bad.yaml:2: horizon:"),
    (
        "validate-comma",
        ["validate", "comma.yaml"],
        "comma.yaml:1: YAML syntax error: unexpected ','",
    ),
    ("validate-alias-bomb", ["validate", "alias_bomb.yaml"], "alias_bomb.yaml:"),
    ("validate-alias-cycle", ["validate", "alias_cycle.yaml"], "alias_cycle.yaml:"),
    ("run", ["run", "bad.yaml"], "bad.yaml:2: horizon:"),
    ("run-variant", ["run", "variant.yaml"], "variant.yaml:3: stages.lead.next.mql:"),
    ("run-name", ["run", "good.yaml", "--out", "s.h5", "--name", "a/b"], "s.h5: name:"),
    ("run-not-a-study", ["run", "good.yaml", "--out", "notastudy.h5"], "lcsim: "),
    ("analyze", ["analyze", "bad.yaml"], "bad.yaml:2: horizon:"),
    ("compare-base", ["compare", "bad.yaml", "good.yaml"], "bad.yaml:2: horizon:"),
    (
        "compare-variant",
        ["compare", "good.yaml", "comma.yaml"],
        "comma.yaml:1: YAML syntax error: unexpected ','",
    ),
    (
        "sweep-set",
        ["sweep", "good.yaml", "--set", "horizon=10,-5"],
        "good.yaml (sweep point 1: horizon=-5):2: horizon:",
    ),
    ("sweep-set-comma", ["sweep", "good.yaml", "--set", "horizon=,5"], "--set: horizon:"),
    (
        "sweep-points",
        ["sweep", "good.yaml", "--points", "points.csv"],
        "good.yaml (sweep point 1: horizon=-5, seed=2):2: horizon:",
    ),
    ("synth", ["synth", "bad.yaml", "--events", "e.csv"], "bad.yaml:2: horizon:"),
    ("calibrate-events", ["calibrate", "events.csv", "--dry-run"], "events.csv:3: timestamp:"),
    (
        "calibrate-snapshots",
        ["calibrate", "--snapshots", "snapshots.csv", "--out", "o.yaml"],
        "snapshots.csv:3: date:",
    ),
    (
        "calibrate-funnel",
        ["calibrate", "--funnel", "funnel.csv", "--transitions", "lead:mql", "--out", "o.yaml"],
        "funnel.csv:3: entries:",
    ),
    (
        "calibrate-stage-map",
        ["calibrate", "events.csv", "--stage-map", "stage_map.yaml", "--dry-run"],
        "stage_map.yaml:2:",
    ),
    (
        "calibrate-stage-map-comma",
        ["calibrate", "events.csv", "--stage-map", "stage_map_comma.yaml", "--dry-run"],
        "stage_map_comma.yaml:1: YAML syntax: unexpected ','",
    ),
    (
        "validate-device",
        ["validate", "/dev/zero"],
        "/dev/zero: cannot read file: not a regular file (a device)",
    ),
    ("run-fifo", ["run", "fifo.yaml"], "fifo.yaml: cannot read file: not a regular file (a FIFO)"),
    (
        "calibrate-fifo",
        ["calibrate", "fifo.csv", "--out", "o.yaml"],
        "lcsim: cannot open fifo.csv for reading: not a regular file (a FIFO)",
    ),
    (
        "sweep-points-device",
        ["sweep", "good.yaml", "--points", "/dev/zero"],
        "/dev/zero: cannot read file: not a regular file (a device)",
    ),
    ("report", ["report", "notastudy.h5", "--out", "r.html"], "lcsim report: notastudy.h5:"),
    (
        "optimise",
        [
            "optimise",
            "bad.yaml",
            "--lever",
            "arrivals.streams[0].rate_per_day=5:20",
            "--maximise",
            "conversions",
        ],
        "lcsim optimise: bad.yaml:2: horizon:",
    ),
]


@pytest.mark.parametrize(
    "arguments, expected", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_bad_input_exits_2_naming_file_line_and_field(tmp_path, lcsim_cli, arguments, expected):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    for fifo in ("fifo.yaml", "fifo.csv"):  # nothing ever writes to them: reading one would block
        os.mkfifo(tmp_path / fifo)
    res = lcsim_cli(*arguments, cwd=tmp_path, timeout=120)
    assert res.returncode == 2, f"exit {res.returncode}\n{res.stderr}"
    assert "internal error" not in res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert any(line.startswith(expected) for line in lines), (
        f"no line starting {expected!r} in:\n{res.stderr}"
    )
    for output in ("r.html", "e.csv", "o.yaml"):
        assert not (tmp_path / output).exists(), f"{output} was written despite the error"
