#!/usr/bin/env python3
"""Kills writers of a study at random moments and checks that no run written before is lost.

Each round starts a writer -- a Python process appending runs with ``Run.save`` in a loop, or an
``lcsim run --out`` process appending one run (the two alternate) -- lets it run for a random time
(uniform, up to about two appends after its first one began, so many kills land inside a write),
kills it with SIGKILL and then checks:

* the study opens with ``lcsim.open`` (once it exists) and lists every run any writer reported as
  saved, and any other run it lists was at least begun by a writer (nothing else appears);
* every run seen before reads back with the same bytes (a SHA-256 of its arrays, its summary and
  its scenario text, taken when it was first seen);
* the next writer appends without trouble (a kill leaves no lock or file that stops it).

    python tools/kill_writer.py [--kills 60] [--seed 1] [--dir DIR] [--lcsim PATH] [--keep]

Prints one line per kill and a summary; exits 1 when any check fails. The pytest
tests/python/test_hardening.py runs a few rounds of the same code (``run_rounds``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SCENARIO = """\
name: kill_writer
horizon: 120
report_every: 7
seed: 5
replications: 3
won: customer
stages:
  lead: {dwell: {dist: exponential, mean: 6}, next: {mql: 0.5, lost: 0.5}}
  mql: {dwell: {dist: gamma, shape: 2, mean: 9}, next: {customer: 0.4, lost: 0.6}}
  customer: {absorbing: true}
  lost: {absorbing: true}
arrivals:
  initial: [{stage: lead, count: 300}]
  streams: [{stage: lead, rate_per_day: 20}]
"""

# A Python writer: appends runs p<round>_<k>, k = 0, 1, ..., printing "begin NAME" before each save
# and "saved NAME SECONDS" after it (both flushed), until it is killed.
PY_WRITER = """\
import sys, time
import lcsim
scenario, study, prefix = sys.argv[1:4]
run = lcsim.simulate(scenario, events=True, threads=1)
k = 0
while True:
    name = f"{prefix}_{k}"
    print("begin", name, flush=True)
    t0 = time.monotonic()
    run.save(study, name)
    print("saved", name, f"{time.monotonic() - t0:.4f}", flush=True)
    k += 1
