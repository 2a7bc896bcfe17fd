"""Grade a class's notebooks: each graded cell alone, in a sandbox, judged outside it.

Usage: python -m grading PATH... [--out DIR] [--jobs N] [--timeout SECONDS] [--memory MIB] [--regrade]
                        [--address ADDRESS]
       python -m grading --gradescope ZIP [--timeout SECONDS] [--memory MIB] [--visibility WHEN]

PATH is a notebook or a folder of notebooks (searched to any depth). For each submission, each
exercise's graded cell (first line `# UNQ_C1` or `# UNQ_C2`, or the cell's metadata) runs after
the notebook's own set-up cells, taken from the grader's copy of the notebook, never the learner's,
in a sandbox of its own (grading/sandbox.py); what it reports is judged here (grading/judge.py).
Saved outputs count for nothing. Writes DIR/NAME.json (Gradescope's results.json form) for each
submission NAME as it ends, and DIR/grades.csv (one row per submission graded so far) with it. A
submission whose NAME.json was made from the same notebook by the same grader is not graded again
(grading/records.py), so after Ctrl-C or a crash the same command finishes the class; --regrade
grades them all. With --address, each sandbox runs as a task on a Ray cluster whose nodes were
checked first (scripts/cluster.py); the judging and the files stay here. Exit 0 when every
submission has its row. --gradescope writes Gradescope's autograder zip instead, which grades
each submission with this same code (grading/gradescope.py).
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

from grading import judge, records
from grading.sandbox import ClusterSandbox, Sandbox
from scripts import ROOT
from scripts.notebook_tools import EXERCISES, hyperparameters, setup_sources

NOTEBOOK_SIZE_LIMIT = 20 * 2**20  # bytes; a larger notebook holds big saved outputs (or is no notebook)
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


def print_feedback(results, stream=sys.stdout):
    """A submission's points and feedback, for a learner grading their own notebook."""
    if results["extra_data"]["status"] == "invalid":
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
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="a notebook, or a folder of notebooks")
    parser.add_argument("--out", type=Path, default=DEFAULTS["out"], help="folder for grades.csv and NAME.json "
                        "(default: build/grades)")
    parser.add_argument("--jobs", type=_positive(int), default=None,
                        help="exercises graded at once (default: the number of cores, or the cluster's CPUs)")
    parser.add_argument("--address", metavar="ADDRESS", help="run each exercise's sandbox on this Ray cluster "
                        "(auto, HOST:PORT or ray://HOST:10001); see docs/teaching.md")
    parser.add_argument("--timeout", type=_positive(float), default=DEFAULTS["timeout"],
                        help="seconds each exercise may run (default: 60)")
    parser.add_argument("--memory", type=_positive(int), default=DEFAULTS["memory"],
                        help="MiB of memory each exercise may use (default: 2048)")
    parser.add_argument("--regrade", action="store_true", help="grade every submission again, even those "
                        "whose results in --out were made from the same notebook by the same grader")
    parser.add_argument("--gradescope", type=Path, metavar="ZIP", help="write Gradescope's autograder zip to ZIP "
                        "(it grades with --timeout and --memory), and grade nothing here")
    parser.add_argument("--visibility", choices=("visible", "after_due_date", "after_published", "hidden"),
                        default="visible", help="with --gradescope: when learners see their results (Gradescope's "
                        "words; default: visible, at once)")
    arguments = parser.parse_args(argv)
    if bool(arguments.paths) == bool(arguments.gradescope):
        parser.error("give the notebooks or folders to grade, or --gradescope ZIP, not both")
    for path in arguments.paths:
        if not path.exists():
            parser.error(f"no such file or folder: {path}")
    return arguments


def connect(address):
    """The Ray cluster at address, its nodes checked for grading; None, once it has said why not."""
    from scripts.cluster import Cluster, ClusterError  # only here: the Gradescope zip has no need of it

    try:
        return Cluster(address, grading=True, stream=sys.stderr)
    except ClusterError as error:
        print(f"python -m grading: {error}", file=sys.stderr)
        return None


def main(argv=None):
    arguments = parse_arguments(argv)
    limits = {"timeout": arguments.timeout, "memory_mib": arguments.memory}
    if arguments.gradescope:
        from grading import gradescope

        gradescope.write_zip(arguments.gradescope, grader_setup(), limits, arguments.visibility)
        print(f"Wrote {arguments.gradescope}: upload it as a programming assignment's autograder on Gradescope "
              "(docs/teaching.md says how).")
        return 0
    if sys.platform == "win32":  # the sandbox's report channel is an inherited pipe, which Windows cannot pass
        print("The class grader runs on Linux and macOS; on Windows, run it in WSL.", file=sys.stderr)
        return 2
    submissions = find_notebooks(arguments.paths)
    if not submissions:
        print(f"No notebooks (.ipynb) in {', '.join(map(str, arguments.paths))}: nothing to grade.", file=sys.stderr)
        return 2
    for submission in submissions:
        read_submission(submission)
    started, cluster = time.monotonic(), None
    try:
        if arguments.address and (cluster := connect(arguments.address)) is None:
            return 2
        jobs = arguments.jobs or (cluster.cpus if cluster else os.cpu_count() or 1)
        rows = grade(submissions, arguments.out, jobs, limits, regrade=arguments.regrade, cluster=cluster)
    except KeyboardInterrupt:
        print(f"\nInterrupted: the submissions graded so far are in {arguments.out}.", file=sys.stderr)
        return 130
    finally:
        if cluster:
            print(cluster.where())
            cluster.close()
    if len(submissions) == 1:
        print_feedback(json.loads((arguments.out / f"{submissions[0].name}.json").read_text()))
    graded = [row for row in rows if row["status"] == "graded"]
    mean = sum(row["score"] for row in graded) / len(graded) if graded else 0.0
    print(f"Graded {len(graded)} of {len(rows)} submissions ({len(rows) - len(graded)} invalid) in "
          f"{time.monotonic() - started:.0f} s: mean score {mean:.1f}/{MAX_SCORE}; results in {arguments.out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
