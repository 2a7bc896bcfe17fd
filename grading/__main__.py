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
each submission with this same code (grading/gradescope.py). This module is the command line;
the reading, running, judging and writing are grading/grader.py's.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from grading import gradescope
from grading.grader import MAX_SCORE, find_notebooks, grade, grader_setup, read_submission
from grading.sandbox import bubblewrap
from scripts import ROOT

DEFAULTS = {"out": ROOT / "build" / "grades", "timeout": 60.0, "memory": 2048}
# What each node of a cluster must have, checked before anything runs there (scripts.cluster.Cluster).
NODE_NEEDS = {"working bubblewrap (bwrap), which the grader's sandbox needs": bubblewrap}


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
        return Cluster(address, needs=NODE_NEEDS, stream=sys.stderr)
    except ClusterError as error:
        print(f"python -m grading: {error}", file=sys.stderr)
        return None


def main(argv=None):
    arguments = parse_arguments(argv)
    limits = {"timeout": arguments.timeout, "memory_mib": arguments.memory}
    if arguments.gradescope:
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
