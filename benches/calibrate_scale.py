"""Calibration at CRM scale: wall time and peak memory of `lcsim calibrate` on a 3 M-row and a
30 M-row stage-change log (not a test: nothing is asserted).

    .venv/bin/python benches/calibrate_scale.py [--sizes 3m,30m] [--repeat 3] [--lcsim PATH ...]

The 3 M-row log is `lcsim synth benches/calibrate_scale/b2b_1500.yaml` (the bundled B2B baseline at
1,500 arrivals a day: 1.1 M accounts, 2,982,657 rows, 124 MB). The 30 M-row log is ten replications
of it one after the other (`--replication 0..9`, ids prefixed R<k>-: 11 M accounts, 29.8 M rows,
1.3 GB); one synth of 15,000 arrivals a day would take about 9 GB to write. Each is calibrated as
`lcsim synth` suggests (`--censor-at 2027-01-06T00:00:00Z --absorbing lost,churned --won customer
--segment-column segment`) under `/usr/bin/time -v`, --repeat times (30 M: --repeat-30m times), for
every --lcsim given (e.g. a build before and after a change, side by side). Prints the CPU model,
the date and each run's wall time, user + system CPU time and maximum resident set size, then the
medians. The logs go to a temporary folder under --tmp (default /tmp) and are deleted at the end.
Timings are wall clock on a shared machine: say how busy it was.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "benches" / "calibrate_scale" / "b2b_1500.yaml"
CALIBRATE = [
    "--censor-at",
    "2027-01-06T00:00:00Z",
    "--absorbing",
    "lost,churned",
    "--won",
    "customer",
    "--segment-column",
    "segment",
]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def synth(lcsim: str, out: Path, replication: int) -> None:
    subprocess.run(
        [lcsim, "synth", str(SCENARIO), "--events", str(out), "--replication", str(replication)],
        check=True,
        capture_output=True,
    )


def make_log(lcsim: str, size: str, directory: Path) -> Path:
    log = directory / f"events_{size}.csv"
    if size == "3m":
        synth(lcsim, log, 0)
        return log
    part = directory / "part.csv"
    with log.open("w") as out:
        for k in range(10):
            synth(lcsim, part, k)
            with part.open() as f:
                header = f.readline()
                if k == 0:
                    out.write(header)
                prefix = f"R{k}-"
                for line in f:
                    out.write(prefix + line)
            part.unlink()
    return log


def timed(lcsim: str, log: Path, out: Path) -> tuple[float, float, float]:
    """(wall s, user + system s, max RSS MB) of one calibration."""
    res = subprocess.run(
        ["/usr/bin/time", "-v", lcsim, "calibrate", str(log), *CALIBRATE, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        sys.exit(f"lcsim calibrate failed ({res.returncode}):\n{res.stderr[-3000:]}")
    t = res.stderr

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.*)", t).group(1).strip()

    parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(p * 60 ** (len(parts) - 1 - i) for i, p in enumerate(parts))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) / 1024
    return wall, cpu, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3m,30m", help="comma-separated: 3m, 30m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--repeat-30m", type=int, default=1)
    parser.add_argument(
        "--lcsim", action="append", help="lcsim programs to compare (default .venv/bin/lcsim)"
    )
    parser.add_argument("--tmp", default="/tmp")
    args = parser.parse_args()
    programs = args.lcsim or [shutil.which("lcsim", path=str(ROOT / ".venv" / "bin")) or "lcsim"]
    sizes = [s for s in args.sizes.split(",") if s]
    for s in sizes:
        if s not in ("3m", "30m"):
            parser.error(f"--sizes: unknown size {s!r} (expected 3m or 30m)")
    print(
        f"CPU: {cpu_model()} ({platform.machine()}), "
        f"date {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    )
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        d = Path(tmp)
        for size in sizes:
            log = make_log(programs[0], size, d)
            n_rows = sum(1 for _ in log.open()) - 1
            print(f"{size}: {log.stat().st_size / 1e6:.0f} MB, {n_rows:,} rows", flush=True)
            repeat = args.repeat if size == "3m" else args.repeat_30m
            for program in programs:
                runs = [timed(program, log, d / "calibrated.yaml") for _ in range(repeat)]
                for wall, cpu, rss in runs:
                    print(
                        f"  {program}: wall {wall:.1f} s, cpu {cpu:.1f} s, max RSS {rss:.0f} MB",
                        flush=True,
                    )
                rows.append(
                    (
                        size,
                        program,
                        statistics.median(r[0] for r in runs),
                        statistics.median(r[1] for r in runs),
                        statistics.median(r[2] for r in runs),
                        repeat,
                    )
                )
            log.unlink()
    print(
        "\n| log | lcsim | wall (s) | user+sys (s) | max RSS (MB) | runs |\n|---|---|---:|---:|---:|---:|"
    )
    for size, program, wall, cpu, rss, repeat in rows:
        print(f"| {size} | {program} | {wall:.1f} | {cpu:.1f} | {rss:.0f} | {repeat} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
