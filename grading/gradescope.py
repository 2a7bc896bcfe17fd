"""Gradescope's autograder: the zip a teacher uploads, and the grading of one submission inside it.

`python -m grading --gradescope build/autograder.zip` (make gradescope) writes the zip (write_zip):
setup.sh and run_autograder (grading/autograder/), the grader's files (records.grader_files), the
pinned packages grading needs, and autograder.json (the notebook's set-up cells as the grader takes
them, ALPHA, the limits and the visibility chosen). Gradescope unpacks it into /autograder/source and
runs setup.sh once; then, for each submission, run_autograder runs this module (main), which grades
the one notebook in /autograder/submission with the class grader's own code and writes
/autograder/results/results.json, whatever the submission holds.
"""
import json
import math
import os
import re
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

from grading import grader, records
from scripts import ROOT

SCRIPTS = ROOT / "grading" / "autograder"  # setup.sh and run_autograder
CONFIG = "autograder.json"
VISIBILITY = ("visible", "after_due_date", "after_published", "hidden")  # Gradescope's words for when learners see
# Pins of requirements.txt that grading does not need: the notebook's server and its conversions, the
# simulator and its window (grading makes no environment), mp4 writing, and the tests.
NOT_FOR_GRADING = ("jupyter", "nbclient", "nbconvert", "box2d", "ufal.pybox2d", "pygame", "imageio-ffmpeg",
                   "pytest", "hypothesis")
# Memory, with room over what was measured here: the grader's own process, TensorFlow imported, 690 MiB;
# one exercise's sandbox running a right answer, 680 MiB (and it ran under a hard limit of 900 MiB). So a
# container of "3 GB" (2861 MiB, if Gradescope counts in thousands) grades both exercises at once.
GRADER_MIB = 900
SANDBOX_MIB = 900
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # every entry's date: the same files give the same zip


# ----------------------------------------------------------------------------- the zip

def grading_requirements(text):
    """requirements.txt's pins, less NOT_FOR_GRADING, under a comment saying where they come from."""
    kept = [line for line in text.splitlines()
            if re.match(r"[A-Za-z]", line) and re.match(r"[A-Za-z0-9._-]+", line)[0].lower() not in NOT_FOR_GRADING]
    return ("# The packages grading needs, pinned as in the repository's requirements.txt (whose comments say\n"
            "# why each pin is there); written by python -m grading --gradescope.\n" + "\n".join(kept) + "\n")


def _add(archive, name, data, executable=False):
    entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    entry.external_attr = (0o100755 if executable else 0o100644) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, data)


def write_zip(path, setup, limits, visibility):
    """Write Gradescope's autograder zip to path: the grader grading with setup (grader.grader_setup()'s), limits
    ({"timeout", "memory_mib"}) and its results shown to learners as visibility says."""
    if visibility not in VISIBILITY:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITY)}, got {visibility!r}")
    config = {"setup": setup, "limits": limits, "visibility": visibility}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(temporary, "w") as archive:
        for name in ("setup.sh", "run_autograder"):
            _add(archive, name, (SCRIPTS / name).read_bytes(), executable=True)
        for name in records.grader_files():
            _add(archive, name, (ROOT / name).read_bytes())
        _add(archive, "requirements.txt", grading_requirements((ROOT / "requirements.txt").read_text()))
        _add(archive, CONFIG, json.dumps(config, indent=1) + "\n")
    os.replace(temporary, path)


# ----------------------------------------------------------------------------- in Gradescope's container

def _read_number(path):
    try:
        return Path(path).read_text().split()
    except OSError:
        return None


