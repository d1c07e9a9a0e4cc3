"""The example notebooks: committed without outputs, and every cell runs without an error."""

import re

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

PLOT_CALL = re.compile(r"\blcsim\.plot\.\w+\(")
NOTEBOOKS = sorted((ROOT / "python" / "examples").glob("*.ipynb"))


def ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks in python/examples"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_committed_without_outputs(path):
    """Outputs and execution counts stay out of the repository, so diffs show only code and text."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_runs_without_errors(path, monkeypatch):
    """Runs in the notebook's own folder; plots must show inline as they would in Jupyter."""
    # The kernel inherits the environment: without MPLBACKEND (tests set Agg) it uses the inline
    # backend of Jupyter, so figures come back as image/png outputs.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell and its traceback, on any error

    errors = [
        o for cell in nb.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and PLOT_CALL.search(cell.source):
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert images, f"{path.name}: cell {i} plots but shows no figure"
