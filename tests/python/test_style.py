"""The Python style is enforced, not only written down: ruff's lint rules and its formatter
(pyproject.toml, [tool.ruff]) over python/, tests/, tools/ and benches/."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATHS = ["python", "tests", "tools", "benches"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    try:
        import ruff  # noqa: F401 - the test extra installs it
    except ImportError:
        pytest.fail("ruff is not installed: pip install '.[test]' (or 'ruff>=0.6,<1')")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *PATHS],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_ruff_check_finds_nothing():
    done = _ruff("check", "--no-cache", "--output-format", "full")
    assert done.returncode == 0, (
        f"ruff check (fix with: ruff check --fix {' '.join(PATHS)}):\n{done.stdout}{done.stderr}"
    )


def test_ruff_format_leaves_every_file_as_it_is():
    done = _ruff("format", "--check", "--no-cache")
    assert done.returncode == 0, (
        f"ruff format --check (fix with: ruff format {' '.join(PATHS)}):\n{done.stdout}{done.stderr}"
    )
