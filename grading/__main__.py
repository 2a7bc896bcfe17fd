"""Grade a class's notebooks: each graded cell alone, in a sandbox, judged outside it.

Usage: python -m grading PATH... [--out DIR] [--jobs N] [--timeout SECONDS] [--memory MIB]

PATH is a notebook or a folder of notebooks (searched to any depth). For each submission, each
exercise's graded cell (first line `# UNQ_C1` or `# UNQ_C2`, or the cell's metadata) runs after
the notebook's own set-up cells, taken from the grader's copy of the notebook, never the learner's,
in a sandbox of its own (grading/sandbox.py); what it reports is judged here (grading/judge.py).
Saved outputs count for nothing. Writes DIR/grades.csv (one row per submission) and DIR/NAME.json
(Gradescope's results.json form) for each submission NAME. Exit 0 when every submission has its row.
"""
import argparse
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

from grading import judge
from grading.sandbox import Sandbox
from scripts.notebook_tools import EXERCISES, ROOT, hyperparameters, setup_sources

NOTEBOOK_SIZE_LIMIT = 20 * 2**20  # bytes; a larger file is not a submission of this assignment
CSV_COLUMNS = ("submission", "status", "score", "max_score", *EXERCISES, "message")
MAX_SCORE = sum(sum(parts.values()) for parts in judge.POINTS.values())
DEFAULTS = {"out": ROOT / "build" / "grades", "timeout": 60.0, "memory": 2048}


class InvalidSubmission(Exception):
    """A file that is not a notebook of this assignment; its message says why, in plain words."""


@dataclass
class Submission:
    name: str
    path: Path
    cells: dict = field(default_factory=dict)  # exercise -> the learner's graded cell's source
    verdicts: dict = field(default_factory=dict)  # exercise -> list of verdicts
    outputs: dict = field(default_factory=dict)  # exercise -> what the learner's code printed
    seconds: float = 0.0
    invalid: str | None = None


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


