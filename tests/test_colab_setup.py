"""The notebook's Colab set-up cell: nothing outside Colab; on Colab, the pinned installs in one line.

Here Colab is a stand-in google.colab module and pip a stand-in that records its command; make
test-colab runs the cell for real, in a runtime built from Colab's packages.
"""
import ast
import re
import subprocess
import sys
import types

import pytest
from conftest import ROOT

from scripts.notebook_tools import load_notebook, tagged_cells


@pytest.fixture(scope="module")
def notebook():
    return load_notebook()


@pytest.fixture(scope="module")
def setup_cell(notebook):
    (cell,) = tagged_cells(notebook, "colab-setup")
    return cell


def pins(setup_cell):
    """The cell's COLAB_INSTALLS: {package: version}."""
    (value,) = [node.value for node in ast.parse(setup_cell.source).body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COLAB_INSTALLS"]
    return ast.literal_eval(value)


HELPERS = ("utils.py", "public_tests.py", "lander")  # what the cell looks for


def learners_files(folder):
    """The files a learner uploads next to the notebook (empty stand-ins)."""
    for name in HELPERS:
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text("")


def stand_in_colab(widget_managers):
    """A google.colab module whose output.enable_custom_widget_manager() is counted in widget_managers."""
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: widget_managers.append("enabled"))
    return colab


def run_cell(setup_cell, monkeypatch, tmp_path, on_colab, versions=None, pip_fails=False, widget_managers=None):
    """Run the cell in tmp_path; return the pip commands it ran."""
    colab = stand_in_colab([] if widget_managers is None else widget_managers) if on_colab else None
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    if versions:
        import importlib.metadata
        real_version = importlib.metadata.version
        monkeypatch.setattr(importlib.metadata, "version", lambda name: versions.get(name) or real_version(name))
    commands = []

    def fake_pip(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1 if pip_fails else 0, "", "ERROR: no such version")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    monkeypatch.chdir(tmp_path)
    exec(setup_cell.source, {})
    return commands


def test_it_is_the_first_code_cell(notebook, setup_cell):
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0] is setup_cell and "imports" in code[1].metadata.get("tags", [])


def test_its_pins_are_those_of_requirements_txt(setup_cell):
    required = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^;\s]+)", (ROOT / "requirements.txt").read_text(), re.M))
    installs = pins(setup_cell)
    assert sorted(installs) == ["Box2D", "PyVirtualDisplay", "anywidget", "gym", "gym-notices", "imageio-ffmpeg",
                                "ipywidgets", "psygnal"]
    assert installs == {name: required[name] for name in installs}


def test_it_does_nothing_outside_colab(setup_cell, monkeypatch, tmp_path, capsys):
    assert run_cell(setup_cell, monkeypatch, tmp_path, on_colab=False) == []
    assert capsys.readouterr() == ("", "")


def test_on_colab_it_installs_only_what_differs_and_says_so_in_one_line(setup_cell, monkeypatch, tmp_path, capsys):
    learners_files(tmp_path)
    colab = {**pins(setup_cell), "gym": "0.25.2", "gym-notices": "0.1.0", "tensorflow": "2.20.0", "keras": "3.13.2",
             "numpy": "2.1.3"}  # Colab's, with the rest in place already
    widget_managers = []
    commands = run_cell(setup_cell, monkeypatch, tmp_path, on_colab=True, versions=colab,
                        widget_managers=widget_managers)
    assert widget_managers == ["enabled"]  # Colab draws anywidget's canvas only with its custom widget manager
    assert commands == [[sys.executable, "-m", "pip", "install", "--quiet", "gym==0.24.0", "gym-notices==0.0.7"]]
    out = capsys.readouterr().out
    assert out == ("Colab: installed gym==0.24.0, gym-notices==0.0.7; "
                   "kept tensorflow 2.20.0, keras 3.13.2, numpy 2.1.3.\n")


def test_on_colab_with_everything_in_place_it_runs_no_pip(setup_cell, monkeypatch, tmp_path, capsys):
    learners_files(tmp_path)
    assert run_cell(setup_cell, monkeypatch, tmp_path, on_colab=True, versions=pins(setup_cell)) == []
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Colab: gym 0.24.0, Box2D and the rest already installed; kept")


def test_on_colab_without_the_helpers_it_says_how_to_get_them(setup_cell, monkeypatch, tmp_path, capsys):
    run_cell(setup_cell, monkeypatch, tmp_path, on_colab=True, versions=pins(setup_cell))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(f"{', '.join(HELPERS)} not found in {tmp_path}: upload")
    assert "Files panel" in lines[1] and "clone" in lines[1]


def test_a_failed_install_stops_with_pips_words(setup_cell, monkeypatch, tmp_path):
    with pytest.raises(RuntimeError, match="pip could not install gym==0.24.0:\nERROR: no such version"):
        run_cell(setup_cell, monkeypatch, tmp_path, on_colab=True, versions={**pins(setup_cell), "gym": "0.25.2"},
                 pip_fails=True)
