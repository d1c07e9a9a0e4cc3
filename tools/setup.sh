#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine (run as root), split by what a command needs:
#
#   bash tools/setup.sh run    the main job: the Debian build dependencies, the virtual environment
#                              .venv, and lcsim pip-installed there with its runtime dependencies and
#                              the `report` extra (Jinja2, Plotly: tools/study.sh writes the HTML
#                              report) (one compile of the C++ core, the `lcsim` command and the
#                              Python module)
#   bash tools/setup.sh test   all of `run`, plus the test extras (pytest, h5py, Dask, the optimiser's
#                              Optuna, the app's Dash, ruff, ...), the
#                              Debian packages of GoogleTest and Google Benchmark, and the C++ tests
#                              and benches, compiled in the same build directory build/ as the
#                              package (so nothing is compiled twice)
#
# Each step prints one line: what it does and how long it took; its output goes to a log under
# build/setup-logs/, named when the step fails. A step whose inputs did not change is skipped, so a
# second call takes seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

mode="${1:-test}"
case "$mode" in
  run | test | --print-packages) ;;
  *) echo "usage: bash tools/setup.sh [run|test]" >&2; exit 2 ;;
esac

logs="$root/build/setup-logs"

# step LABEL LOG COMMAND...: runs COMMAND with its output in build/setup-logs/LOG.log and prints
# one line with LABEL and the seconds it took, or names the step and its log when it fails.
step() {
  local label="$1" log="$logs/$2.log"
  shift 2
  local t0 ms
  mkdir -p "$logs"
  t0="$(date +%s%N)"
  printf 'setup: %-66s' "$label" >&2
  if "$@" >"$log" 2>&1; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    printf ' %4d.%d s\n' $((ms / 1000)) $((ms % 1000 / 100)) >&2
  else
    ms=$((($(date +%s%N) - t0) / 1000000))
    printf ' FAILED after %d.%d s\n' $((ms / 1000)) $((ms % 1000 / 100)) >&2
    echo "setup: step '$label' failed; the last lines of its log $log:" >&2
    tail -n 25 "$log" | sed 's/^/    /' >&2
    exit 1
  fi
}
skip() { printf 'setup: %-66s %8s\n' "$1" "done" >&2; }

# ---- Debian packages -----------------------------------------------------------------------------
# What `pip install .` needs to compile lcsim (the package's CMake project).
run_packages=(
  build-essential cmake ninja-build ccache pkg-config
  python3 python3-venv python3-dev
  libeigen3-dev libboost-dev libhdf5-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libnlopt-cxx-dev libhwy-dev
)
# The C++ tests and benches (Random123: the benches' side-by-side of the streams lcsim used before),
# the real browser the report and app tests drive (Selenium uses Debian's chromedriver), and
# clang-format 14, whose layout tools/test.sh checks first (tools/format.sh --check).
test_packages=(libgtest-dev libgmock-dev libbenchmark-dev librandom123-dev chromium chromium-driver
  fonts-liberation clang-format-14)
if [ "$mode" = --print-packages ]; then  # for tools/fresh_times.sh
  echo "${run_packages[*]} ${test_packages[*]}"
  exit 0
