"""The Gradescope autograder: the zip (python -m grading --gradescope), and run_autograder on the
submissions that need no sandbox (no notebook, several, a broken autograder), here on this machine.

The whole of it, setup.sh included, in a fresh Debian system laid out as Gradescope's: make
test-gradescope (tests/test_gradescope_image.py).
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from grading import gradescope, records
from grading.__main__ import DEFAULTS
from grading.grader import grader_setup

LIMITS = {"timeout": DEFAULTS["timeout"], "memory_mib": DEFAULTS["memory"]}
needs_bash = pytest.mark.skipif(sys.platform == "win32", reason="run_autograder is a bash script (Gradescope's Ubuntu)")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("zip") / "autograder.zip"
    result = subprocess.run([sys.executable, "-m", "grading", "--gradescope", str(path), "--visibility",
                             "after_published"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return path


@pytest.fixture
def autograder(autograder_zip, tmp_path):
    """Gradescope's layout in tmp_path: source/ unpacked from the zip (this machine's .venv as its own)."""
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(tmp_path / "source")
        for entry in archive.infolist():  # extractall keeps no modes; unzip, as Gradescope uses, does
            os.chmod(tmp_path / "source" / entry.filename, entry.external_attr >> 16 & 0o777)
    os.symlink(sys.prefix, tmp_path / "source" / ".venv")
    (tmp_path / "submission").mkdir()
    return tmp_path


def run_autograder(autograder):
    result = subprocess.run([str(autograder / "source" / "run_autograder")], capture_output=True, text=True,
                            timeout=600, env=dict(os.environ, AUTOGRADER=str(autograder)))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((autograder / "results" / "results.json").read_text()), result.stdout


def test_the_zip_holds_the_scripts_the_grader_and_its_set_up(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as archive:
        entries = {entry.filename: entry for entry in archive.infolist()}
        config = json.loads(archive.read("autograder.json"))
        pins = archive.read("requirements.txt").decode().splitlines()
        for name in records.grader_files():
            assert archive.read(name) == (ROOT / name).read_bytes(), name
    assert set(entries) == {"setup.sh", "run_autograder", "requirements.txt", "autograder.json",
                            *records.grader_files()}
    for name in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(entries[name].external_attr >> 16) == 0o755, name
    assert config == {"setup": grader_setup(), "limits": LIMITS, "visibility": "after_published"}
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    kept = [line for line in pins if not line.startswith("#")]
    assert set(kept) <= set(requirements) and {"numpy", "keras", "psutil", "nbformat"} <= {
        line.split("==")[0] for line in kept}
    assert not any(line.split("==")[0].lower() in gradescope.NOT_FOR_GRADING for line in kept)


def test_the_same_grader_makes_the_same_zip(autograder_zip, tmp_path):
    again = tmp_path / "again.zip"
    gradescope.write_zip(again, grader_setup(), LIMITS, "after_published")
    assert again.read_bytes() == autograder_zip.read_bytes()
    with pytest.raises(ValueError, match="visibility must be one of"):
        gradescope.write_zip(tmp_path / "x.zip", grader_setup(), LIMITS, "tomorrow")


def test_the_grader_in_the_zip_has_the_class_graders_hash(autograder):
    config = json.loads((autograder / "source" / gradescope.CONFIG).read_text())
    assert records.grader_sha256(config["setup"], root=autograder / "source") == records.grader_sha256(grader_setup())


@pytest.mark.parametrize("cpus, memory_mib, jobs, sandbox_mib", [
    (2.0, 2861, 2, 980), (4.0, 6144, 2, 2048), (1.0, 3072, 1, 2048), (0.5, 2048, 1, 1148), (2.0, 2600, 1, 1700)])
def test_the_grader_fits_its_jobs_and_memory_to_the_container(cpus, memory_mib, jobs, sandbox_mib):
    assert gradescope.fit(LIMITS, cpus, memory_mib) == (jobs, dict(LIMITS, memory_mib=sandbox_mib))


def test_a_container_too_small_is_named_with_the_setting_to_change():
    with pytest.raises(gradescope.TooSmall, match="Autograder Settings"):
        gradescope.fit(LIMITS, 0.5, 768)  # Gradescope's default container
    cpus, memory_mib = gradescope.container_resources()
    assert cpus > 0 and memory_mib > 0


@needs_bash
@pytest.mark.parametrize("files, words", [
    ({"answers.py": "q_network = None\n", "notes.pdf": "%PDF-1.4"},
     "has no notebook (.ipynb): it holds answers.py, notes.pdf"),
    ({}, "has no notebook (.ipynb): it is empty"),
    ({"a/C3_W3_A1_Assignment.ipynb": "{}", "b/copy.ipynb": "{}"}, "holds 2 notebooks (a/C3_W3_A1_Assignment.ipynb, "
                                                                   "b/copy.ipynb), and only one can be graded"),
    ({"C3_W3_A1_Assignment.ipynb": "\x00\x01 not json", "__MACOSX/._C3_W3_A1_Assignment.ipynb": "\x00"},
     "not a Jupyter notebook: the file is not JSON text"),
])
def test_a_submission_that_is_not_one_notebook_gets_a_plain_result_with_score_0(autograder, files, words):
    for name, text in files.items():
        (autograder / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (autograder / "submission" / name).write_text(text)
    results, stdout = run_autograder(autograder)
    assert results["score"] == 0 and results["tests"] == [] and words in results["output"]
    assert results["output"].startswith("Not graded: ") and results["extra_data"]["status"] == "invalid"
    assert results["visibility"] == "after_published" and results["stdout_visibility"] == "hidden"
    assert "points (invalid)" in stdout


@pytest.mark.slow
@needs_bash
def test_a_right_notebook_gets_20_and_the_teacher_alone_sees_the_isolation(autograder):
    """Here, with bubblewrap where it works (in a fresh Debian system without it: make test-gradescope)."""
    from test_class_grader import NOTEBOOK

    from grading.sandbox import BUBBLEWRAP_ISOLATION, bubblewrap
    from scripts.notebook_tools import answered_notebook, write_class

    write_class(autograder / "submission", {"C3_W3_A1_Assignment": answered_notebook(NOTEBOOK)})
    results, stdout = run_autograder(autograder)
    assert results["score"] == 20 and results["extra_data"]["status"] == "graded"
    *learners, isolation = results["tests"]
    assert {test["visibility"] for test in learners} == {"after_published"} and len(learners) == 5
    assert isolation["visibility"] == "hidden" and isolation["max_score"] == 0
    assert (isolation["output"] == BUBBLEWRAP_ISOLATION) == (bubblewrap() is not None)
    assert f"Isolation: {isolation['output']}." in stdout and "20 points (graded)" in stdout


@needs_bash
def test_the_autograder_never_crashes(autograder):
    (autograder / "submission" / "C3_W3_A1_Assignment.ipynb").write_text("{}")
    (autograder / "source" / gradescope.CONFIG).write_text("{ damaged")
    results, stdout = run_autograder(autograder)
    assert results["score"] == 0 and "This is not your mistake" in results["output"]
    assert results["extra_data"]["status"] == "error" and "JSONDecodeError" in stdout  # the teacher sees why
    os.unlink(autograder / "source" / ".venv")  # no Python at all: run_autograder's own results.json
    results, _ = run_autograder(autograder)
    assert results["score"] == 0 and "exit code 127" in results["output"] and "not your mistake" in results["output"]


def test_a_zip_needs_no_paths_and_paths_need_no_zip(tmp_path):
    result = subprocess.run([sys.executable, "-m", "grading", str(tmp_path), "--gradescope", str(tmp_path / "a.zip")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 2 and "not both" in result.stderr and not (tmp_path / "a.zip").exists()


@needs_bash
def test_setup_sh_picks_a_supported_python_from_path(tmp_path):
    """setup.sh's choice of Python, with stand-in interpreters on PATH (the real install: make test-gradescope)."""
    for name, version in (("python3", (3, 10)), ("python3.12", (3, 12)), ("python3.14", (3, 14))):
        stand_in = tmp_path / name
        stand_in.write_text(f"#!/bin/sh\nexec {sys.executable} -c \"import sys; "
                            f"sys.exit(not (3, 11) <= {version} <= (3, 13))\"\n")
        stand_in.chmod(0o755)
    script = (ROOT / "grading" / "autograder" / "setup.sh").read_text()
    finder = script[script.index("find_python() {"):script.index("\n}\n", script.index("find_python() {")) + 3]
    bash = shutil.which("bash")
    # Only the stand-ins on PATH: a system's own python3.13 (Debian trixie's) would be chosen first.
    result = subprocess.run([bash, "-c", finder + "find_python"], capture_output=True, text=True,
                            env={"PATH": str(tmp_path)})
    assert result.stdout.strip() == str(tmp_path / "python3.12")
    (tmp_path / "python3.12").unlink()
    result = subprocess.run([bash, "-c", finder + "find_python"], capture_output=True, text=True,
                            env={"PATH": str(tmp_path)})
    assert result.returncode == 1 and result.stdout == ""  # 3.10 and 3.14 only: setup.sh installs python3.11


