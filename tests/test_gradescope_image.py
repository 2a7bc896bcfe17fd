"""Gradescope's autograder end to end (make test-gradescope): the zip that `python -m grading
--gradescope` writes, in a fresh Debian system laid out as Gradescope's image (setup.sh run there as
root, from a system with no Python), on a right, a partial, a hostile and a non-notebook submission.
Each results.json must give what the class grader gives the same notebooks on this machine.

scripts/maintainer/platforms/gradescope.sh does the system's part; it needs root, debootstrap and Debian's registry.
"""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT
from test_class_grader import NOTEBOOK, RIGHT
from test_gradescope import hostile_cell

from grading import records
from scripts.notebook_tools import tagged_cells, write_class

pytestmark = [
    pytest.mark.gradescope,
    pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("chroot"),
                       reason="needs Linux, root and chroot (debootstrap is installed when missing)"),
]
BLANK_1 = tagged_cells(NOTEBOOK, "graded", "UNQ_C1")[0].source
# The notebooks' graded cells, by learner; each learner uploads her notebook as C3_W3_A1_Assignment.ipynb.
CLASS = {
    "right": RIGHT,
    "partial": {"UNQ_C1": RIGHT["UNQ_C1"].replace("learning_rate=ALPHA", "learning_rate=0.01"),
                "UNQ_C2": RIGHT["UNQ_C2"].replace(" * (1 - done_vals)", "")},
    "patches_public_tests": {
        "UNQ_C1": BLANK_1 + "\nimport public_tests\n"
                  "public_tests.check_network = public_tests.check_optimizer = lambda *a, **k: None\n"
                  "public_tests.describe_network = lambda *a, **k: {'kind': 'Sequential'}\n",
        "UNQ_C2": RIGHT["UNQ_C2"] + "\nimport public_tests\npublic_tests.check_losses = lambda *a, **k: None\n"},
    # Forges results.json, kills the grader, leaves a daemon rewriting results.json (the next submission's too).
    "leaves_a_daemon": {"UNQ_C1": hostile_cell("/autograder/results/results.json", "/tmp/daemon.pid"),
                        "UNQ_C2": RIGHT["UNQ_C2"]},
}
NOT_A_NOTEBOOK = {"answers.py": "q_network = None\n", "report.pdf": "%PDF-1.4 not a notebook"}  # what one uploaded
SUBMISSIONS = (*CLASS, "not_a_notebook")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(results.json and the teacher's output, per submission; the class grader's NAME.json of the same notebooks)."""
    work = tmp_path_factory.mktemp("gradescope")
    for path in write_class(work / "class", CLASS, NOTEBOOK):  # the same notebooks, for the class grader here
        (work / "submissions" / path.stem).mkdir(parents=True)
        shutil.copy(path, work / "submissions" / path.stem / "C3_W3_A1_Assignment.ipynb")
    (work / "submissions" / "not_a_notebook").mkdir()
    for name, text in NOT_A_NOTEBOOK.items():
        (work / "submissions" / "not_a_notebook" / name).write_text(text)
    zip_path = work / "autograder.zip"
    made = subprocess.run([sys.executable, "-m", "grading", "--gradescope", str(zip_path)], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert made.returncode == 0, made.stderr[-3000:]
    image = subprocess.run(["bash", str(ROOT / "scripts" / "maintainer" / "platforms" / "gradescope.sh"), str(zip_path),
                            str(work / "submissions"), str(work / "results")], capture_output=True, text=True,
                           timeout=3600)
    print(image.stdout[-5000:])
    assert image.returncode == 0, image.stdout[-3000:] + image.stderr[-3000:]
    local = subprocess.run([sys.executable, "-m", "grading", str(work / "class"), "--out", str(work / "grades")],
                           capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert local.returncode == 0, local.stderr[-3000:]
    results = {name: (json.loads((work / "results" / f"{name}.json").read_text()),
                      (work / "results" / f"{name}.stdout").read_text()) for name in SUBMISSIONS}
    class_grades = {path.stem: json.loads(path.read_text()) for path in (work / "grades").glob("*.json")}
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(work / "zip")
    zip_grader = records.grader_sha256(json.loads((work / "zip" / "autograder.json").read_text())["setup"],
                                       root=work / "zip")
    return {"results": results, "class": class_grades, "setup": image.stdout, "zip_grader": zip_grader}


def test_setup_installs_python_and_says_in_one_line_what_it_used(graded):
    (line,) = [line for line in graded["setup"].splitlines() if line.startswith("setup.sh: ")]
    assert "Python 3.11" in line and "installed with apt" in line and "pinned packages" in line
    assert "bubblewrap" in line


@pytest.mark.parametrize("name, score", [("right", 20), ("partial", 13), ("patches_public_tests", 10),
                                         ("leaves_a_daemon", 20)])
def test_each_notebook_gets_the_class_graders_grade(graded, name, score):
    results, _ = graded["results"][name]
    mine = graded["class"][name]
    assert results["score"] == mine["score"] == score
    learner_tests = [test for test in results["tests"] if test["visibility"] != "hidden"]
    assert [(t["name"], t["score"], t["max_score"]) for t in learner_tests] == [
        (t["name"], t["score"], t["max_score"]) for t in mine["tests"]]
    # The zip's grader, with the same libraries' versions as here (its hash counts them)
    assert results["extra_data"]["grader_sha256"] == graded["zip_grader"]
    assert results["extra_data"]["notebook_sha256"] == mine["extra_data"]["notebook_sha256"]


def test_the_learners_code_cannot_touch_the_results_or_the_grader(graded):
    results, _ = graded["results"]["leaves_a_daemon"]
    assert "could not write" in results["output"] and "could not kill the grader" in results["output"]
    assert graded["results"]["not_a_notebook"][0]["extra_data"]["status"] == "invalid"  # graded next, not forged


def test_the_teacher_alone_sees_the_isolation_it_ran_with(graded):
    results, stdout = graded["results"]["right"]
    (isolation,) = [test for test in results["tests"] if test["name"].startswith("Isolation")]
    assert isolation["visibility"] == "hidden" and isolation["max_score"] == 0
    # A chroot refuses bubblewrap its user namespace, as Gradescope's container may: the fallback, said so.
    assert isolation["output"].startswith("bubblewrap not available") and "Isolation: bubblewrap not" in stdout
    assert "as a user of its own" in isolation["output"]
    assert results["stdout_visibility"] == "hidden" and results["visibility"] == "visible"
    assert "Container: " in stdout and "20 points (graded)" in stdout


def test_a_file_that_is_not_a_notebook_gets_score_0_and_says_why(graded):
    results, _ = graded["results"]["not_a_notebook"]
    assert results["score"] == 0 and results["tests"] == []
    assert "no notebook (.ipynb): it holds answers.py, report.pdf" in results["output"]
