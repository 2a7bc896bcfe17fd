"""OUTSIDE THE SANDBOX: the class grader's work, for its two commands (python -m grading, in
grading/__main__.py, and Gradescope's autograder, grading/gradescope.py).

It reads each submission's notebook (find_notebooks, read_submission: its graded cells, or why it is
not a notebook of this assignment), runs each graded cell in a sandbox of its own (grading/sandbox.py)
on probe inputs drawn here, judges what the sandbox reports (grading/judge.py), and writes each
submission's NAME.json and the class's grades.csv as they end, keeping the results already made from
the same notebook by the same grader (grading/records.py). All of it runs in the grader's process,
never next to the learner's code.
"""
import csv
import io
import json
import os
import re
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grading import judge, records
from grading.sandbox import ClusterSandbox, Sandbox
from scripts.notebook_tools import EXERCISES, hyperparameters, setup_sources

NOTEBOOK_SIZE_LIMIT = 20 * 2**20  # bytes; a larger notebook holds big saved outputs (or is no notebook)
CSV_COLUMNS = ("submission", "status", "score", "max_score", *EXERCISES, "message")
MAX_SCORE = sum(sum(parts.values()) for parts in judge.POINTS.values())


class InvalidSubmission(Exception):
    """A file that is not a notebook of this assignment; its message says why, in plain words."""


@dataclass
class Submission:
    """One learner's notebook, and what reading and grading it found."""
    name: str
    path: Path
    cells: dict = field(default_factory=dict)  # exercise -> the learner's graded cell's source
    verdicts: dict = field(default_factory=dict)  # exercise -> list of verdicts
    outputs: dict = field(default_factory=dict)  # exercise -> what the learner's code printed
    seconds: float = 0.0
    invalid: str | None = None
    sha256: str | None = None  # of the notebook's bytes, as read
    notes: dict = field(default_factory=dict)  # exercise -> which of several cells marked for it was graded


# ----------------------------------------------------------------------------- reading submissions

def find_notebooks(paths):
    """A Submission for each notebook given, and each in the folders given.

    Each is named by its file's name without .ipynb; where two share a name (one folder per learner,
    say), by its path inside the folder given, with "__" for "/".
    """
    found = []
    for given in paths:
        if given.is_dir():
            found += [(path.relative_to(given).with_suffix("").as_posix(), path)
                      for path in sorted(given.rglob("*.ipynb")) if ".ipynb_checkpoints" not in path.parts]
        else:
            found.append((given.stem, given))
    stems = [Path(relative).name for relative, _ in found]
    submissions, taken = [], set()
    for (relative, path), stem in zip(found, stems, strict=True):
        name = _unique(stem if stems.count(stem) == 1 else relative.replace("/", "__"), taken)
        taken.add(name)
        submissions.append(Submission(name=name, path=path))
    return submissions


def _unique(name, taken):
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}-{number}", number + 1
    return candidate


_MARKER = {exercise: re.compile(rf"#\s*{exercise}\b") for exercise in EXERCISES}


def _source(cell):
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise InvalidSubmission("a cell's source is not text: this is not a Jupyter notebook")
    return source


def _marks(cell, exercise):
    """Whether a code cell is the graded cell of exercise: its first line, or its metadata, says so."""
    lines = [line.strip() for line in _source(cell).splitlines() if line.strip()]
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    tags = metadata.get("tags") if isinstance(metadata.get("tags"), list) else []
    return bool(lines and _MARKER[exercise].fullmatch(lines[0])) or (
        metadata.get("exercise") == exercise and "graded" in tags)


def read_submission(submission):
    """Read a submission's notebook: its hash, its graded cells and notes on them; or why it is invalid."""
    try:
        data = _notebook_bytes(submission.path)
        submission.sha256 = records.sha256(data)
        submission.cells, submission.notes = _graded_cells(data)
    except InvalidSubmission as invalid:
        submission.invalid = str(invalid)
    except OSError as error:
        submission.invalid = f"could not be read ({error.strerror})"


def read_graded_cells(path):
    """{exercise: source} of a notebook's graded cells (the last one marked, if several are)."""
    return _graded_cells(_notebook_bytes(path))[0]


