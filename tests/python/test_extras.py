"""Optional dependencies: optuna (and tqdm), plotly and jinja2 (and dash) are extras. Without them
`import lcsim` and the simulation work, and the feature that needs one stops with an ImportError
naming the extra to install (simulated here by putting None in sys.modules, which makes an import
of that name fail as a missing package does)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lcsim
import lcsim.__main__ as cli
from lcsim._extras import MissingExtraError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_PARENT = Path(lcsim.__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "b2b_saas" / "baseline.yaml"
OPTIONAL = ("jinja2", "plotly", "optuna", "tqdm", "dash")


def _block(monkeypatch, *names, reload=()):
    """Makes `import NAME` fail for each name, and forgets the lcsim modules in `reload` so the next
    import runs them again (monkeypatch puts everything back after the test)."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)
    for module in reload:
        monkeypatch.delitem(sys.modules, module, raising=False)


def _python(code: str, tmp_path: Path, extra_env=None) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]),
    )
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )


def test_the_core_imports_and_simulates_without_any_extra(tmp_path):
    done = _python(
        f"""
        import sys
        for name in {OPTIONAL!r}:
            sys.modules[name] = None
        import lcsim
        run = lcsim.simulate({str(BASE)!r}, replications=2, seed=1)
        assert run.summary().shape[0] > 0
        run.save("study.h5")
        assert lcsim.open("study.h5").runs() == [run.name]
        import lcsim.study, lcsim.optimise, lcsim.recommend, lcsim.plot  # no extra needed to import them
        try:
            lcsim.report
        except ImportError as e:
            print("report:", e)
        loaded = [n for n in {OPTIONAL!r} if sys.modules.get(n) is not None]
        print("loaded:", loaded)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout
    assert (
        "report: the HTML report (lcsim.report, lcsim report) needs jinja2, which is not installed: "
        "pip install 'lcsim[report]'" in done.stdout
    )


def test_import_lcsim_loads_no_extra(tmp_path):
    done = _python(
        f"import sys, lcsim; print([n for n in {OPTIONAL!r} if n in sys.modules])", tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("missing", ["jinja2", "plotly"])
def test_report_without_its_extra_names_it(monkeypatch, missing):
    _block(monkeypatch, missing, reload=["lcsim.htmlreport"])
    with pytest.raises(MissingExtraError) as raised:
        lcsim.report  # noqa: B018 - the attribute imports the report module
    message = str(raised.value)
    assert f"needs {missing}, which is not installed: pip install 'lcsim[report]'" in message
    assert isinstance(raised.value, ImportError) and raised.value.name == missing


def test_optimise_without_its_extra_names_it_before_any_work(monkeypatch):
    _block(monkeypatch, "optuna")
    with pytest.raises(
        MissingExtraError,
        match=r"optimiser .* needs optuna, which is not installed: "
        r"pip install 'lcsim\[optimise\]'",
    ):
        lcsim.optimise(BASE, {"touchpoints.nurture_email.reach": (0.2, 0.6)}, "net_value", trials=4)


def test_the_command_line_names_the_extra(monkeypatch, capsys, tmp_path):
    _block(monkeypatch, "jinja2", reload=["lcsim.htmlreport"])
    assert cli.main(["report", str(tmp_path / "study.h5"), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lcsim report: the HTML report") and "pip install 'lcsim[report]'" in err
    assert not (tmp_path / "r.html").exists()

    _block(monkeypatch, "optuna")
    assert (
        cli.main(["optimise", str(BASE), "--lever", "touchpoints.nurture_email.reach=0.2:0.6"]) == 2
    )
    assert (
        "lcsim optimise: the optimiser (lcsim.optimise, lcsim optimise) needs optuna, which is not installed: "
        "pip install 'lcsim[optimise]'" in capsys.readouterr().err
    )

    _block(monkeypatch, "dash", reload=["lcsim.app"])
    assert cli.main(["app"]) == 2
    assert (
        "lcsim app: the what-if app (lcsim app) needs dash, which is not installed: pip install 'lcsim[app]'"
        in capsys.readouterr().err
    )


def test_lcsim_report_through_the_cxx_program_names_the_extra(lcsim_cli, tmp_path):
    """The C++ program execs python -m lcsim: a sitecustomize that hides jinja2 stands for an install
    without the report extra."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['jinja2'] = None\n")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(hide), str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]
        ),
    )
    done = lcsim_cli("report", tmp_path / "study.h5", "--out", tmp_path / "r.html", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'lcsim[report]'" in done.stderr, done.stderr


def test_the_extras_in_pyproject_hold_what_the_features_import():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    extras = {k: " ".join(v) for k, v in project["optional-dependencies"].items()}
    for name in OPTIONAL:
        assert name not in core
    assert "jinja2" in extras["report"] and "plotly" in extras["report"]
    assert "optuna" in extras["optimise"] and "tqdm" in extras["optimise"]
    assert all(n in extras["app"] for n in ("dash", "jinja2", "plotly"))
    assert all(n in extras["test"] for n in OPTIONAL)
    from lcsim._extras import EXTRAS

    for extra, (_, packages) in EXTRAS.items():
        assert all(p in extras[extra] for p in packages), extra
