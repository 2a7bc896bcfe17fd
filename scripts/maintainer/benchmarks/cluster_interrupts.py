"""Ctrl-C on a Ray cluster, many times over: does compare stop as it says, every time?

Starts a real Ray cluster of two nodes of one CPU each on loopback (loopback_cluster.py; Linux,
root, `make cluster-env`), then, --times times, runs a small compare with --address (two runs
side by side, then two more) and presses Ctrl-C as soon as its first record is written. Its other
run, started with it, is then ending too: the moment when stopping a task can race with its
reply, where Ray aborted the command while it stopped tasks with ray.cancel (docs/experiments.md).
Prints each try, then a last line, a JSON object: the tries, how many ended as they should (exit
130 and "the same command again does the rest"), for each that did not the line that says why, and
the most seconds a task of ours outlived the command.

Usage: python -m scripts.maintainer.benchmarks.cluster_interrupts [--times 20]
"""
import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import ROOT
from scripts.maintainer.benchmarks.loopback_cluster import LoopbackCluster, available, tasks_under_way

COMPARE = ("--variant", "GAMMA=0.99", "--seeds", "0", "1", "--episodes", "20", "--no-stop")
FIRST_RECORD_SECONDS = 600  # at most, before Ctrl-C is pressed all the same
TASKS_GONE_SECONDS = 30  # how long a task may outlive the command before it counts as left running


def _takes_ctrl_c():
    """Popen's preexec_fn: the command takes Ctrl-C even where this process ignores it (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_at_first_result(cluster, arguments, has_result):
    """Run python -m ARGUMENTS... on cluster (--address added), Ctrl-C once has_result() is true. Returns (exit
    status, its stderr, seconds until no task of ours ran any more, TASKS_GONE_SECONDS at most)."""
    command = cluster.command([sys.executable, "-m", *arguments, "--address", cluster.address])
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                               preexec_fn=_takes_ctrl_c)
    deadline = time.monotonic() + FIRST_RECORD_SECONDS
    while not has_result() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    ended = time.monotonic()
    while tasks_under_way() and time.monotonic() - ended < TASKS_GONE_SECONDS:
        time.sleep(0.2)
    return process.returncode, stderr, time.monotonic() - ended


def interrupt_compare(cluster, out):
    """interrupt_at_first_result for compare (COMPARE) into out, at its first record."""
    return interrupt_at_first_result(cluster, ["scripts.experimenter.compare", *COMPARE, "--out", str(out)],
                                     lambda: any(Path(out).glob("*__seed*.json")))


def stopped_as_it_says(returncode, stderr):
    return returncode == 130 and "the same command again does the rest" in stderr


def why_not(stderr):
    """The line of a command's stderr that says why it ended: Ray's failed check, an error, or the last."""
    lines = stderr.strip().splitlines() or [""]
    return next((line for line in lines if "Check failed" in line or "Error" in line), lines[-1])[:300]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.maintainer.benchmarks.cluster_interrupts",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=20, help="Ctrl-Cs to press (default 20)")
    arguments = parser.parse_args(argv)
    reason = available()
    if reason:
        raise SystemExit(f"cluster_interrupts cannot run here: {reason}")
    figures = {"tries": arguments.times, "stopped_as_it_says": 0, "failures": [], "tasks_outlived_s": 0.0}
    with tempfile.TemporaryDirectory(prefix="cluster-interrupts-") as folder, \
            LoopbackCluster(Path(folder) / "ray", nodes=2) as cluster:
        for number in range(1, arguments.times + 1):
            returncode, stderr, outlived = interrupt_compare(cluster, Path(folder) / f"try{number}")
            good = stopped_as_it_says(returncode, stderr)
            figures["stopped_as_it_says"] += good
            figures["tasks_outlived_s"] = round(max(figures["tasks_outlived_s"], outlived), 1)
            if not good:
                figures["failures"].append(f"exit {returncode}: {why_not(stderr)}")
            print(f"Ctrl-C {number}/{arguments.times}: exit {returncode}, "
                  f"{'as it says' if good else 'NOT as it says: ' + why_not(stderr)}; "
                  f"tasks gone {outlived:.1f} s after it", flush=True)
    print(json.dumps(figures))
    return 0 if figures["stopped_as_it_says"] == arguments.times else 1


if __name__ == "__main__":
    sys.exit(main())