def _notebook_bytes(path):
    if path.is_symlink() or not path.is_file():
        raise InvalidSubmission("not a regular file (a link or a folder): not a notebook")
    size = path.stat().st_size
    if size > NOTEBOOK_SIZE_LIMIT:
        raise InvalidSubmission(
            f"the notebook is {size / 2**20:.1f} MiB, over the limit of {NOTEBOOK_SIZE_LIMIT // 2**20} MiB. A notebook "
            "this large holds big saved outputs (videos, plots). Open it, choose Kernel > Restart Kernel and Clear "
            "Outputs of All Cells (in Colab: Edit > Clear all outputs), save it, and submit it again.")
    return path.read_bytes()


def _graded_cells(data):
    """({exercise: source}, {exercise: note}) of a notebook's bytes: the last cell marked for each exercise,
    and, where several are marked, a note saying which one was graded."""
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidSubmission("not a Jupyter notebook: the file is not JSON text") from None
    except RecursionError:
        raise InvalidSubmission("not a Jupyter notebook: its JSON nests deeper than Python can read") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise InvalidSubmission("not a Jupyter notebook (version 4): it has no list of cells")
    code = [cell for cell in notebook["cells"] if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    cells, notes = {}, {}
    for exercise in EXERCISES:
        marked = [cell for cell in code if _marks(cell, exercise)]
        if marked:
            cells[exercise] = _source(marked[-1])
        if len(marked) > 1:
            notes[exercise] = _several_marked(exercise, len(marked), cells[exercise])
    if not cells:
        raise InvalidSubmission("no graded cell: no code cell starts with '# UNQ_C1' or '# UNQ_C2'")
    return cells, notes


def _several_marked(exercise, count, graded):
    """The note for a notebook with count cells marked for exercise: the last was graded, this one."""
    code = [line.strip() for line in graded.splitlines() if line.strip() and not line.strip().startswith("#")]
    begins = f", the one whose code begins: {code[0][:80]}" if code else " (it holds nothing but comments)"
    return (f"Your notebook has {count} cells marked # {exercise}. The last of them (the lowest in the notebook) "
            f"was graded{begins}. If you meant another one, delete the others and submit again.")


# ----------------------------------------------------------------------------- grading

def grade_exercise(sandbox, submission, exercise, setup, alpha, limits):
    """Run one graded cell in a sandbox on probe inputs drawn now, and judge its report."""
    if exercise not in submission.cells:
        message = f"No cell marked # {exercise} in this notebook: it was deleted or its first line changed."
        return judge.all_fail(exercise, message), "", 0.0
    probe, expected = judge.make_probe(exercise, np.random.default_rng(secrets.randbits(128)))
    task = {"exercise": exercise, "setup": setup, "answer": submission.cells[exercise], "probe": probe,
            "memory_mib": limits["memory_mib"], "seconds": limits["timeout"]}
    run = sandbox.run(task, limits["timeout"], limits["memory_mib"])
    try:
        verdicts = judge.judge(exercise, run, expected, alpha, limits)
    except Exception as error:  # whatever a report holds, one exercise never stops the class
        verdicts = judge.all_fail(exercise, f"The grader could not judge what your cell reported "
                                            f"({type(error).__name__}). No points for this exercise.")
    return verdicts, run.output, run.seconds


def results_json(submission, made_from):
    """The submission's results in Gradescope's results.json form; its extra_data holds the status, the
    message for the teacher, and what the results were made from (made_from: grading/records.py)."""
    extra = {"status": "invalid" if submission.invalid else "graded",
             "message": submission.invalid or " ".join(submission.notes.values()), **made_from}
    if submission.invalid:
        return {"score": 0, "output": f"Not graded: {submission.invalid}", "tests": [], "extra_data": extra}
    tests = []
    for exercise in EXERCISES:
        note = f"\n\n{submission.notes[exercise]}" if exercise in submission.notes else ""
        tests += [{"name": f"{exercise} {verdict['part']}: {judge.TITLES[verdict['part']]}",
                   "score": verdict["score"], "max_score": verdict["max_score"], "output": verdict["message"] + note,
                   "status": "passed" if verdict["score"] == verdict["max_score"] else "failed",
                   "visibility": "visible"} for verdict in submission.verdicts[exercise]]
    score = sum(test["score"] for test in tests)
    notes = "".join(f"\n\n{note}" for note in submission.notes.values())
    printed = "".join(f"\n\nWhat the cell {exercise} printed (its start and end):\n{submission.outputs[exercise]}"
                      for exercise in EXERCISES if submission.outputs.get(exercise, "").strip())
    return {"score": score, "execution_time": round(submission.seconds, 1),
            "output": f"{score} of {MAX_SCORE} points.{notes}{printed}", "tests": tests, "extra_data": extra}


def csv_row(name, results):
    """A row of grades.csv, from a submission's name and its results alone."""
    points = {exercise: sum(test["score"] for test in results["tests"] if test["name"].startswith(f"{exercise} "))
              for exercise in EXERCISES}
    # A name a spreadsheet would read as a formula (=, +, -, @) is quoted, so opening the file runs nothing.
    name = "'" + name if name[:1] in ("=", "+", "-", "@") else name
    return {"submission": name, "status": results["extra_data"]["status"], "score": results["score"],
            "max_score": MAX_SCORE, **points, "message": results["extra_data"]["message"]}


def write_atomically(path, text):
    """Write text to path through a temporary file, so an interruption leaves the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def write_csv(out, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: row["submission"]))
    write_atomically(out / "grades.csv", buffer.getvalue())


class Progress:
    """A progress bar over the submissions on a terminal; elsewhere, one line per submission."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.stream, self.started = total, 0, stream, time.monotonic()
        self.bar = stream.isatty()

    def advance(self, submission, results):
        self.done += 1
        elapsed = time.monotonic() - self.started
        if self.bar:
            filled = int(30 * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} submissions, "
                              f"{elapsed:.0f} s")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {submission.name}: {results['extra_data']['status']}, "
                              f"{results['score']}/{MAX_SCORE} ({elapsed:.0f} s)\n")
        self.stream.flush()