# ----------------------------------------------------------------------------- without bubblewrap, as root

def hostile_cell(canary, pids):
    """Exercise 1's right answer, then: write into the grader's folder, kill the grader, and leave a daemon
    (out of its session) that would rewrite results later; the daemon's process ID goes to pids."""
    from test_class_grader import RIGHT

    return RIGHT["UNQ_C1"] + f"""
import os, signal, time
try:
    open({str(canary)!r}, "w").write("forged")
    print("WROTE THE GRADER'S FOLDER")
except OSError as error:
    print("could not write:", error)
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError as error:
    print("could not kill the grader:", error)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open({str(pids)!r}, "w").write(str(os.getpid()))
        while True:
            try:
                open({str(canary)!r}, "w").write("forged later")
            except OSError:
                pass
            time.sleep(0.1)
    os._exit(0)
time.sleep(1)
"""


@pytest.fixture
def open_folder():
    """A folder that every user may look into, as /autograder, and only root may write."""
    folder = Path(tempfile.mkdtemp(prefix="grader-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="needs Linux and root")
def test_without_bubblewrap_a_root_grader_runs_each_learner_as_a_user_of_its_own(open_folder):
    """As in Gradescope's container, where bubblewrap may be refused: the learner's code can neither write
    the grader's files, nor kill the grader, nor leave a process behind."""
    import psutil
    from test_class_grader import NOTEBOOK, RIGHT

    from grading import sandbox
    from scripts.notebook_tools import write_class

    if not sandbox.python_runs_as_own_user():
        pytest.skip("this Python lies where no other user may read it (under /root?): the grader runs the "
                    "learner's code as its own user, and says so")
    tmp_path = open_folder
    grader_folder, shared = tmp_path / "grades", tmp_path / "shared"
    grader_folder.mkdir(mode=0o755)
    shared.mkdir()
    shared.chmod(0o777)  # where the daemon can say who it is
    canary, pids = grader_folder / "forged.txt", shared / "daemon.pid"
    (hostile,) = write_class(tmp_path, {"hostile": {"UNQ_C1": hostile_cell(canary, pids), "UNQ_C2": RIGHT["UNQ_C2"]}},
                             NOTEBOOK)
    # A grader whose bubblewrap is refused, as a container may refuse it user namespaces.
    script = ("import sys; from grading import sandbox; sandbox.bubblewrap = lambda: None; "
              "from grading.__main__ import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", script, str(hostile), "--out", str(grader_folder)],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "as a user of its own" in result.stderr
    results = json.loads((grader_folder / "hostile.json").read_text())
    assert results["score"] == 20 and "could not write" in results["output"]
    assert "could not kill the grader" in results["output"]
    daemon = int(pids.read_text())
    assert not psutil.pid_exists(daemon) or psutil.Process(daemon).status() == psutil.STATUS_ZOMBIE
    assert not canary.exists()