def read_graded_cells(path):
    """{exercise: source} of a notebook's graded cells (the last one marked, if several are)."""
    if path.is_symlink() or not path.is_file():
        raise InvalidSubmission("not a regular file (a link or a folder): not a notebook")
    if path.stat().st_size > NOTEBOOK_SIZE_LIMIT:
        raise InvalidSubmission(f"larger than {NOTEBOOK_SIZE_LIMIT // 2**20} MiB: not a notebook of this assignment")
    try:
        notebook = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidSubmission("not a Jupyter notebook: the file is not JSON text") from None
    except RecursionError:
        raise InvalidSubmission("not a Jupyter notebook: its JSON nests deeper than Python can read") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise InvalidSubmission("not a Jupyter notebook (version 4): it has no list of cells")
    code = [cell for cell in notebook["cells"] if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    cells = {}
    for exercise in EXERCISES:
        marked = [cell for cell in code if _marks(cell, exercise)]
        if marked:
            cells[exercise] = _source(marked[-1])
    if not cells:
        raise InvalidSubmission("no graded cell: no code cell starts with '# UNQ_C1' or '# UNQ_C2'")
    return cells


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


def results_json(submission):
    """The submission's results in Gradescope's results.json form."""
    if submission.invalid:
        return {"score": 0, "output": f"Not graded: {submission.invalid}", "tests": [], "status": "invalid"}
    tests = [{"name": f"{exercise} {verdict['part']}: {judge.TITLES[verdict['part']]}", "score": verdict["score"],
              "max_score": verdict["max_score"], "output": verdict["message"], "visibility": "visible"}
             for exercise in EXERCISES for verdict in submission.verdicts[exercise]]
    score = sum(test["score"] for test in tests)
    printed = "".join(f"\n\nWhat the cell {exercise} printed (its start and end):\n{submission.outputs[exercise]}"
                      for exercise in EXERCISES if submission.outputs.get(exercise, "").strip())
    return {"score": score, "max_score": MAX_SCORE, "execution_time": round(submission.seconds, 1),
            "output": f"{score} of {MAX_SCORE} points.{printed}", "tests": tests, "status": "graded"}


def csv_row(submission, results):
    points = {exercise: sum(verdict["score"] for verdict in submission.verdicts.get(exercise, []))
              for exercise in EXERCISES}
    # A name a spreadsheet would read as a formula (=, +, -, @) is quoted, so opening the file runs nothing.
    name = "'" + submission.name if submission.name[:1] in ("=", "+", "-", "@") else submission.name
    return {"submission": name, "status": results["status"], "score": results["score"],
            "max_score": MAX_SCORE, **points, "message": submission.invalid or ""}


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
            self.stream.write(f"[{self.done}/{self.total}] {submission.name}: {results['status']}, "
                              f"{results['score']}/{MAX_SCORE} ({elapsed:.0f} s)\n")
        self.stream.flush()


def grade(submissions, out, jobs, limits, stream=sys.stderr):
    """Grade submissions (their cells read), writing NAME.json as each ends and grades.csv at the end.

    Returns the rows of grades.csv. Each (submission, exercise) is one job; jobs run in parallel.
    """
    out.mkdir(parents=True, exist_ok=True)
    setup, alpha = setup_sources(), hyperparameters()["ALPHA"]
    sandbox = Sandbox()
    print(f"Isolation: {sandbox.isolation}.", file=stream)
    progress, rows = Progress(len(submissions), stream), []

    def finish(submission):
        results = results_json(submission)
        write_atomically(out / f"{submission.name}.json", json.dumps(results, indent=1))
        rows.append(csv_row(submission, results))
        progress.advance(submission, results)

    for submission in submissions:
        if submission.invalid:
            finish(submission)
    valid = [submission for submission in submissions if not submission.invalid]
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(grade_exercise, sandbox, submission, exercise, setup, alpha, limits):
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


def print_feedback(results, stream=sys.stdout):
    """A submission's points and feedback, for a learner grading their own notebook."""
    if results["status"] == "invalid":
        print(results["output"], file=stream)
    for test in results["tests"]:
        print(f"{test['name']}: {test['score']}/{test['max_score']}\n    "
              + test["output"].replace("\n", "\n    "), file=stream)
    print(f"Total: {results['score']}/{MAX_SCORE}", file=stream)


# ----------------------------------------------------------------------------- command line

def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a notebook, or a folder of notebooks")
    parser.add_argument("--out", type=Path, default=DEFAULTS["out"], help="folder for grades.csv and NAME.json "
                        "(default: build/grades)")
    parser.add_argument("--jobs", type=_positive(int), default=os.cpu_count() or 1,
                        help="exercises graded at once (default: the number of cores)")
    parser.add_argument("--timeout", type=_positive(float), default=DEFAULTS["timeout"],
                        help="seconds each exercise may run (default: 60)")
    parser.add_argument("--memory", type=_positive(int), default=DEFAULTS["memory"],
                        help="MiB of memory each exercise may use (default: 2048)")
    arguments = parser.parse_args(argv)
    for path in arguments.paths:
        if not path.exists():
            parser.error(f"no such file or folder: {path}")
    return arguments


def main(argv=None):
    arguments = parse_arguments(argv)
    if sys.platform == "win32":  # the sandbox's report channel is an inherited pipe, which Windows cannot pass
        print("The class grader runs on Linux and macOS; on Windows, run it in WSL.", file=sys.stderr)
        return 2
    submissions = find_notebooks(arguments.paths)
    if not submissions:
        print(f"No notebooks (.ipynb) in {', '.join(map(str, arguments.paths))}: nothing to grade.", file=sys.stderr)
        return 2
    for submission in submissions:
        try:
            submission.cells = read_graded_cells(submission.path)
        except InvalidSubmission as invalid:
            submission.invalid = str(invalid)
        except OSError as error:
            submission.invalid = f"could not be read ({error.strerror})"
    limits = {"timeout": arguments.timeout, "memory_mib": arguments.memory}
    started = time.monotonic()
    try:
        rows = grade(submissions, arguments.out, arguments.jobs, limits)
    except KeyboardInterrupt:
        print(f"\nInterrupted: the submissions graded so far are in {arguments.out}.", file=sys.stderr)
        return 130
    if len(submissions) == 1:
        print_feedback(json.loads((arguments.out / f"{submissions[0].name}.json").read_text()))
    graded = [row for row in rows if row["status"] == "graded"]
    mean = sum(row["score"] for row in graded) / len(graded) if graded else 0.0
    print(f"Graded {len(graded)} of {len(rows)} submissions ({len(rows) - len(graded)} invalid) in "
          f"{time.monotonic() - started:.0f} s: mean score {mean:.1f}/{MAX_SCORE}; results in {arguments.out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
