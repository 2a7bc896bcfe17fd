"""python -m grading, the class grader: right answers get full marks, wrong ones the points they deserve
with feedback that names the mistake (hostile notebooks: test_sandbox_attacks.py).

Every answer of the public grader's catalogue goes through the class grader's probe and judge in this
process; a class of partly right answers is graded once by the real command in a subprocess (a
sandbox per exercise), and the tests read its grades.csv and NAME.json files.
"""
import csv
import json
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import nbformat
import pytest
from conftest import ROOT, takes_ctrl_c
from test_grader_catalogue import CATALOGUE

from grading.grader import grade_exercise, grader_setup
from grading.sandbox import Run, bubblewrap
from scripts.notebook_tools import answered_notebook, hint_answers, load_notebook, notebook_with, write_class

pytestmark = pytest.mark.slow
NOTEBOOK = load_notebook()
RIGHT = hint_answers(NOTEBOOK)
KIND_EXERCISE = {"network": "UNQ_C1", "optimizer": "UNQ_C1", "loss": "UNQ_C2"}
needs_bwrap = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap (bwrap) is not installed or cannot run here")
needs_grader = pytest.mark.skipif(sys.platform == "win32", reason="the class grader runs in WSL on Windows")


def grade_class(folder, out, *arguments):
    result = subprocess.run([sys.executable, "-m", "grading", str(folder), "--out", str(out), *arguments],
                            capture_output=True, text=True, timeout=900, cwd=ROOT)
    rows = {row["submission"]: row for row in csv.DictReader(open(out / "grades.csv"))} if (
        out / "grades.csv").exists() else {}
    return result, rows


def results_of(out, name, exercise):
    return [test for test in json.loads((out / f"{name}.json").read_text())["tests"]
            if test["name"].startswith(exercise)]


def points(out, name, exercise):
    return {test["name"].split()[1].rstrip(":"): test["score"] for test in results_of(out, name, exercise)}


# ----------------------------------------------------------------------------- the catalogue

PARTIAL = {  # the points each part gets, for answers that are partly right
    "32 units in layer 1": {"q_network": 0, "target_q_network": 4, "optimizer": 2},
    "learning rate 0.01": {"q_network": 4, "target_q_network": 4, "optimizer": 0},
    "blank network": {"q_network": 0, "target_q_network": 4, "optimizer": 2},
    "no done mask": {"y_targets": 0, "loss": 5},
    "mean absolute error": {"y_targets": 5, "loss": 0},
    "loss computed in numpy": {"y_targets": 5, "loss": 0},
    "blank loss": {"y_targets": 0, "loss": 0},
}


def catalogue_cell(kind, source):
    exercise = KIND_EXERCISE[kind]
    return exercise, (RIGHT["UNQ_C1"] + "\n" + source if exercise == "UNQ_C1" else "# UNQ_C2\n" + source)


class InProcess:
    """A stand-in for grading.sandbox.Sandbox: inside.py's own measure, run in this process (TensorFlow
    imported once, not once a run), its report handed back as the bytes a sandbox gives the judge. The
    sandbox itself grades the class below, and test_sandbox_attacks.py attacks it."""

    def run(self, task, timeout, memory_mib):
        import tensorflow as tf

        import public_tests
        from grading import inside

        started = time.monotonic()
        report = json.dumps(inside.measure(task, public_tests, tf)).encode()
        return Run(report=report, output="", timed_out=False, memory_exceeded=False, returncode=0,
                   seconds=time.monotonic() - started)


