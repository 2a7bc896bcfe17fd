"""The class grader's sandbox against hostile notebooks: cheats and attacks gain nothing and harm nothing.

The hostile class is graded once, by the real command in a subprocess (a sandbox per exercise), and
the tests read its grades.csv and NAME.json files. Tests of right and wrong answers and of the
command itself are in test_class_grader.py.
"""
import copy
import json
import os
import socket
import subprocess
import threading

import nbformat
import pytest
from conftest import ROOT
from test_class_grader import NOTEBOOK, RIGHT, grade_class, needs_bwrap, points

from grading.sandbox import bubblewrap
from scripts.notebook_tools import answered_notebook, tagged_cells, write_class

pytestmark = pytest.mark.slow
# Each exercise's time limit in the hostile class: what the endless loop costs. A right answer takes a
# few seconds alone, but 25 s was passed under make test's load, other tests grading beside it.
TIME_LIMIT_S = 90

class Listener:
    """A TCP server on 127.0.0.1 that records every connection it gets."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port, self.connections = self.server.getsockname()[1], []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection.recv(100))


def attacks(port, canary, secret):
    """name -> (graded cells, what the attack tries)."""
    blank_1 = tagged_cells(NOTEBOOK, "graded", "UNQ_C1")[0].source
    forged = json.dumps({"cell_error": None, "q_network": {"description": {"value": {
        "kind": "Sequential", "model": True, "input_shape": [None, 8], "output_shape": [2, 4],
        "layers": [{"kind": "Dense", "dense": True, "units": u, "use_bias": True, "activation": a,
                    "activation_outputs": None} for u, a in ((64, "relu"), (64, "relu"), (4, "linear"))]}},
        "set_weights": {"value": None}, "outputs": {"value": [[0.0] * 4] * 6}}})
    return {
        "patches_public_tests": {"UNQ_C1": blank_1 + "\nimport public_tests\n"
                                 "public_tests.check_network = public_tests.check_optimizer = lambda *a, **k: None\n"
                                 "public_tests.test_network = lambda *a: print('All tests passed!')\n"},
        "prints_a_pass_and_exits": {"UNQ_C1": "# UNQ_C1\nprint('All tests passed!')\nimport os\nos._exit(0)\n",
                                    "UNQ_C2": "# UNQ_C2\nprint('All tests passed!')\nraise SystemExit(0)\n"},
        "always_equal_objects": {
            "UNQ_C1": "# UNQ_C1\nclass Anything(float):\n    __eq__ = lambda self, other: True\n"
                      "    def __getattr__(self, name): return self\n    def __call__(self, *a, **k): return self\n"
                      "q_network = target_q_network = optimizer = Anything(1.0)\n",
            "UNQ_C2": "# UNQ_C2\nclass Anything(float):\n    __eq__ = lambda self, other: True\n"
                      "def compute_loss(*args):\n    return Anything(0.0)\n"},
        "patches_tensorflow_for_the_next_cell": {
            "UNQ_C1": blank_1 + "\ntf.reduce_max = lambda *a, **k: 0.0\ntf.keras.losses.MSE = lambda *a: 0.0\n"
                      "import numpy\nnumpy.allclose = numpy.isclose = lambda *a, **k: True\n",
            "UNQ_C2": RIGHT["UNQ_C2"]},
        "endless_loop": {"UNQ_C1": "# UNQ_C1\nwhile True:\n    pass\n", "UNQ_C2": RIGHT["UNQ_C2"]},
        "allocates_6_gib": {"UNQ_C1": RIGHT["UNQ_C1"],
                            "UNQ_C2": "# UNQ_C2\nimport numpy\nhog = numpy.ones(6 * 2**30 // 8)\n" + RIGHT["UNQ_C2"]},
        "reaches_a_local_server": {"UNQ_C1": RIGHT["UNQ_C1"] + f"\nimport socket\ntry:\n"
                                   f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'escaped')\n"
                                   "    print('NETWORK REACHED')\nexcept OSError as error:\n"
                                   "    print('no network:', error)\n"},
        "writes_outside": {"UNQ_C1": RIGHT["UNQ_C1"] + "\nimport pathlib\n"
                           f"for target in [{str(canary)!r}, '/grader/public_tests.py', {str(ROOT / 'utils.py')!r}]:\n"
                           "    try:\n        pathlib.Path(target).write_text('overwritten')\n"
                           "        print('WROTE', target)\n    except OSError as error:\n"
                           "        print('could not write:', error)\n"
                           f"print('SEES SECRET' if pathlib.Path({str(secret)!r}).exists()"
                           " else 'no secret in reach')\n"},
        "kills_its_parent": {"UNQ_C1": "# UNQ_C1\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                             "os.killpg(os.getpgid(0), signal.SIGKILL)\n"},
        "kills_everything_it_can": {"UNQ_C1": "# UNQ_C1\nimport os, signal\nos.kill(-1, signal.SIGKILL)\n"},
        "floods_its_output": {"UNQ_C1": "# UNQ_C1\nimport sys\nfor _ in range(300):\n"
                              "    sys.stdout.write('flood ' * 200000)\n" + RIGHT["UNQ_C1"]},
        "forks_without_end": {"UNQ_C1": "# UNQ_C1\nimport os\nwhile True:\n    os.fork()\n"},
        "one_network_under_two_names": {"UNQ_C1": RIGHT["UNQ_C1"] + "\ntarget_q_network = q_network\n",
                                        "UNQ_C2": RIGHT["UNQ_C2"]},
        "prints_escape_sequences": {"UNQ_C1": "# UNQ_C1\nprint('\\x1b[2J\\x1b[31mALL PASSED\\x1b]0;title\\x07')\n"
                                    "raise ValueError('\\x1b[1Aup')\n"},
        "nests_the_report_deeply": {"UNQ_C1": "# UNQ_C1\nimport os\nfor fd in range(3, 64):\n    try:\n"
                                   "        os.write(fd, b'[' * 1000000)\n    except OSError:\n        pass\n"
                                   "os._exit(0)\n"},
        "forges_the_report": {"UNQ_C1": "# UNQ_C1\nimport os\nfor fd in range(3, 64):\n    try:\n"
                              f"        os.write(fd, {forged.encode()!r})\n    except OSError:\n        pass\n"
                              "os._exit(0)\n"},
    }


def with_passing_outputs(notebook):
    """A copy of notebook, its graded and test cells saved with the output of tests that passed."""
    saved = copy.deepcopy(notebook)
    for cell in [*tagged_cells(saved, "test"), *tagged_cells(saved, "graded")]:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="All tests passed!\n")]
        cell.execution_count = 1
    return saved


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    folder, out = tmp_path_factory.mktemp("hostile"), tmp_path_factory.mktemp("hostile-grades")
    canary, secret = out / "escaped.txt", folder / "secret-of-another-learner.txt"
    secret.write_text("the other learner's answers")
    listener = Listener()
    others = {"blank_with_passing_outputs": with_passing_outputs(NOTEBOOK), "not_a_notebook": os.urandom(2000),
              "nests_its_json_deeply": b"[" * 100_000 + b"]" * 100_000,  # Python's parser recurses
              "honest": answered_notebook(NOTEBOOK), "=HYPERLINK(1)": answered_notebook(NOTEBOOK)}
    write_class(folder, {**attacks(listener.port, canary, secret), **others}, NOTEBOOK)
    utils_before = (ROOT / "utils.py").read_bytes()
    result, rows = grade_class(folder, out, "--timeout", str(TIME_LIMIT_S), "--memory", "1536")
    yield {"result": result, "rows": rows, "out": out, "canary": canary, "listener": listener,
           "utils_unchanged": (ROOT / "utils.py").read_bytes() == utils_before}
    listener.server.close()


def feedback(out, name):
    """All the text of a submission's results: each part's feedback and what its cells printed."""
    results = json.loads((out / f"{name}.json").read_text())
    return " ".join([results["output"], *(test["output"] for test in results["tests"])])


@needs_bwrap
def test_the_grader_survives_a_hostile_class_and_grades_every_notebook(hostile_class):
    result, rows = hostile_class["result"], hostile_class["rows"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(rows) == len(attacks(0, "", "")) + 5
    assert rows["honest"]["score"] == "20"
    assert f"Graded {len(rows) - 2} of {len(rows)} submissions (2 invalid)" in result.stdout


@needs_bwrap
@pytest.mark.parametrize("name", ["patches_public_tests", "prints_a_pass_and_exits", "always_equal_objects",
                                  "blank_with_passing_outputs", "kills_its_parent",
                                  "kills_everything_it_can", "forks_without_end", "forges_the_report",
                                  "nests_the_report_deeply"])
def test_cheats_and_attacks_score_nothing(hostile_class, name):
    row = hostile_class["rows"][name]
    assert (row["status"], row["UNQ_C1"]) == ("graded", "0")
    if name in ("prints_a_pass_and_exits", "always_equal_objects", "blank_with_passing_outputs"):
        assert row["UNQ_C2"] == "0"


@needs_bwrap
@pytest.mark.parametrize("name, exercise, words", [
    ("endless_loop", "UNQ_C1", f"time limit of {TIME_LIMIT_S}"),
    ("allocates_6_gib", "UNQ_C2", "MemoryError"),
    ("patches_tensorflow_for_the_next_cell", "UNQ_C1", "not done yet"),
])
def test_a_failure_costs_that_exercise_only(hostile_class, name, exercise, words):
    row, other = hostile_class["rows"][name], {"UNQ_C1": "UNQ_C2", "UNQ_C2": "UNQ_C1"}[exercise]
    assert row[exercise] == "0" and row[other] == "10"
    assert words in feedback(hostile_class["out"], name)


@needs_bwrap
def test_one_network_under_two_names_loses_the_target_networks_points(hostile_class):
    out = hostile_class["out"]
    assert points(out, "one_network_under_two_names", "UNQ_C1") == {"q_network": 4, "target_q_network": 0,
                                                                    "optimizer": 2}
    assert "one network under two names" in feedback(out, "one_network_under_two_names")


@needs_bwrap
def test_nothing_escapes_the_sandbox(hostile_class):
    out = hostile_class["out"]
    assert hostile_class["listener"].connections == []  # the server on 127.0.0.1 was never reached
    assert "no network" in feedback(out, "reaches_a_local_server")
    assert not hostile_class["canary"].exists() and hostile_class["utils_unchanged"]
    written = feedback(out, "writes_outside")
    # A write can succeed only in the sandbox's own /tmp (where a clone in /tmp has its folder), thrown
    # away with it: the host's files above are untouched.
    assert all(line.startswith("WROTE /tmp/") for line in written.splitlines() if line.startswith("WROTE"))
    assert "could not write" in written and "no secret in reach" in written
    assert hostile_class["rows"]["reaches_a_local_server"]["UNQ_C1"] == "10"  # the attempt costs nothing either


@needs_bwrap
def test_a_python_environment_under_tmp_is_seen_read_only_and_nothing_else_there(tmp_path, monkeypatch):
    """A clone in a temporary folder: its environment is bound into the private /tmp, read-only, alone."""
    from grading import sandbox

    environment = tmp_path / "clone" / ".venv"
    environment.mkdir(parents=True)
    (environment / "marker").write_text("the environment")
    (tmp_path / "clone" / "secret.txt").write_text("a grader's file")
    monkeypatch.setattr(sandbox, "python_dirs", lambda: [str(environment)])
    arguments = sandbox.bwrap_arguments(bubblewrap(), tmp_path, report_fd=-1)  # the command after "--" is ours
    script = (f"cat {environment}/marker; echo; ls -A {tmp_path}/clone; "
              f"echo changed > {environment}/marker 2>/dev/null && echo WRITABLE")
    result = subprocess.run([*arguments[:arguments.index("--") + 1], "/bin/sh", "-c", script],
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["the", "environment", ".venv"], result.stdout + result.stderr


@needs_bwrap
def test_a_flood_of_output_is_cut_and_the_results_stay_small(hostile_class):
    out = hostile_class["out"]
    assert hostile_class["rows"]["floods_its_output"]["UNQ_C1"] == "10"
    assert all(path.stat().st_size < 2**20 for path in out.glob("*.json"))
    assert (out / "floods_its_output.json").stat().st_size < 50_000


@needs_bwrap
def test_no_escape_sequence_reaches_a_terminal_and_no_formula_a_spreadsheet(hostile_class):
    out, rows = hostile_class["out"], hostile_class["rows"]
    text = (out / "prints_escape_sequences.json").read_text()
    assert "ALL PASSED" in json.loads(text)["output"] and "\\u001b" not in text and "\x1b" not in text
    assert "\x1b" not in hostile_class["result"].stdout + hostile_class["result"].stderr
    assert rows["'=HYPERLINK(1)"]["score"] == "20"  # quoted: a spreadsheet shows it as text


@needs_bwrap
def test_files_that_are_not_notebooks_are_invalid_with_a_plain_message(hostile_class):
    for name in ("not_a_notebook", "nests_its_json_deeply"):
        row = hostile_class["rows"][name]
        assert (row["status"], row["score"]) == ("invalid", "0")
        assert "not a Jupyter notebook" in row["message"]


