"""Shared fixtures: the installed `lcsim` command and the repository paths."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden summaries tests/scenarios/**/*.expected.json (test_golden.py) before "
        "comparing; only for a deliberate change of what is drawn (docs/contributing.md)",
    )


def cli_path() -> str:
    """The `lcsim` program installed next to this Python (the project's venv), unless overridden."""
    override = os.environ.get("LCSIM_CLI")
    if override:
        return override
    candidate = Path(sys.executable).parent / "lcsim"
    if not candidate.exists():
        pytest.exit(f"lcsim command not found at {candidate}; run tools/setup.sh", returncode=2)
    return str(candidate)


@pytest.fixture(scope="session")
def lcsim_cli():
    """Runs `lcsim ARGS...` and returns the CompletedProcess (text mode, never raises on exit code)."""
    exe = cli_path()

    def run(*args, timeout=300, **kwargs):
        return subprocess.run(
            [exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kwargs
        )

    run.path = exe
    return run


def all_scenarios():
    return sorted(SCENARIOS.rglob("*.yaml"))