@pytest.mark.parametrize("description", [entry[0] for entry in CATALOGUE])
def test_the_class_grader_on(description):
    """Right answers, however written, get full marks from the class grader's probe and judge; each wrong
    one loses points, with feedback naming it."""
    ((kind, source), expected), = [(answer, expected) for name, answer, expected in CATALOGUE if name == description]
    exercise, cell = catalogue_cell(kind, source)
    setup = grader_setup()
    verdicts, _, _ = grade_exercise(InProcess(), SimpleNamespace(cells={exercise: cell}), exercise, setup["cells"],
                                    setup["alpha"], {"timeout": 60.0, "memory_mib": 2048})
    scored, available = sum(v["score"] for v in verdicts), sum(v["max_score"] for v in verdicts)
    if expected is None:
        assert scored == available, [v["message"] for v in verdicts]
    else:
        feedback = " ".join(v["message"] for v in verdicts if v["score"] < v["max_score"])
        assert scored < available, "a wrong answer got full marks"
        assert expected in feedback, f"the feedback should name '{expected}': {feedback}"


@pytest.fixture(scope="module")
def partial_class(tmp_path_factory):
    """The partly right answers of PARTIAL as a class graded by python -m grading, sandboxes and all:
    notebook k holds the k-th of them for Exercise 1 and for Exercise 2 (a right answer where none is left)."""
    folder, out = tmp_path_factory.mktemp("partial"), tmp_path_factory.mktemp("partial-grades")
    by_exercise = {"UNQ_C1": [], "UNQ_C2": []}
    for description, (kind, source), _ in CATALOGUE:
        if description in PARTIAL:
            by_exercise[KIND_EXERCISE[kind]].append((description, *catalogue_cell(kind, source)))
    where, learners = {}, {}
    for k in range(max(map(len, by_exercise.values()))):
        learners[f"learner{k:02d}"] = cells = dict(RIGHT)
        for exercise, entries in by_exercise.items():
            if k < len(entries):
                description, _, cells[exercise] = entries[k]
                where[description] = (f"learner{k:02d}", exercise)
    write_class(folder, learners, NOTEBOOK)
    result, rows = grade_class(folder, out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, rows, where


@needs_grader
@pytest.mark.parametrize("description", list(PARTIAL))
def test_partial_answers_get_the_points_they_deserve(partial_class, description):
    out, rows, where = partial_class
    name, exercise = where[description]
    assert points(out, name, exercise) == PARTIAL[description]
    assert rows[name]["status"] == "graded"


@needs_grader
def test_the_csv_has_a_row_per_submission_with_its_columns(partial_class):
    out, rows, where = partial_class
    assert set(rows) == {name for name, _ in where.values()}
    header = next(csv.reader(open(out / "grades.csv")))
    assert header[:6] == ["submission", "status", "score", "max_score", "UNQ_C1", "UNQ_C2"]
    for row in rows.values():
        assert int(row["score"]) == int(row["UNQ_C1"]) + int(row["UNQ_C2"]) and row["max_score"] == "20"


# ----------------------------------------------------------------------------- the command

@needs_grader
def test_without_bubblewrap_the_grader_says_so_and_still_grades_right(tmp_path, monkeypatch):
    from grading import sandbox
    from grading.grader import find_notebooks, grade, read_graded_cells

    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    (submission,) = find_notebooks(write_class(tmp_path, {"honest": answered_notebook(NOTEBOOK)}))
    submission.cells = read_graded_cells(submission.path)
    messages = open(tmp_path / "log.txt", "w+")
    rows = grade([submission], tmp_path / "out", 2, {"timeout": 120.0, "memory_mib": 2048}, stream=messages)
    messages.seek(0)
    assert "bubblewrap not available" in messages.read()
    assert (rows[0]["UNQ_C1"], rows[0]["UNQ_C2"]) == (10, 10)


@needs_grader
def test_ctrl_c_stops_at_once_and_keeps_what_is_graded(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "grades"
    write_class(folder, {f"learner{number}": answered_notebook(NOTEBOOK) for number in range(6)})
    process = subprocess.Popen([sys.executable, "-m", "grading", str(folder), "--out", str(out), "--jobs", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                               preexec_fn=takes_ctrl_c)
    deadline = time.monotonic() + 300
    while not list(out.glob("learner*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    graded_before = len(list(out.glob("learner*.json")))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "graded so far" in stderr
    rows = list(csv.DictReader(open(out / "grades.csv")))
    # The one under way may have ended as Ctrl-C came; the queued ones never start (a count, not a clock).
    assert 1 <= graded_before <= len(rows) <= graded_before + 1 < 6 and all(row["score"] == "20" for row in rows)


@needs_grader
def test_usage_errors_are_plain_and_fail(tmp_path):
    for arguments, words in ((["does-not-exist.ipynb"], "no such file or folder"),
                             ([str(tmp_path), "--jobs", "0"], "expected a positive number"),
                             ([str(tmp_path)], "nothing to grade")):
        result = subprocess.run([sys.executable, "-m", "grading", *arguments, "--out", str(tmp_path / "o")],
                                capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert result.returncode != 0 and words in result.stderr, result.stderr


def test_on_windows_the_grader_points_to_wsl_and_fails(tmp_path, monkeypatch, capsys):
    from grading import __main__ as grade

    (path,) = write_class(tmp_path, {"honest": answered_notebook(NOTEBOOK)})
    monkeypatch.setattr(sys, "platform", "win32")
    assert grade.main([str(path), "--out", str(tmp_path / "out")]) == 2
    assert "WSL" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_graded_cells_are_found_by_first_line_or_metadata(tmp_path):
    from grading.grader import InvalidSubmission, read_graded_cells

    notebook = notebook_with(NOTEBOOK, {"UNQ_C1": "\n  # UNQ_C1 \nq_network = 1", "UNQ_C2": "compute_loss = 2"})
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, str(path))
    assert read_graded_cells(path) == {"UNQ_C1": "\n  # UNQ_C1 \nq_network = 1", "UNQ_C2": "compute_loss = 2"}
    for cell in notebook.cells:
        cell.metadata = {}
    nbformat.write(notebook, str(path))
    assert set(read_graded_cells(path)) == {"UNQ_C1"}
    (tmp_path / "x.ipynb").write_text('{"cells": []}')
    with pytest.raises(InvalidSubmission, match="no graded cell"):
        read_graded_cells(tmp_path / "x.ipynb")


def test_submissions_with_the_same_file_name_keep_apart(tmp_path):
    from grading.grader import find_notebooks

    for learner in ("ada", "bo"):
        (tmp_path / learner).mkdir()
        (tmp_path / learner / "C3_W3_A1_Assignment.ipynb").write_text("{}")
    (tmp_path / "cy.ipynb").write_text("{}")
    names = [submission.name for submission in find_notebooks([tmp_path])]
    assert names == ["ada__C3_W3_A1_Assignment", "bo__C3_W3_A1_Assignment", "cy"]


def test_the_judges_adam_follows_keras():
    """The grader's reference for the optimizer's steps is Keras's own Adam (amsgrad too)."""
    import numpy as np
    import tensorflow as tf

    from grading.judge import adam_steps

    rng = np.random.default_rng(3)
    initial, gradients = rng.normal(size=5), rng.normal(size=(3, 5))
    for extra in ({"amsgrad": False}, {"amsgrad": True}, {"amsgrad": False, "clipnorm": 0.5},
                  {"amsgrad": False, "global_clipnorm": 0.7}, {"amsgrad": False, "clipvalue": 0.2}):
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-3, **extra)
        variable, found = tf.Variable(initial.astype(np.float32)), []
        for gradient in gradients:
            optimizer.apply_gradients([(tf.constant(gradient, dtype=tf.float32), variable)])
            found.append(variable.numpy())
        settings = {"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-3, **extra}
        assert np.allclose(found, adam_steps(initial, gradients, settings), atol=1e-6), extra


def test_the_judges_gradient_is_msEs():
    """The grader's reference gradient of the loss matches TensorFlow's on the same network."""
    import numpy as np
    import tensorflow as tf

    from grading.judge import MLP

    rng = np.random.default_rng(4)
    weights = [rng.normal(size=(8, 16)), rng.normal(size=16), rng.normal(size=(16, 4)), rng.normal(size=4)]
    states, actions, y = rng.normal(size=(64, 8)), rng.integers(0, 4, 64).astype(float), rng.normal(size=64)
    variables = [tf.Variable(w) for w in weights]
    with tf.GradientTape() as tape:
        q = tf.nn.relu(states @ variables[0] + variables[1]) @ variables[2] + variables[3]
        taken = tf.gather(q, actions.astype(int), batch_dims=1)
        loss = tf.reduce_mean((y - taken) ** 2)
    expected = tape.gradient(loss, variables)
    found = MLP(weights).loss_gradient(states, actions, y)
    assert all(np.allclose(f, e.numpy()) for f, e in zip(found, expected, strict=True))


def all_four_q_values_run(cases):
    """A sandbox's run of a compute_loss right but for one mistake, on cases: its MSE compares y_targets with
    all four Q-values of each state, not the Q-value of the action taken (its gradient not reported)."""
    import numpy as np

    import public_tests

    entries = []
    for case in cases:
        y = public_tests.targets(case)
        loss = np.mean((y[:, None] - case["q_network"].numpy(case["states"])) ** 2)
        entries.append({"loss": {"value": float(loss)}, "tensor": True, "y_targets": {"value": y.tolist()}})
    return Run(report=json.dumps({"callable": True, "cases": entries}).encode(), output="", timed_out=False,
               memory_exceeded=False, returncode=0, seconds=0.0)


def test_a_wrong_loss_close_to_msEs_on_one_mini_batch_is_still_named():
    """On the probe of seed 1, the loss over all four Q-values comes within tolerance of MSE's on the first
    mini-batch by chance: the judge looks at every mini-batch's value before any gradient, and names it."""
    import numpy as np

    import public_tests
    from grading import judge

    _, expected = judge.make_probe("UNQ_C2", np.random.default_rng(1))
    cases, setup, limits = expected["cases"], grader_setup(), {"timeout": 60.0, "memory_mib": 2048}

    def loss_verdict(cases):
        _, loss = judge.judge("UNQ_C2", all_four_q_values_run(cases), {"cases": cases}, setup["alpha"], limits)
        return loss

    first = loss_verdict(cases[:1])  # the chance: on the first mini-batch alone, only the missing gradient is faulted
    assert first["score"] == 0 and first["message"].startswith(public_tests.NO_GRADIENT), first["message"]
    every = loss_verdict(cases)
    assert every["score"] == 0 and "all four Q-values" in every["message"], every["message"]


def test_a_right_loss_gets_full_marks_where_a_first_draw_put_a_unit_on_relus_kink():
    """Seed 12916's first draw puts a hidden unit of the Q-network 1e-7 from 0 on a state, where float32
    and float64 disagree on whether it is active: that right answer lost the 5 points of its gradient.
    The probe is drawn again, and the right answer gets them."""
    import numpy as np

    import public_tests
    from grading import judge

    sizes = (public_tests.STATE_SIZE, judge.GRADER_HIDDEN_UNITS, public_tests.NUM_ACTIONS)
    _, _, first = judge.draw_exercise_2(np.random.default_rng(12916), sizes)
    assert not all(judge.clear_of_relu_kink(case["q_network"], case["states"]) for case in first)  # the premise

    probe, expected = judge.make_probe("UNQ_C2", np.random.default_rng(12916))
    assert all(judge.clear_of_relu_kink(case["q_network"], case["states"]) for case in expected["cases"])
    setup = grader_setup()
    task = {"exercise": "UNQ_C2", "setup": setup["cells"], "answer": RIGHT["UNQ_C2"], "probe": probe}
    run = InProcess().run(task, 60.0, 2048)
    verdicts = judge.judge("UNQ_C2", run, expected, setup["alpha"], {"timeout": 60.0, "memory_mib": 2048})
    assert all(v["score"] == v["max_score"] for v in verdicts), [v["message"] for v in verdicts]
