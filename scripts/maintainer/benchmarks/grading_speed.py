"""Grading speed: the class grader against executing whole notebooks, the way nbgrader grades.

Makes a class of ordinary submissions (the hints' answers, and the usual mistakes, in turn),
grades it with the class grader's own code (grading/: a sandbox per exercise, --jobs in parallel), and
checks each grade. In the same run it executes whole answered notebooks top to bottom in a
kernel, one after the other, training included (until solved, or --episodes), and compares
the rates. The last line printed is a JSON object with the figures.

Usage: python -m scripts.maintainer.benchmarks.grading_speed [--submissions 40] [--whole-notebooks 2] [--jobs N]
                                                             [--episodes N]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from nbclient import NotebookClient

from grading.grader import find_notebooks, grade, read_submission
from scripts.learner.run_notebook import notebook_client
from scripts.notebook_tools import (
    answered_notebook,
    copy_learner_files,
    hint_answers,
    load_notebook,
    write_class,
)

# Ordinary submissions: (name, edit of the answered notebook's graded cells, expected UNQ_C1 and UNQ_C2 points)
KINDS = (("right", {}, (10, 10)),
         ("learning_rate_0.01", {"UNQ_C1": ("learning_rate=ALPHA", "learning_rate=0.01")}, (8, 10)),
         ("no_done_mask", {"UNQ_C2": (" * (1 - done_vals)", "")}, (10, 5)),
         ("mean_absolute_error", {"UNQ_C2": ("MSE(y_targets", "tf.keras.losses.MAE(y_targets")}, (10, 5)),
         ("relu_output", {"UNQ_C1": ("activation='linear'", "activation='relu'")}, (2, 10)))


def make_class(folder, count):
    """count ordinary submissions in folder, cycling through KINDS; returns their Submissions, read, and the
    points each is expected to get, by name."""
    notebook = load_notebook()
    right = hint_answers(notebook)
    learners, expected = {}, {}
    for number in range(count):
        kind, edits, points = KINDS[number % len(KINDS)]
        name = f"{number:03d}_{kind}"
        learners[name] = cells = dict(right)
        for exercise, (old, new) in edits.items():
            cells[exercise] = cells[exercise].replace(old, new)
        expected[name] = points
    submissions = find_notebooks(write_class(folder, learners, notebook))
    for submission in submissions:
        read_submission(submission)
    return submissions, expected


def grading_rate(count, jobs):
    """(submissions per minute, seconds, whether every grade was the expected one)."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        submissions, expected = make_class(folder, count)
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            rows = grade(submissions, folder / "grades", jobs, {"timeout": 120.0, "memory_mib": 2048}, stream=quiet)
        seconds = time.perf_counter() - started
    right = all((row["UNQ_C1"], row["UNQ_C2"]) == expected[row["submission"]] for row in rows)
    return 60 * count / seconds, seconds, right


def whole_notebook_rate(count, episodes):
    """(notebooks per minute, seconds): answered notebooks executed top to bottom, one after the other."""
    started = time.perf_counter()
    for _ in range(count):
        with tempfile.TemporaryDirectory() as workdir:
            copy_learner_files(workdir)
            (Path(workdir) / "videos").mkdir()
            notebook = answered_notebook(load_notebook(), num_episodes=episodes)
            notebook_client(notebook, workdir, client_class=NotebookClient).execute()
    seconds = time.perf_counter() - started
    return 60 * count / seconds, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=40, help="submissions graded (default 40)")
    parser.add_argument("--whole-notebooks", type=int, default=2, help="whole notebooks executed (default 2)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="grading jobs (default: the cores)")
    parser.add_argument("--episodes", type=int, help="cap the whole notebooks' training (default: until solved)")
    args = parser.parse_args()

    print(f"Grading {args.submissions} submissions with {args.jobs} jobs...", flush=True)
    rate, seconds, right = grading_rate(args.submissions, args.jobs)
    print(f"  {seconds:.1f} s: {rate:.1f} submissions a minute; every grade as expected: {right}", flush=True)
    print(f"Executing {args.whole_notebooks} whole notebooks, training included...", flush=True)
    whole_rate, whole_seconds = whole_notebook_rate(args.whole_notebooks, args.episodes)
    print(f"  {whole_seconds:.1f} s: {whole_rate:.2f} notebooks a minute", flush=True)
    print(json.dumps({"submissions": args.submissions, "jobs": args.jobs, "grading_seconds": round(seconds, 1),
                      "submissions_per_minute": round(rate, 2), "grades_as_expected": right,
                      "whole_notebooks": args.whole_notebooks, "whole_notebook_seconds": round(whole_seconds, 1),
                      "whole_notebooks_per_minute": round(whole_rate, 3), "episodes": args.episodes,
                      "speedup_vs_whole_notebook": round(rate / whole_rate, 1), "cpu_count": os.cpu_count(),
                      "python": sys.version.split()[0]}))
    return 0 if right else 1


if __name__ == "__main__":
    sys.exit(main())
