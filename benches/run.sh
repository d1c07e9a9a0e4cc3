#!/usr/bin/env bash
# The performance comparison of benches/README.md in one command: builds the benches and the CLI in
# Release (plain CMake + Ninja, in build-bench/), runs the Google benchmarks, the numpy and SimPy peers,
# the 10^7-customer memory run and the 1-vs-2-thread run, and prints the table of ratios with the
# medians behind them. Raw results (JSON) are kept in build-bench/bench-results/.
#
#   benches/run.sh            # the full run (about 5 minutes on the 2-core reference machine)
#   benches/run.sh --quick    # smoke run: 1 repetition, small peers, small memory run (not for figures)
#   benches/run.sh --table    # only print the table again from the last run's results
#
# Environment: BUILD (default build-bench), PYTHON (default .venv/bin/python, needs numpy and simpy),
# LCSIM_BENCH_CLOCK=cpu compares CPU time instead of wall time (for a busy machine; the thread
# scaling is always wall time). Run it on a quiet machine: the figures are medians, not miracles.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
PY=${PYTHON:-$ROOT/.venv/bin/python}
CLOCK=${LCSIM_BENCH_CLOCK:-wall}
OUT=$BUILD/bench-results

QUICK=0
TABLE_ONLY=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --table) TABLE_ONLY=1 ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
if ((QUICK)); then
  REPS=1 NP_REPEAT=1 SIMPY_N=20000 SIMPY_REPEAT=1 MEM_N=1000000 THREAD_RUNS=1 THREAD_REPS=4 BIG_RUNS=1 MIN_TIME=0.05
else
  REPS=5 NP_REPEAT=5 SIMPY_N=100000 SIMPY_REPEAT=3 MEM_N=10000000 THREAD_RUNS=9 THREAD_REPS=16 BIG_RUNS=7 MIN_TIME=0.5
fi

say() { printf '\n== %s\n' "$*" >&2; }

# timed_run SCENARIO THREADS REPLICATIONS: one `lcsim run --json` with its wall time, as one JSON line.
timed_run() {
  "$PY" - "$CLI" "$@" <<'EOF'
import json, subprocess, sys, time
cli, scenario, threads, reps = sys.argv[1:]
start = time.perf_counter()
out = subprocess.run([cli, "run", scenario, "--replications", reps, "--threads", threads, "--json"],
                     check=True, capture_output=True, text=True).stdout
wall = time.perf_counter() - start
j = json.loads(out)
print(json.dumps({"threads": int(threads), "replications": int(reps), "process_seconds": wall, "seconds": j["run"]["seconds"], "json": j}))
EOF
}