def grader_setup():
    """What the grader runs before each graded cell (the notebook's set-up cells) and the ALPHA it judges
    the optimizer by, from the grader's copy of the notebook; the Gradescope zip carries them as they are."""
    return {"cells": setup_sources(), "alpha": hyperparameters()["ALPHA"]}


def grade(submissions, out, jobs, limits, stream=sys.stderr, setup=None, regrade=False, cluster=None):
    """Grade submissions (read by read_submission), writing NAME.json, and grades.csv with it, as each ends.

    A submission whose NAME.json in out was made from the same notebook, grader and limits keeps it,
    unless regrade. setup: grader_setup()'s, by default. Returns the rows of grades.csv. Each
    (submission, exercise) is one job; jobs run in parallel, here or, given a scripts.cluster.Cluster,
    as its tasks.
    """
    out.mkdir(parents=True, exist_ok=True)
    setup = setup or grader_setup()
    grader = records.grader_sha256(setup)
    made_from = {submission.name: {"notebook_sha256": submission.sha256, "grader_sha256": grader, "limits": limits}
                 for submission in submissions}
    rows, fresh = [], []
    for submission in submissions:
        kept = None if regrade else records.kept_results(out / f"{submission.name}.json", made_from[submission.name])
        if kept:
            rows.append(csv_row(submission.name, kept))
        else:
            fresh.append(submission)
    write_csv(out, rows)
    if rows:
        print(f"{len(rows)} of {len(submissions)} submissions are unchanged since this grader graded them: "
              "their results are kept (--regrade grades them again).", file=stream)
    valid = [submission for submission in fresh if not submission.invalid]
    sandbox = (ClusterSandbox(cluster) if cluster else Sandbox()) if valid else None
    if sandbox:
        print(f"Isolation: {sandbox.isolation}.", file=stream)
    progress = Progress(len(fresh), stream)

    def finish(submission):
        isolation = None if submission.invalid else sandbox.isolation
        results = results_json(submission, dict(made_from[submission.name], isolation=isolation))
        write_atomically(out / f"{submission.name}.json", json.dumps(results, indent=1))
        rows.append(csv_row(submission.name, results))
        write_csv(out, rows)
        progress.advance(submission, results)

    for submission in fresh:
        if submission.invalid:
            finish(submission)
    if not valid:
        return rows
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(grade_exercise, sandbox, submission, exercise, setup["cells"], setup["alpha"], limits):
                   (submission, exercise) for submission in valid for exercise in EXERCISES}
        for future in as_completed(futures):
            submission, exercise = futures[future]
            verdicts, output, seconds = future.result()
            submission.verdicts[exercise], submission.outputs[exercise] = verdicts, judge.printable(output)
            submission.seconds += seconds
            if len(submission.verdicts) == len(EXERCISES):
                finish(submission)
    except KeyboardInterrupt:  # stop now: nothing queued starts, the runs under way are killed
        pool.shutdown(wait=False, cancel_futures=True)
        sandbox.stop_all()
        raise
    finally:
        pool.shutdown(wait=True)
        write_csv(out, rows)
        sandbox.close()
    return rows