def container_resources():
    """(CPUs, MiB of memory) this container may use: its cgroup's limits (v2, else v1), else the machine's."""
    import psutil

    cpus = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    memory = psutil.virtual_memory().total
    quota = _read_number("/sys/fs/cgroup/cpu.max")
    if quota and quota[0] != "max":
        cpus = min(cpus, int(quota[0]) / int(quota[1]))
    else:
        quota, period = _read_number("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), _read_number(
            "/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if quota and period and int(quota[0]) > 0:
            cpus = min(cpus, int(quota[0]) / int(period[0]))
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        limit = _read_number(limit_file)
        if limit and limit[0].isdigit():
            memory = min(memory, int(limit[0]))
            break
    return cpus, memory // 2**20


class TooSmall(Exception):
    """The container has too little memory to grade in; the message says which setting to raise."""


def fit(limits, cpus, memory_mib):
    """(jobs, limits) for a container of cpus and memory_mib: both exercises at once where two CPUs and
    the memory allow it, and each sandbox's memory no more than the container leaves it."""
    if memory_mib < GRADER_MIB + SANDBOX_MIB:
        raise TooSmall(f"The autograder's container has {memory_mib} MiB of memory; grading needs at least "
                       f"{math.ceil((GRADER_MIB + SANDBOX_MIB) / 1024)} GB. In Gradescope's Autograder Settings, "
                       "choose a container with 3 GB or more, then rerun the autograder on all submissions.")
    jobs = 2 if cpus >= 2 and memory_mib >= GRADER_MIB + 2 * SANDBOX_MIB else 1
    return jobs, dict(limits, memory_mib=min(limits["memory_mib"], (memory_mib - GRADER_MIB) // jobs))


def submitted_notebooks(folder):
    """The notebooks in a submission folder (a zip's __MACOSX copies and checkpoints left out), and the other files."""
    files = sorted(path for path in folder.rglob("*") if path.is_file() or path.is_symlink())
    skipped = [path for path in files if {"__MACOSX", ".ipynb_checkpoints"} & set(path.relative_to(folder).parts)
               or path.name.startswith("._")]
    notebooks = [path for path in files if path.suffix == ".ipynb" and path not in skipped]
    others = [path for path in files if path not in notebooks and path not in skipped]
    return notebooks, others


def _names(paths, folder):
    return ", ".join(path.relative_to(folder).as_posix() for path in paths[:10]) + (", ..." if len(paths) > 10 else "")


def submission_in(folder):
    """The Submission to grade: the one notebook in folder, read; or one whose invalid says what is wrong."""
    notebooks, others = submitted_notebooks(folder)
    if len(notebooks) == 1:
        submission = grader.Submission(name="submission", path=notebooks[0])
        grader.read_submission(submission)
        return submission
    if notebooks:
        why = (f"your submission holds {len(notebooks)} notebooks ({_names(notebooks, folder)}), and only one can "
               "be graded. Submit only your assignment notebook, C3_W3_A1_Assignment.ipynb.")
    else:
        found = f"it holds {_names(others, folder)}" if others else "it is empty"
        why = (f"your submission has no notebook (.ipynb): {found}. Submit your assignment notebook, "
               "C3_W3_A1_Assignment.ipynb, as Jupyter saves it or Colab downloads it (File > Download .ipynb).")
    return grader.Submission(name="submission", path=folder, invalid=why)


def for_gradescope(results, visibility, isolation):
    """The class grader's results as Gradescope shows them: learners see them as visibility says; the
    teacher alone sees, as a hidden test, the isolation the learner's code ran with."""
    results = dict(results, visibility=visibility, stdout_visibility="hidden")
    tests = [dict(test, visibility=visibility) for test in results["tests"]]
    if isolation:
        tests.append({"name": "Isolation (seen by the teacher only)", "score": 0, "max_score": 0,
                      "output": isolation, "visibility": "hidden"})
    return dict(results, tests=tests)


def failure(message, status):
    """results.json for a submission the autograder could not grade, for a reason not the learner's."""
    return {"score": 0, "output": message, "tests": [], "stdout_visibility": "hidden",
            "extra_data": {"status": status, "message": message}}


def grade_submission(folder, config):
    """results.json's content for the submission in folder, graded by the class grader's own code."""
    cpus, memory_mib = container_resources()
    try:
        jobs, limits = fit(config["limits"], cpus, memory_mib)
    except TooSmall as small:
        print(small)
        return failure(f"This submission was not graded: the autograder is set up with too little memory. "
                       f"Your teacher can fix it. ({small})", "not graded")
    print(f"Container: {cpus:g} CPUs, {memory_mib} MiB; {jobs} exercise(s) at once, {limits['memory_mib']} MiB "
          f"and {limits['timeout']:g} s each.")
    submission = submission_in(folder)
    with tempfile.TemporaryDirectory() as out:
        grader.grade([submission], Path(out), jobs, limits, stream=sys.stdout, setup=config["setup"], regrade=True)
        results = json.loads((Path(out) / f"{submission.name}.json").read_text())
    return for_gradescope(results, config["visibility"], results["extra_data"].get("isolation"))


def main(argv=None):
    """python -m grading.gradescope SUBMISSION_FOLDER RESULTS_JSON: grade, and always write RESULTS_JSON."""
    folder, results_path = (Path(argument) for argument in (argv or sys.argv[1:]))
    started = time.monotonic()
    try:
        results = grade_submission(folder, json.loads((ROOT / CONFIG).read_text()))
    except BaseException:  # whatever happens, the learner gets a results.json and the teacher the traceback
        traceback.print_exc(file=sys.stdout)
        results = failure("The autograder could not grade this submission. This is not your mistake: please tell "
                          "your teacher, who can see why in the autograder's output.", "error")
    results["execution_time"] = round(time.monotonic() - started, 1)  # Gradescope's: the whole run's seconds
    results_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = results_path.with_name(f".{results_path.name}.tmp")
    temporary.write_text(json.dumps(results, indent=1), encoding="utf-8")
    os.replace(temporary, results_path)
    print(f"Wrote {results_path}: {results['score']} points ({results['extra_data']['status']}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
