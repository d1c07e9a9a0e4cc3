#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine (run as root): installs the Debian packages lcsim needs,
# makes the virtual environment .venv with lcsim and its test extras pip-installed (this builds the
# C++ core and the Python module, and installs the `lcsim` command into .venv/bin), and builds the
# C++ tests and benches in build/. Quick when nothing changed: each step is skipped when its inputs did not change.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

debian_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  python3 python3-venv python3-dev
  libeigen3-dev libboost-dev libhdf5-dev libyaml-cpp-dev librandom123-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libnlopt-cxx-dev
)
missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python="${LCSIM_PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi

# Fingerprint of everything that goes into the build: reinstall only when it changed.
fingerprint="$(cd "$root" && find CMakeLists.txt pyproject.toml include src python tests/CMakeLists.txt benches \
  -type f \( -name '*.txt' -o -name '*.toml' -o -name '*.hpp' -o -name '*.cpp' -o -name '*.in' -o -name '*.py' -o -name '*.pyi' \) \
  -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
stamp=.venv/.lcsim-installed
# One HDF5 library per process: h5py is built from source against the system HDF5 that lcsim's core
# links (h5py wheels bundle a second HDF5). See README, "HDF5 and h5py".
export HDF5_DIR="/usr/lib/$(gcc -print-multiarch)/hdf5/serial"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ]; then
  echo "setup: pip-installing lcsim[test,notebook] into .venv (builds the C++ core; h5py from source)"
  # A persistent build directory (build-py/, like build/ ignored by git): a rebuild after a change
  # recompiles only what changed.
  PIP_NO_BINARY=h5py .venv/bin/python -m pip install -q -Cbuild-dir=build-py ".[test,notebook]"
  echo "$fingerprint" > "$stamp"
fi
if ! .venv/bin/python -c 'import sys, h5py, lcsim; sys.exit(h5py.version.hdf5_version != lcsim.hdf5_version())' 2>/dev/null; then
  echo "setup: rebuilding h5py against the system HDF5"
  .venv/bin/python -m pip install -q --no-binary h5py --force-reinstall --no-deps "h5py>=3.9,<4"
fi

echo "setup: building C++ tests and benches in build/"
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLCSIM_BUILD_TESTS=ON -DLCSIM_BUILD_BENCHES=ON >/dev/null
fi
cmake --build build -j"$(nproc)" | sed -n '/^\[[0-9]*\/[0-9]*\]/!p'
