#!/usr/bin/env bash
# Runs every test: the set-up (if needed), the C++ layout check (tools/format.sh --check; setup.sh test
# installs clang-format-14), the C++ suite with ctest, then the Python suite with pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/setup.sh test
echo "== C++ layout (tools/format.sh --check) =="
bash tools/format.sh --check
echo "== C++ tests (ctest) =="
ctest --test-dir build --output-on-failure -j"$(nproc)"
echo "== Python tests (pytest) =="
.venv/bin/python -m pytest -q