# Runs everything and leaves the raw results in $OUT.
measure() {
  [[ -x $PY ]] || { echo "run.sh: no Python at $PY (set PYTHON=...)" >&2; exit 2; }
  "$PY" -c 'import numpy, simpy' 2>/dev/null ||
    { echo "run.sh: $PY lacks numpy or simpy: $PY -m pip install numpy 'simpy>=4,<5'" >&2; exit 2; }
  [[ -x /usr/bin/time ]] || { echo "run.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

  say "build ($BUILD, Release)"
  # A new build directory gets no tests and no Python module (not needed here); an existing one
  # (BUILD=build, say) keeps its own options, so its tests stay configured; it must be Release.
  local fresh=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DLCSIM_BUILD_TESTS=OFF -DLCSIM_BUILD_PYTHON=OFF)
  # An existing build directory is configured again with the CMake that made it (tools/setup.sh
  # uses Debian's /usr/bin/cmake): another CMake first on PATH (pip's, pyenv's) regenerates the
  # build with other compile commands and recompiles the core and the benches (~250 s on 2 cores).
  local cmake_bin=cmake
  if [[ -f $BUILD/CMakeCache.txt ]]; then
    fresh=()
    cmake_bin="$(sed -n 's/^CMAKE_COMMAND:INTERNAL=//p' "$BUILD/CMakeCache.txt")"
    [[ -x $cmake_bin ]] || cmake_bin=cmake
    grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD/CMakeCache.txt" ||
      { echo "run.sh: $BUILD is not a Release build; benchmarks need one (BUILD=another directory)" >&2; exit 2; }
  fi
  "$cmake_bin" -S "$ROOT" -B "$BUILD" "${fresh[@]}" -DLCSIM_BUILD_BENCHES=ON >/dev/null
  "$cmake_bin" --build "$BUILD" --target lcsim_benches lcsim-cli
  mkdir -p "$OUT"
  rm -f "$OUT"/*.json "$OUT"/*.txt "$OUT"/*.yaml
  echo "$QUICK" >"$OUT/quick"; echo "$SIMPY_N" >"$OUT/simpy_n"; echo "$MEM_N" >"$OUT/mem_n"
  CLI=$BUILD/lcsim
  BENCH=$BUILD/benches/lcsim_benches
  # single thread everywhere unless said (numpy does not thread these operations; this makes sure)
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

  # Repetitions of the benchmarks in random order, so that a slow spell of the machine falls on
  # all of them, not on one (the ratios between them are what the table shows).
  say "Google benchmarks ($REPS repetitions, interleaved)"
  "$BENCH" --benchmark_repetitions="$REPS" --benchmark_min_time="$MIN_TIME" --benchmark_enable_random_interleaving=true \
    --benchmark_format=json --benchmark_out="$OUT/gbench.json" --benchmark_out_format=json >/dev/null
  echo "ok: $OUT/gbench.json" >&2

  # lcsim against numpy in rounds, each side right after the other: the ratio of each round is
  # measured within seconds, and the table takes the median of the rounds' ratios.
  say "lcsim and the numpy peer at 10^6 customers, $NP_REPEAT paired rounds (numpy: one untimed warm-up run a round)"
  for ((i = 0; i < NP_REPEAT; i++)); do
    "$BENCH" --benchmark_filter='^BM_Engine_Funnel10(Webinar)?$|^BM_Run_Funnel10(Webinar)?/' --benchmark_min_time="$MIN_TIME" \
      --benchmark_format=json --benchmark_out="$OUT/paired_lcsim_$i.json" --benchmark_out_format=json >/dev/null
    "$PY" "$ROOT/benches/peers/numpy_funnel.py" --n 1e6 --seed $((i + 1)) >"$OUT/paired_numpy_$i.json"
    "$PY" "$ROOT/benches/peers/numpy_funnel.py" --n 1e6 --seed $((i + 1)) --webinar >"$OUT/paired_numpy_webinar_$i.json"
  done

  say "SimPy peer, $SIMPY_N customers (median of $SIMPY_REPEAT; compared per transition)"
  "$PY" "$ROOT/benches/peers/simpy_funnel.py" --n "$SIMPY_N" --repeat "$SIMPY_REPEAT" >"$OUT/simpy.json"
  "$PY" "$ROOT/benches/peers/simpy_funnel.py" --n "$SIMPY_N" --repeat "$SIMPY_REPEAT" --webinar >"$OUT/simpy_webinar.json"

  say "memory: $MEM_N customers, 2 years, event log off (lcsim run, /usr/bin/time -v)"
  sed "s/count: 1000000}/count: $MEM_N}/" "$ROOT/benches/funnel10/funnel10.yaml" >"$OUT/funnel10_memory.yaml"
  grep -q "count: $MEM_N}" "$OUT/funnel10_memory.yaml" ||
    { echo "run.sh: could not set the count in $OUT/funnel10_memory.yaml" >&2; exit 1; }
  /usr/bin/time -v "$CLI" run "$OUT/funnel10_memory.yaml" --threads 1 --replications 1 --json \
    >"$OUT/memory_run.json" 2>"$OUT/memory_time.txt"

  say "one replication of $MEM_N funnel-10 customers on 1 and 2 threads ($BIG_RUNS runs each, alternated)"
  for ((i = 0; i < BIG_RUNS; i++)); do
    for t in 1 2; do
      timed_run "$OUT/funnel10_memory.yaml" "$t" 1 >"$OUT/big_${t}_$i.json"
    done
  done

  say "threads: $THREAD_REPS replications of funnel-10 on 1 and 2 threads ($THREAD_RUNS runs each)"
  for ((i = 0; i < THREAD_RUNS; i++)); do
    for t in 1 2; do
      timed_run "$ROOT/benches/funnel10/funnel10.yaml" "$t" "$THREAD_REPS" >"$OUT/threads_${t}_$i.json"
    done
  done
}

if ((TABLE_ONLY)); then
  [[ -f $OUT/gbench.json ]] || { echo "run.sh: no results in $OUT yet" >&2; exit 2; }
  QUICK=$(cat "$OUT/quick") SIMPY_N=$(cat "$OUT/simpy_n") MEM_N=$(cat "$OUT/mem_n")
else
  measure
fi

say "table"
"$PY" - "$OUT" "$CLOCK" "$QUICK" "$SIMPY_N" "$MEM_N" <<'EOF'
import glob, json, os, platform, re, statistics, sys, time
out, clock, quick, simpy_n, mem_n = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), int(sys.argv[5])
cpu = clock == "cpu"
load = lambda name: json.load(open(os.path.join(out, name)))

# ---- Google benchmark medians (seconds per iteration, transitions per second) ----------------------
g = load("gbench.json")
def seconds(b):  # one benchmark run's time per iteration on the chosen clock, in seconds
    return b["cpu_time" if cpu else "real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
def runs(name):
    return [b for b in g["benchmarks"] if b.get("run_name", b["name"]) == name and b.get("run_type", "iteration") == "iteration"]
def gmedian(name, field=None):
    rs = runs(name)
    if not rs:
        sys.exit(f"run.sh: benchmark {name} is missing from gbench.json")
    if field is None:
        return statistics.median(seconds(r) for r in rs)
    if field == "rate":  # items per second on the chosen clock
        return statistics.median(r["items_per_second"] * (r["cpu_time"] / r["real_time"] if not cpu else 1.0) for r in rs)
    return statistics.median(r[field] for r in rs)

eng, eng_w = gmedian("BM_Engine_Funnel10"), gmedian("BM_Engine_Funnel10Webinar")
eng_tr, eng_w_tr = gmedian("BM_Engine_Funnel10", "transitions"), gmedian("BM_Engine_Funnel10Webinar", "transitions")
eng_s, eng_w_s = gmedian("BM_Engine_Funnel10Scalar"), gmedian("BM_Engine_Funnel10WebinarScalar")
lanes = gmedian("BM_Engine_Funnel10", "vector_lanes") == 1
raw = gmedian("BM_RawLimit_Funnel10/customers:1000000")
raw_same = gmedian("BM_RawLimit_Funnel10/customers:1000000", "matches_engine")
b2b_rate = gmedian("BM_Engine_B2bReplication", "rate")
team_rate = gmedian("BM_Engine_SalesTeam/with_team", "rate")
no_team_rate = gmedian("BM_Engine_SalesTeam/without_team", "rate")

def peer(name):
    j = load(name)
    return (j["cpu_seconds"] if cpu else j["seconds"]), j["transitions"], j["n"]

# ---- lcsim against numpy, paired rounds -----------------------------------------------------------
def bench_seconds(j, name, wall=False):
    (b,) = [b for b in j["benchmarks"] if b["name"] == name]
    return b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]] if wall else seconds(b)
# per round: lcsim funnel-10, lcsim +webinar, numpy funnel-10, numpy +webinar, and lcsim's two on both
# cores (one replication split into parts over 2 threads) with the peers again, all four on the wall
# clock whatever the chosen clock (CPU time of threads says nothing of a split's speed) (seconds)
paired = []
for i in range(len(glob.glob(os.path.join(out, "paired_lcsim_*.json")))):
    j = load(f"paired_lcsim_{i}.json")
    paired.append((bench_seconds(j, "BM_Engine_Funnel10"), bench_seconds(j, "BM_Engine_Funnel10Webinar"),
                   peer(f"paired_numpy_{i}.json")[0], peer(f"paired_numpy_webinar_{i}.json")[0],
                   bench_seconds(j, "BM_Run_Funnel10/threads:2/real_time", wall=True),
                   bench_seconds(j, "BM_Run_Funnel10Webinar/threads:2/real_time", wall=True),
                   load(f"paired_numpy_{i}.json")["seconds"], load(f"paired_numpy_webinar_{i}.json")["seconds"]))
if not paired:
    sys.exit("run.sh: no paired rounds of lcsim and numpy in " + out)
med = lambda k: statistics.median(p[k] for p in paired)
p_eng, p_eng_w, np_s, np_w_s = med(0), med(1), med(2), med(3)
ratios = lambda a, b: [p[a] / p[b] for p in paired]  # each round's, of columns a over b
listed = lambda xs: ", ".join(f"{x:.2f}x" for x in xs)
_, np_tr, _ = peer("paired_numpy_0.json")
_, np_w_tr, _ = peer("paired_numpy_webinar_0.json")
sp_s, sp_tr, sp_n = peer("simpy.json")
sp_w_s, sp_w_tr, _ = peer("simpy_webinar.json")

# ---- memory -------------------------------------------------------------------------------------
tv = open(os.path.join(out, "memory_time.txt")).read()
rss_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv).group(1)) / 1024.0
mem_run = load("memory_run.json")

# ---- threads ------------------------------------------------------------------------------------
def strip(j):  # everything but the clock: created, seconds, rates
    j = json.loads(json.dumps(j))
    for k in ("created", "seconds", "transitions_per_second"):
        j["run"].pop(k, None)
    return j
# run i on 1 thread, then run i on 2 threads: pairs, as the rounds above
th = {t: [load(f"threads_{t}_{i}.json") for i in range(len(glob.glob(os.path.join(out, "threads_1_*.json"))))]
      for t in (1, 2)}
thread_reps = th[1][0]["replications"]
t1 = statistics.median(x["seconds"] for x in th[1])
t2 = statistics.median(x["seconds"] for x in th[2])
thread_ratios = [a["seconds"] / b["seconds"] for a, b in zip(th[1], th[2])]
ref = strip(th[1][0]["json"])
identical = all(strip(x["json"]) == ref for x in th[1] + th[2])

# ---- one big replication on 1 and 2 threads ------------------------------------------------------
big = {t: [load(f"big_{t}_{i}.json") for i in range(len(glob.glob(os.path.join(out, "big_1_*.json"))))] for t in (1, 2)}
b1 = statistics.median(x["seconds"] for x in big[1])
b2 = statistics.median(x["seconds"] for x in big[2])
big_ratios = [a["seconds"] / b["seconds"] for a, b in zip(big[1], big[2])]
big_ref = strip(big[1][0]["json"])
big_identical = all(strip(x["json"]) == big_ref for x in big[1] + big[2])

# ---- the table ----------------------------------------------------------------------------------
def count(n):
    e = len(str(n)) - 1
    return f"10^{e}" if n == 10 ** e else f"{n:,}"
def ms(s): return f"{s * 1e3:,.0f} ms" if s < 10 else f"{s:,.1f} s"
def rate(r): return f"{r / 1e6:,.2f} M tr/s" if r >= 1e5 else f"{r / 1e3:,.1f} k tr/s"
def ok(b): return "pass" if b else "**FAIL**"
rows = []
def row(workload, ours, theirs, ratio, target, passed):
    rows.append((workload, ours, theirs, ratio, target, ok(passed)))

# The numpy targets of issue 35: 5x with AVX2 (or narrower vectors), 6x where the lanes run AVX-512.
np_target = 6 if g.get("context", {}).get("lcsim_simd_target") in ("AVX3", "AVX3_DL", "AVX3_ZEN4", "AVX3_SPR") else 5
r = statistics.median(ratios(2, 0))
row("funnel-10, 10^6 customers: lcsim vs numpy peer", ms(p_eng), ms(np_s), f"{r:.2f}x", f">= {np_target}x", r >= np_target)
r = statistics.median(ratios(3, 1))
row("+webinar, 10^6: lcsim vs numpy peer", ms(p_eng_w), ms(np_w_s), f"{r:.2f}x", f">= {np_target}x", r >= np_target)
r = statistics.median(ratios(6, 4))
row("funnel-10, 10^6: lcsim on 2 threads (the replication in parts) vs numpy peer, wall clock", ms(med(4)), ms(med(6)), f"{r:.2f}x",
    f">= {np_target}x", r >= np_target)
r = statistics.median(ratios(7, 5))
row("+webinar, 10^6: lcsim on 2 threads (the replication in parts) vs numpy peer, wall clock", ms(med(5)), ms(med(7)), f"{r:.2f}x",
    f">= {np_target}x", r >= np_target)
ours_rate, sp_rate = eng_tr / eng, sp_tr / sp_s
r = ours_rate / sp_rate
row(f"funnel-10: lcsim (10^6) vs SimPy peer (at {count(sp_n)}, per transition)", rate(ours_rate), rate(sp_rate), f"{r:,.0f}x", ">= 1,000x", r >= 1000)
ours_w_rate, sp_w_rate = eng_w_tr / eng_w, sp_w_tr / sp_w_s
r = ours_w_rate / sp_w_rate
row(f"+webinar: lcsim (10^6) vs SimPy peer (at {count(sp_n)}, per transition)", rate(ours_w_rate), rate(sp_w_rate), f"{r:,.0f}x", ">= 1,000x", r >= 1000)
r = eng / raw
row("engine overhead: lcsim vs raw limit loop, funnel-10 10^6" + ("" if raw_same == 1 else " (raw loop != engine result!)"),
    ms(eng), ms(raw), f"{r:.2f}x", "<= 2x", r <= 2)
r = eng_s / raw
row("engine overhead, scalar path (vector lanes off): lcsim vs raw limit loop", ms(eng_s), ms(raw), f"{r:.2f}x", "<= 1.3x", r <= 1.3)
r = statistics.median(ratios(1, 0))
row("webinar cost: funnel-10 +webinar vs funnel-10 (lcsim)", ms(p_eng_w), ms(p_eng), f"{r:.2f}x", "<= 1.5x", r <= 1.5)
row(f"memory: {count(mem_n)} customers, 2 years, event log off (peak RSS, lcsim run)", f"{rss_mb:,.0f} MB", "-", "-", "<= 300 MB", rss_mb <= 300)
r = statistics.median(thread_ratios)
row("threads: " + str(thread_reps) + " replications, 1 -> 2 threads (lcsim run; results identical: " + ("yes" if identical else "NO") + ")",
    ms(t2) + " (2 thr)", ms(t1) + " (1 thr)", f"{r:.2f}x", ">= 1.8x, identical", r >= 1.8 and identical)
r = statistics.median(big_ratios)
row(f"one replication of {count(mem_n)} funnel-10 customers, 1 -> 2 threads (lcsim run; results identical: "
    + ("yes" if big_identical else "NO") + ")", ms(b2) + " (2 thr)", ms(b1) + " (1 thr)", f"{r:.2f}x",
    ">= 1.8x, identical", r >= 1.8 and big_identical)
row("bundled B2B scenario (baseline, 1 replication, 1 thread)", rate(b2b_rate), "-", "-", ">= 10 M tr/s", b2b_rate >= 10e6)
r = no_team_rate / team_rate
row("sales team: sales_team baseline vs the same without its team (throughput)", rate(team_rate), rate(no_team_rate),
    f"{r:.2f}x", "<= 2x", r <= 2)

ctx = g.get("context", {})
def cpu_model():  # the CPU's name and x86 family/model (or Arm implementer/part), and its SIMD flags
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return platform.processor() or "?", ""
    name = info.get("model name") or info.get("Model") or info.get("Hardware") or platform.processor() or "?"
    if "cpu family" in info:
        name += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    elif "CPU part" in info:
        name += f" (implementer {info.get('CPU implementer', '?')}, part {info['CPU part']})"
    flags = set((info.get("flags") or info.get("Features") or "").split())
    simd = [f for f in ("avx512f", "avx2", "fma", "sse4_2", "asimd", "sve") if f in flags]
    return name, " ".join(simd)
model, simd_flags = cpu_model()
print()
print(f"CPU: {model}; SIMD flags: {simd_flags or '-'}; SIMD target the vector lanes ran: "
      f"{ctx.get('lcsim_simd_target', '?')} ({ctx.get('lcsim_simd_lanes', '?')} lanes)")
print(f"lcsim performance comparison, measured {ctx.get('date', '?')} on {ctx.get('host_name', platform.node())}: "
      f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, {platform.platform()}, "
      f"load average at start {', '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}; clock: {'CPU' if cpu else 'wall'} time"
      + ("; QUICK SMOKE RUN, not figures" if quick else ""))
print()
print("| workload | lcsim (median) | peer / reference (median) | ratio | target | result |")
print("|---|---|---|---|---|---|")
for rw in rows:
    print("| " + " | ".join(rw) + " |")
print()
print(f"Single thread unless said; medians of {len(runs('BM_Engine_Funnel10'))} Google-benchmark repetitions "
      f"(simulate() only, interleaved), of the peers' repeats (simulation only, perf_counter) and of {len(th[1])} thread runs "
      f"(the CLI's simulation seconds). The numpy rows and the webinar cost: {len(paired)} rounds of lcsim's two benchmarks "
      "and then the peer (after an untimed warm-up run in its process), each side's median over the rounds, the ratio "
      f"the median of the rounds' ratios (numpy rounds: {listed(ratios(2, 0))}; +webinar {listed(ratios(3, 1))}; "
      f"on 2 threads (wall clock) {listed(ratios(6, 4))} and {listed(ratios(7, 5))}; "
      f"webinar cost {listed(ratios(1, 0))}). Threads: the median of the {len(thread_ratios)} pairs' ratios (a run on "
      f"1 thread, then one on 2: {listed(thread_ratios)}; the ratio of the medians {t1 / t2:.2f}x); one big replication "
      f"(its customers split into parts over the threads): {listed(big_ratios)}, the ratio of the medians {b1 / b2:.2f}x. "
      f"The SimPy peer runs at {sp_n:,} customers because 10^6 takes too long; its "
      "rate per transition is compared with lcsim's at 10^6 customers. Transitions at 10^6: lcsim "
      f"{eng_tr:,.0f} / {eng_w_tr:,.0f} (+webinar), numpy {np_tr:,} / {np_w_tr:,}. Raw limit reproduces the engine's "
      f"result: {'yes' if raw_same == 1 else 'NO'}. Vector lanes used: {'yes, ' + ctx.get('lcsim_simd_target', '?') if lanes else 'no'}; "
      f"the scalar path (lanes off, the same results): funnel-10 {ms(eng_s)}, +webinar {ms(eng_w_s)}. "
      f"Memory run: {mem_run['run']['seconds']:.1f} s simulating. "
      f"Raw results: {out}/.")
EOF
