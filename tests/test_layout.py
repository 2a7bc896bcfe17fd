"""The house's plan holds (scripts/maintainer/layout.py): no import circle, no arrow back up, no private
name used outside its module, and utils.py short enough to read; the checks find each kind of fault."""
import subprocess

import pytest
from conftest import ROOT

from scripts.maintainer import layout

UTILS_MOST_LINES = 400


def test_the_project_has_no_circle_no_arrow_back_up_and_no_private_name_crossing():
    modules, imports = layout.read_project()
    assert layout.circles(imports) == []
    assert layout.arrows_back_up(imports, layout.lander_order()) == []
    assert layout.private_names(modules) == []


def test_utils_stays_short_and_lander_lists_every_room():
    assert layout.line_counts()["utils.py"] <= UTILS_MOST_LINES
    rooms = {f"lander.{path.stem}" for path in (ROOT / "lander").glob("*.py") if path.stem != "__init__"}
    assert set(layout.lander_order()) == rooms


@pytest.fixture
def faulty_project(tmp_path):
    """A small git checkout with one fault of each kind."""
    files = {
        "lander/__init__.py": '"""Rooms:\n\n    low    first\n    high   second\n"""\n',
        "lander/low.py": "from lander import high\n",  # a room importing one listed after it
        "lander/high.py": "X = 1\n",
        "utils.py": "import grading.judge\n",  # the learner's module importing the teacher's
        "grading/__init__.py": "",
        "grading/judge.py": "import grading.records\n\n\ndef _secret():\n    return 1\n",
        "grading/records.py": "from grading import judge\n\nvalue = judge._secret()\n",  # a circle, a private name
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    return tmp_path


def test_each_fault_is_found(faulty_project):
    modules, imports = layout.read_project(faulty_project)
    assert layout.circles(imports) == [["grading.judge", "grading.records"]]
    arrows = {(a, b) for a, b, _ in layout.arrows_back_up(imports, layout.lander_order(faulty_project))}
    assert arrows == {("lander.low", "lander.high"), ("utils", "grading.judge")}
    assert layout.private_names(modules) == [("grading.records", "grading.judge._secret")]


def test_the_command_exits_1_on_a_faulty_project_and_0_here(faulty_project):
    assert layout.main(["--check", "--root", str(faulty_project)]) == 1
    assert layout.main(["--check"]) == 0
