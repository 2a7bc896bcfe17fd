"""Grading a class again: the second run grades nothing, and a changed notebook alone is graded again.

Makes a class of ordinary submissions (scripts.maintainer.benchmarks.grading_speed's: the hints' answers and the usual
mistakes), grades it with the class grader's command (python -m grading), grades it again
unchanged, then once more after one learner mended a mistake. For each run it prints the seconds
(as a ratio to the first run's) and how many submissions it graded (their NAME.json rewritten).
The last line printed is a JSON object with the figures.

Usage: python -m scripts.maintainer.benchmarks.regrading [--submissions 40] [--jobs N]
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import ROOT
from scripts.maintainer.benchmarks.grading_speed import make_class


def grade_class(folder, out, jobs):
    """(seconds, names of the submissions graded): one run of the class grader's command."""
    before = {path.stem: path.stat().st_mtime_ns for path in out.glob("*.json")}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "grading", str(folder), "--out", str(out), "--jobs", str(jobs)],
                            capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"The class grader failed:\n{result.stderr[-3000:]}")
    graded = sorted(path.stem for path in out.glob("*.json") if before.get(path.stem) != path.stat().st_mtime_ns)
    return seconds, graded


def mend(path):
    """The learner of path mends the learning rate (scripts.maintainer.benchmarks.grading_speed's learning_rate_0.01
    kind)."""
    path.write_text(path.read_text().replace("learning_rate=0.01", "learning_rate=ALPHA"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=40, help="submissions in the class (default 40, 2 at least)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="grading jobs (default: the cores)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder, out = Path(work) / "class", Path(work) / "grades"
        submissions, _ = make_class(folder, args.submissions)
        runs = {}
        for run in ("first", "unchanged", "one_changed"):
            if run == "one_changed":
                mend(submissions[1].path)  # the second submission is of the learning_rate_0.01 kind
            print(f"Grading the class of {args.submissions} ({run.replace('_', ' ')})...", flush=True)
            seconds, graded = grade_class(folder, out, args.jobs)
            runs[run] = {"seconds": round(seconds, 1), "graded": len(graded),
                         "ratio_to_first": round(seconds / runs["first"]["seconds"], 3) if runs else 1.0}
            names = ", ".join(graded[:3]) + (" ..." if len(graded) > 3 else "")
            print(f"  {seconds:.1f} s, {len(graded)} graded: {names}", flush=True)
        rows = {row["submission"]: row for row in csv.DictReader(open(out / "grades.csv"))}
        mended = rows[submissions[1].name]["score"] == "20" and len(rows) == args.submissions
    print(json.dumps({"submissions": args.submissions, "jobs": args.jobs, **runs, "mended_regraded_right": mended,
                      "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}))
    return 0 if mended and runs["unchanged"]["graded"] == 0 and runs["one_changed"]["graded"] == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