"""


@dataclass
class Result:
    kills: int = 0
    mid_write: int = (
        0  # Python writers killed after a "begin" without its "saved", CLI writers killed
    )
    runs_saved: int = 0  # runs reported saved (all must be in the study)
    runs_checked: int = 0  # run reads compared against their first digest
    leftover_temp_files: int = 0  # temporary files of killed writers beside the study at the end
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"kill_writer: {self.kills} kills ({self.mid_write} before the append they were in "
            f"finished), {self.runs_saved} runs saved, "
            f"{self.runs_checked} run reads identical to their first, {self.leftover_temp_files} temporary files "
            f"of killed writers beside the study at the end, {len(self.failures)} failures, {self.seconds:.1f} s"
        )


def digest(run) -> str:
    h = hashlib.sha256()
    for key in sorted(run.arrays):
        h.update(key.encode())
        h.update(run.arrays[key].tobytes())
    h.update(run.summary().to_csv().encode())
    h.update(
        run.scenario.text.encode() if hasattr(run.scenario, "text") else repr(run.scenario).encode()
    )
    return h.hexdigest()


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def run_rounds(
    kills: int, seed: int, workdir: Path, lcsim_cli: str | None = None, log=print
) -> Result:
    """`kills` rounds of start-writer, wait, SIGKILL, check (see the module docstring)."""
    import lcsim

    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "scenario.yaml"
    scenario.write_text(SCENARIO)
    study = workdir / "study.h5"
    lcsim_cli = lcsim_cli or shutil.which("lcsim") or str(Path(sys.executable).with_name("lcsim"))
    result = Result()
    digests: dict[str, str] = {}
    saved: set[str] = set()
    begun: set[str] = set()
    t_start = time.monotonic()
    append_s = 0.2  # one append's time: the median the Python writers report
    times: list[float] = []
    for round_ in range(kills):
        out = workdir / f"writer{round_}.out"
        python_writer = round_ % 2 == 0 or not os.path.exists(lcsim_cli)
        if python_writer:
            cmd = [sys.executable, "-c", PY_WRITER, str(scenario), str(study), f"p{round_}"]
        else:
            name = f"c{round_}"
            cmd = [
                lcsim_cli,
                "run",
                str(scenario),
                "--out",
                str(study),
                "--name",
                name,
                "--events",
                "--threads",
                "1",
            ]
        with out.open("w") as stdout:
            t0 = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT)
            if python_writer:
                # wait for its first append to begin (imports and simulation first), then a random
                # time up to about two appends
                deadline = t0 + 60
                while (
                    time.monotonic() < deadline
                    and proc.poll() is None
                    and "begin" not in out.read_text()
                ):
                    time.sleep(0.01)
                delay = rng.uniform(0.0, 2.5 * append_s)
            else:
                delay = rng.uniform(0.0, max(0.05, 1.5 * append_s + 0.05))
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            rc = proc.wait()
        lines = _lines(out)
        if not python_writer:
            begun.add(name)
            if rc == 0:
                saved.add(name)
        # inside a write: a Python writer killed after "begin" and before "saved"; a CLI writer
        # killed at all (its one append is somewhere in it: simulation, write or rename)
        inside = bool(lines and lines[-1].startswith("begin ")) if python_writer else rc != 0
        for line in lines if python_writer else []:  # a CLI writer's output is not this protocol
            words = line.split()
            if len(words) >= 2 and words[0] == "begin":
                begun.add(words[1])
            elif len(words) >= 2 and words[0] == "saved":
                saved.add(words[1])
                if len(words) == 3:
                    times.append(float(words[2]))
        if times:
            append_s = sorted(times)[len(times) // 2]
        result.mid_write += bool(inside)
        if rc == 0 and python_writer:
            result.failures.append(
                f"round {round_}: the Python writer ended by itself: {lines[-5:]}"
            )
        if rc not in (0, -signal.SIGKILL):
            result.failures.append(f"round {round_}: writer exited {rc}: {out.read_text()[-800:]}")
        result.kills += 1
        # ---- checks
        if study.exists():
            try:
                st = lcsim.open(study)
                names = set(st.runs())
            except Exception as e:  # noqa: BLE001 - any failure to open is a finding
                result.failures.append(
                    f"round {round_}: lcsim.open failed: {type(e).__name__}: {e}"
                )
                continue
            missing = saved - names
            if missing:
                result.failures.append(
                    f"round {round_}: runs reported saved are missing: {sorted(missing)}"
                )
            strangers = names - begun
            if strangers:
                result.failures.append(f"round {round_}: runs nobody began: {sorted(strangers)}")
            for name_ in sorted(names):
                try:
                    d = digest(st[name_])
                except Exception as e:  # noqa: BLE001
                    result.failures.append(
                        f"round {round_}: run {name_} does not read: {type(e).__name__}: {e}"
                    )
                    continue
                result.runs_checked += 1
                if digests.setdefault(name_, d) != d:
                    result.failures.append(
                        f"round {round_}: run {name_} changed after it was written"
                    )
        elif saved:
            result.failures.append(
                f"round {round_}: the study is gone but {len(saved)} runs were saved"
            )
        log(
            f"round {round_:3d}: {'python' if python_writer else 'cli   '} writer killed after "
            f"{time.monotonic() - t0:5.2f} s (rc {rc}), {len(digests)} runs in the study, {len(saved)} saved, "
            f"{'inside an append' if inside else 'between appends'}"
        )
    # one more append after all the kills: it must work and keep everything
    final = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, lcsim; lcsim.simulate(sys.argv[1], threads=1).save(sys.argv[2], 'final')",
            str(scenario),
            str(study),
        ],
        capture_output=True,
        text=True,
    )
    if final.returncode != 0:
        result.failures.append(f"the append after the kills failed: {final.stderr[-800:]}")
    else:
        st = lcsim.open(study)
        names = set(st.runs())
        if not saved <= names or "final" not in names:
            result.failures.append(f"after the final append, missing: {sorted(saved - names)}")
        for name_, d in digests.items():
            if name_ in names and digest(st[name_]) != d:
                result.failures.append(f"after the final append, run {name_} changed")
    # a killed writer's temporary file (beside the study) did not stop the next writer (checked
    # above); count those still there
    result.leftover_temp_files = sum(
        1 for p in workdir.iterdir() if p.name.startswith("study.h5.tmp")
    )
    result.runs_saved = len(saved)
    result.seconds = time.monotonic() - t_start
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=None, help="work directory (default: a new temporary one)"
    )
    parser.add_argument(
        "--lcsim", default=None, help="the lcsim command (default: on PATH or beside python)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="lcsim_kill_writer_"))
    try:
        result = run_rounds(args.kills, args.seed, workdir, args.lcsim)
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    for failure in result.failures:
        print("FAILED:", failure)
    print(result.line())
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
