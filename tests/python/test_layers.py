"""The Python package's layers: every module imports on its own, and no module imports another that
imports it back (tools/import_cycles.py, which reads the sources with ast)."""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lcsim

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(lcsim.__file__).resolve().parent
TOOL = ROOT / "tools" / "import_cycles.py"


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.glob("*.py")):
        names.append("lcsim" if path.stem == "__init__" else f"lcsim.{path.stem}")
    return names


def _tool():
    spec = importlib.util.spec_from_file_location("import_cycles", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_studies_and_the_shared_checks_have_their_own_modules():
    assert {
        "lcsim.run",
        "lcsim.study",
        "lcsim.simulation",
        "lcsim._validators",
        "lcsim._paths",
    } <= set(_modules())
    from lcsim import results, run, simulation, study

    # the names lcsim.results held stay importable from it
    assert (results.Run, results.Study, results.open, results.simulate) == (
        run.Run,
        study.Study,
        study.open,
        simulation.simulate,
    )
    assert (lcsim.Run, lcsim.Study, lcsim.open, lcsim.simulate) == (
        run.Run,
        study.Study,
        study.open,
        simulation.simulate,
    )


@pytest.mark.parametrize("module", _modules())
def test_each_module_imports_alone_in_a_fresh_interpreter(module):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]),
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import importlib; importlib.import_module({module!r})"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"import {module} failed in a fresh interpreter:\n{done.stderr}"


def test_lcsim_has_no_import_cycle():
    done = subprocess.run(
        [sys.executable, str(TOOL), str(PACKAGE)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no cycle" in done.stdout


def _fake_package(tmp_path: Path, files: dict) -> Path:
    package = tmp_path / "fake"
    package.mkdir()
    for name, text in files.items():
        (package / name).write_text(textwrap.dedent(text))
    return package


def test_the_check_finds_a_cycle_through_a_function_level_import(tmp_path):
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": "from .a import f\n",
            "a.py": "from . import b\n\ndef f():\n    return b.g()\n",
            "b.py": "def g():\n    from .c import h\n    return h()\n",
            "c.py": "import fake.a\n\ndef h():\n    return 1\n",
            "d.py": "from .b import g\n",
        },
    )
    done = subprocess.run(
        [sys.executable, str(TOOL), str(package)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "import cycle: fake.a -> fake.b -> fake.c -> fake.a" in done.stdout
    assert "fake/b.py:2: fake.b imports fake.c" in done.stdout  # the file and line of each import
    assert "fake.d" not in done.stdout.split("import cycle:")[1]


def test_the_check_finds_a_submodule_importing_its_package(tmp_path):
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": "__version__ = '1'\nfrom .report import write\n",
            "report.py": "from . import __version__\n\ndef write():\n    return __version__\n",
        },
    )
    assert [cycle for _, cycle in _tool().find_cycles(package)] == [["fake", "fake.report", "fake"]]


def test_the_check_ignores_type_checking_imports_and_submodules_of_the_package(tmp_path):
    package = _fake_package(
        tmp_path,
        {
            "__init__.py": "from .a import f\nfrom .b import g\n",
            "a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import g\n\n"
            "def f():\n    return 1\n",
            "b.py": "from . import a\n\ndef g():\n    return a.f()\n",
        },
    )
    assert _tool().find_cycles(package) == []
    done = subprocess.run(
        [sys.executable, str(TOOL), str(package), "--graph"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "fake.b: fake.a" in done.stdout, done.stdout
