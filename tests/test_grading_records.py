"""The class grader never grades a notebook twice: a result made from the same notebook by the same
grader (files, set-up, library versions, limits) is kept; a changed notebook, another grader or
--regrade grades again; Ctrl-C or a crash loses nothing, and the same command finishes the class.
And the messages a learner reads: a notebook too large for its outputs, two cells marked for one exercise.
"""
import copy
import csv
import json
import shutil
import signal
import subprocess
import sys
import time

import nbformat
import pytest
from conftest import ROOT, sends_ctrl_c, takes_ctrl_c
from test_class_grader import NOTEBOOK, RIGHT, needs_grader

from grading import records
from grading.grader import NOTEBOOK_SIZE_LIMIT, Submission, grader_setup, read_submission
from scripts.notebook_tools import answered_notebook, notebook_with, tagged_cells, write_class

PARTIAL = {"UNQ_C1": RIGHT["UNQ_C1"].replace("learning_rate=ALPHA", "learning_rate=0.01"), "UNQ_C2": RIGHT["UNQ_C2"]}


def command(folder, out, *arguments):
    return [sys.executable, "-m", "grading", str(folder), "--out", str(out), "--jobs", "1", *arguments]


def run_grader(folder, out, *arguments):
    result = subprocess.run(command(folder, out, *arguments), capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def rows(out):
    return {row["submission"]: row for row in csv.DictReader(open(out / "grades.csv"))}


def snapshot(out):
    """Each NAME.json's bytes and modification time: a result left alone keeps both."""
    return {path.stem: (path.read_bytes(), path.stat().st_mtime_ns) for path in out.glob("*.json")}


def twice_marked():
    """A notebook with a right Exercise 1 cell, and below it a second cell marked # UNQ_C1 with a wrong rate."""
    notebook = notebook_with(NOTEBOOK, RIGHT)
    (graded,) = tagged_cells(notebook, "graded", "UNQ_C1")
    second = nbformat.v4.new_code_cell("# UNQ_C1\n" + PARTIAL["UNQ_C1"].split("\n", 1)[1])
    notebook.cells.insert(notebook.cells.index(graded) + 1, second)
    return notebook


# ----------------------------------------------------------------------------- never twice

@pytest.mark.slow
@needs_grader
def test_a_second_run_grades_nothing_and_a_changed_notebook_alone_is_graded_again(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "grades"
    write_class(folder, {"ada": RIGHT, "bo": PARTIAL, "cy": b"not a notebook"}, NOTEBOOK)
    run_grader(folder, out, "--jobs", "2")
    first, graded = snapshot(out), rows(out)
    assert {name: row["score"] for name, row in graded.items()} == {"ada": "20", "bo": "18", "cy": "0"}

    started = time.monotonic()
    again = run_grader(folder, out)
    assert "3 of 3 submissions are unchanged since this grader graded them" in again.stderr
    assert "Isolation" not in again.stderr  # no sandbox was even started
    assert snapshot(out) == first and rows(out) == graded
    assert time.monotonic() - started < 120  # seconds of start-up, no grading (TensorFlow's import on a busy machine)

    write_class(folder, {"bo": RIGHT}, NOTEBOOK)  # bo mends the learning rate
    changed = run_grader(folder, out)
    assert "2 of 3 submissions are unchanged" in changed.stderr and "[1/1] bo: graded, 20/20" in changed.stderr
    now = snapshot(out)
    assert now["ada"] == first["ada"] and now["cy"] == first["cy"] and now["bo"] != first["bo"]
    assert rows(out)["bo"]["score"] == "20" and len(rows(out)) == 3

    everything = run_grader(folder, out, "--regrade", "--jobs", "2")
    assert "unchanged" not in everything.stderr and "[3/3]" in everything.stderr
    assert all(snapshot(out)[name][1] != now[name][1] for name in now)


def test_results_are_kept_only_when_made_from_the_same_notebook_grader_and_limits(tmp_path):
    made_from = {"notebook_sha256": "a" * 64, "grader_sha256": "b" * 64,
                 "limits": {"timeout": 60.0, "memory_mib": 2048}}
    path = tmp_path / "ada.json"
    path.write_text(json.dumps({"score": 20, "tests": [], "extra_data": dict(made_from, status="graded")}))
    assert records.kept_results(path, made_from)["score"] == 20
    for key, other in (("notebook_sha256", "c" * 64), ("grader_sha256", "d" * 64),
                       ("limits", {"timeout": 30.0, "memory_mib": 2048})):
        assert records.kept_results(path, dict(made_from, **{key: other})) is None, key
    assert records.kept_results(path, dict(made_from, notebook_sha256=None)) is None  # a file never read
    for damaged in ("{", '{"score": 20}', '{"extra_data": []}', "[]"):  # no record, or not one: graded again
        path.write_text(damaged)
        assert records.kept_results(path, made_from) is None
    assert records.kept_results(tmp_path / "missing.json", made_from) is None


def test_the_grader_hash_follows_its_files_and_its_set_up(tmp_path):
    setup = grader_setup()
    base = records.grader_sha256(setup)
    assert records.grader_sha256(copy.deepcopy(setup)) == base
    assert records.grader_sha256(dict(setup, alpha=setup["alpha"] * 2)) != base
    assert records.grader_sha256(dict(setup, cells=setup["cells"] + ["x = 1"])) != base
    files = records.grader_files()
    assert {"grading/__main__.py", "grading/grader.py", "grading/inside.py", "grading/judge.py", "grading/sandbox.py",
            "utils.py", "public_tests.py"} <= set(files)
    copy_root = tmp_path / "copy"
    for name in files:
        (copy_root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy_root / name)
    assert records.grader_sha256(setup, root=copy_root) == base
    with open(copy_root / "grading" / "judge.py", "a") as judge:
        judge.write("\n# another version of the judge\n")
    assert records.grader_sha256(setup, root=copy_root) != base


def wait_for(condition, seconds=600):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the grader made no progress"
        time.sleep(0.2)


@pytest.mark.slow
@needs_grader
@sends_ctrl_c
def test_after_ctrl_c_and_after_a_crash_the_same_command_finishes_the_class(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "grades"
    write_class(folder, {f"learner{number}": answered_notebook(NOTEBOOK) for number in range(3)})
    graded = lambda: len(list(out.glob("learner*.json")))  # noqa: E731

    interrupted = subprocess.Popen(command(folder, out), stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                   preexec_fn=takes_ctrl_c)
    wait_for(lambda: graded() >= 1)
    interrupted.send_signal(signal.SIGINT)
    assert interrupted.wait(timeout=60) == 130
    after_ctrl_c = snapshot(out)
    assert len(rows(out)) == len(after_ctrl_c) >= 1  # grades.csv holds every submission graded so far

    crashed = subprocess.Popen(command(folder, out), stderr=subprocess.PIPE, text=True, cwd=ROOT)
    wait_for(lambda: graded() > len(after_ctrl_c) or crashed.poll() is not None)
    crashed.kill()  # a crash: no handler runs
    crashed.wait(timeout=60)
    after_crash = snapshot(out)
    assert len(rows(out)) == len(after_crash) and all(after_crash[name] == after_ctrl_c[name] for name in after_ctrl_c)

    finished = run_grader(folder, out)
    assert f"{len(after_crash)} of 3 submissions are unchanged" in finished.stderr
    assert all(snapshot(out)[name] == after_crash[name] for name in after_crash)
    assert {row["score"] for row in rows(out).values()} == {"20"} and len(rows(out)) == 3


# ----------------------------------------------------------------------------- what a learner is told

def test_a_notebook_too_large_is_told_to_clear_its_outputs(tmp_path):
    notebook = answered_notebook(NOTEBOOK)
    (cell,) = tagged_cells(notebook, "training")
    video = "A" * (NOTEBOOK_SIZE_LIMIT + 2**20)  # a learner's saved outputs: a video, base64
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": f"<video src='data:{video}'>"})]
    (path,) = write_class(tmp_path, {"ada": notebook})
    submission = Submission(name="ada", path=path)
    read_submission(submission)
    assert "over the limit of 20 MiB" in submission.invalid
    assert "Kernel > Restart Kernel and Clear Outputs" in submission.invalid and "submit it again" in submission.invalid


def test_two_cells_marked_for_one_exercise_say_which_was_graded(tmp_path):
    (path,) = write_class(tmp_path, {"ada": twice_marked()})
    submission = Submission(name="ada", path=path)
    read_submission(submission)
    assert submission.cells["UNQ_C1"].startswith("# UNQ_C1\n") and "learning_rate=0.01" in submission.cells["UNQ_C1"]
    assert list(submission.notes) == ["UNQ_C1"]
    note = submission.notes["UNQ_C1"]
    assert "2 cells marked # UNQ_C1" in note and "The last of them" in note and "q_network = Sequential([" in note


@pytest.mark.slow
@needs_grader
def test_the_note_on_two_marked_cells_reaches_the_learner_and_the_teacher(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "grades"
    write_class(folder, {"ada": twice_marked()})
    run_grader(folder, out)
    results = json.loads((out / "ada.json").read_text())
    exercise_1 = [test for test in results["tests"] if test["name"].startswith("UNQ_C1")]
    assert sum(test["score"] for test in exercise_1) == 8  # the last cell's learning rate, 0.01, was graded
    assert all("2 cells marked # UNQ_C1" in test["output"] for test in exercise_1)
    assert "2 cells marked # UNQ_C1" in results["output"] and "2 cells marked # UNQ_C1" in rows(out)["ada"]["message"]