fi
packages=("${run_packages[@]}")
[ "$mode" = test ] && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@"
}
if ((${#missing[@]})); then
  step "Debian packages (${#missing[@]}: ${missing[*]:0:3} ...)" apt apt_install "${missing[@]}"
else
  skip "Debian packages ($mode)"
fi

# ---- virtual environment -------------------------------------------------------------------------
python="${LCSIM_PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  step "virtual environment .venv ($("$python" --version 2>&1))" venv "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check)

# The build back end and pybind11 live in .venv (no isolated build environment): the CMake cache in
# build/ then keeps the same paths from one install to the next, and a rebuild after a change
# recompiles only what changed. Bounds as in pyproject.toml's [build-system].
if ! .venv/bin/python -c 'import scikit_build_core, pybind11' 2>/dev/null; then
  step "build back end (scikit-build-core, pybind11)" pip-build-backend \
    "${pip[@]}" install "scikit-build-core>=0.10,<2" "pybind11>=2.12,<4"
fi

# ---- h5py against the system HDF5 (test) ----------------------------------------------------------
# One HDF5 library per process: h5py wheels carry their own HDF5, and two HDF5 libraries in one
# process do not know of each other's open files. The tests read studies with h5py in the same
# process as lcsim, so h5py is compiled against the system HDF5 that lcsim's core links (pip keeps
# the built wheel in its cache: a second .venv reuses it instead of compiling again).
if [ "$mode" = test ]; then
  hdf5_dir="/usr/lib/$(gcc -print-multiarch)/hdf5/serial"
  hdf5_version="$(pkg-config --modversion hdf5)"
  if ! .venv/bin/python -c "import sys, h5py; sys.exit(h5py.version.hdf5_version != '$hdf5_version')" 2>/dev/null; then
    # The compile is most of the wait: its C files are compiled one per core (setuptools reads
    # [build_ext] parallel from DIST_EXTRA_CONFIG) and at -O1 without debug information, which
    # halves its CPU time (323 s -> 148 s measured on this 2-core kind, 2026-12-08); h5py only
    # reads and checks studies in the tests, where its speed does not matter.
    mkdir -p build
    printf '[build_ext]\nparallel = %s\n' "$(nproc)" > build/h5py-build.cfg
    step "h5py compiled against the system HDF5 $hdf5_version" h5py env HDF5_DIR="$hdf5_dir" \
      DIST_EXTRA_CONFIG="$root/build/h5py-build.cfg" CFLAGS="-O1 -g0" \
      "${pip[@]}" install --no-binary h5py --force-reinstall "h5py>=3.9,<4"
  else
    skip "h5py on the system HDF5 $hdf5_version"
  fi
fi

# ---- lcsim itself ---------------------------------------------------------------------------------
# Fingerprint of everything that goes into the build: reinstall only when it changed.
fingerprint="$(find CMakeLists.txt pyproject.toml include src python tests/CMakeLists.txt tests/cpp tests/fuzz benches \
  -type f \( -name '*.txt' -o -name '*.toml' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.in' -o -name '*.py' -o -name '*.pyi' \) \
  -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
stamp=.venv/.lcsim-installed
installed="$(cat "$stamp" 2>/dev/null || true)"
# A test install covers a run install of the same sources.
if [ "$installed" = "$fingerprint test" ] || [ "$installed" = "$fingerprint $mode" ]; then
  skip "lcsim ($mode) up to date"
else
  # run: the report extra, for the main job's HTML report; test: every extra's packages (pyproject.toml)
  tests=OFF extras="[report]"
  if [ "$mode" = test ]; then tests=ON extras="[test]"; fi
  # One CMake build directory, build/, for the wheel and for the C++ tests and benches: a test
  # install only adds the tests' and benches' targets to what a run install compiled.
  # Parallel compiles: one per core, fewer when memory is short (the heaviest unit,
  # src/calibrate/funnel_fit.cpp, peaks at 1.34 GB at -O3 by /usr/bin/time -v; 1.5 GB a job keeps a margin).
  if [ -z "${CMAKE_BUILD_PARALLEL_LEVEL:-}" ]; then
    jobs="$(nproc)"
    mem_jobs=$(($(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1572864))
    ((mem_jobs < jobs)) && jobs=$mem_jobs
    ((jobs < 1)) && jobs=1
    export CMAKE_BUILD_PARALLEL_LEVEL=$jobs
  fi
  # Debian's CMake, named: scikit-build-core otherwise asks every cmake on PATH for its version with
  # a short timeout, which a busy machine can miss ("Could not find CMake"), and a cmake found first
  # on PATH (pip's, pyenv's) would configure build/ differently from the plain CMake build.
  [ -z "${CMAKE_EXECUTABLE:-}" ] && [ -x /usr/bin/cmake ] && export CMAKE_EXECUTABLE=/usr/bin/cmake
  what="compiling core, command, module"
  [ "$mode" = test ] && what="compiling lcsim, C++ tests, benches"
  what="$what ($CMAKE_BUILD_PARALLEL_LEVEL jobs)"
  step "$what, pip install .$extras" pip-install \
    "${pip[@]}" install -v --no-build-isolation -Cbuild-dir=build \
    -Ccmake.define.LCSIM_BUILD_TESTS=$tests -Ccmake.define.LCSIM_BUILD_BENCHES=$tests ".$extras"
  echo "$fingerprint $mode" > "$stamp"
fi

if [ "$mode" = test ] && ! .venv/bin/python -c 'import sys, h5py, lcsim; sys.exit(h5py.version.hdf5_version != lcsim.hdf5_version())' 2>/dev/null; then
  echo "setup: h5py and lcsim in .venv do not import on one HDF5 library; see $logs/h5py.log and $logs/pip-install.log" >&2
  exit 1
fi
