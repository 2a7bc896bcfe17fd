"""What going through Ray costs: the same compare and the same class, on a two-node cluster and here.

In one run, on this machine: starts a real Ray cluster of two nodes of one CPU each on loopback
(scripts/maintainer/benchmarks/loopback_cluster.py; Linux, root, `make cluster-env`), then runs the same small compare
(the notebook's settings and GAMMA=0.99, 2 seeds, --episodes, --no-stop) and grades the same class
(scripts.maintainer.benchmarks.grading_speed's ordinary submissions) with `--address` on the cluster, and with the
local pool (`--jobs 2`, the same two CPUs). It checks that the results are the same, and prints
the times, their ratios and, on paper, a 100-run sweep on N nodes of C cores. The last line
printed is a JSON object with the figures.

Usage: python -m scripts.maintainer.benchmarks.cluster_speed [--episodes 50] [--submissions 20] [--run-seconds 185]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import ROOT
from scripts.maintainer.benchmarks.grading_speed import make_class
from scripts.maintainer.benchmarks.loopback_cluster import LoopbackCluster, available

COMPARE = ("--variant", "GAMMA=0.99", "--seeds", "0", "1", "--no-stop")
SWEEP = 100  # runs: ten settings by ten seeds
NODES, CORES = (1, 2, 5, 10, 25), (2, 8, 32)  # the sweep on paper: nodes, and cores on each


def timed(command):
    """(seconds, stdout) of a command that must succeed."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[-8:])} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started, result.stdout + result.stderr


def same_records(first, second):
    """Whether two compare folders hold the same runs with the same points per episode."""
    names = sorted(path.name for path in first.glob("*__seed*.json"))
    if names != sorted(path.name for path in second.glob("*__seed*.json")):
        return False
    return all(json.loads((first / name).read_text())["points"] == json.loads((second / name).read_text())["points"]
               for name in names)


def sweep_hours(nodes, cores, run_seconds, ratio, connect_seconds):
    """Hours for SWEEP runs of run_seconds each (here, on one core) on nodes x cores, each run one CPU."""
    waves = math.ceil(SWEEP / (nodes * cores))
    return (connect_seconds + waves * run_seconds * ratio) / 3600


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=50, help="episodes of each compare run (default 50)")
    parser.add_argument("--submissions", type=int, default=20, help="notebooks in the class (default 20)")
    parser.add_argument("--run-seconds", type=float, default=185.0, help="one full run, until solved, on one core "
                        "(default 185: the mean baseline run of docs/experiments.md's 5-seed comparison)")
    args = parser.parse_args()
    reason = available()
    if reason:
        raise SystemExit(f"scripts.maintainer.benchmarks.cluster_speed cannot run here: {reason}")
    python, figures = sys.executable, {"episodes": args.episodes, "submissions": args.submissions}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        make_class(folder / "class", args.submissions)
        started = time.perf_counter()
        with LoopbackCluster(folder / "ray", nodes=2) as cluster:
            figures["cluster_start_s"] = round(time.perf_counter() - started, 1)
            print(f"Two nodes of one CPU started in {figures['cluster_start_s']} s.", flush=True)
            compare = [python, "-m", "scripts.experimenter.compare", *COMPARE, "--episodes", str(args.episodes)]
            grade = [python, "-m", "grading", str(folder / "class"), "--timeout", "120"]
            for name, command in (("compare", compare), ("grading", grade)):
                seconds, output = timed(cluster.command([*command, "--out", str(folder / f"{name}-cluster"),
                                                         "--address", cluster.address]))
                figures[f"{name}_cluster_s"] = round(seconds, 1)
                figures[f"{name}_connect_and_check_s"] = float(re.search(r"checked in (\d+) s", output)[1])
                figures[f"{name}_tasks_per_node"] = re.search(r"Tasks per node: (.*)", output)[1]
                seconds, _ = timed([*command, "--out", str(folder / f"{name}-local"), "--jobs", "2"])
                figures[f"{name}_local_s"] = round(seconds, 1)
                figures[f"{name}_ratio"] = round(figures[f"{name}_cluster_s"] / figures[f"{name}_local_s"], 2)
                print(f"{name}: cluster {figures[f'{name}_cluster_s']} s (of which connecting and checking the "
                      f"nodes {figures[f'{name}_connect_and_check_s']:.0f} s), local {figures[f'{name}_local_s']} s: "
                      f"x{figures[f'{name}_ratio']}; {figures[f'{name}_tasks_per_node']}", flush=True)
        figures["same_points"] = same_records(folder / "compare-cluster", folder / "compare-local")
        figures["same_grades"] = ((folder / "grading-cluster" / "grades.csv").read_text()
                                  == (folder / "grading-local" / "grades.csv").read_text())
    ratio = (figures["compare_cluster_s"] - figures["compare_connect_and_check_s"]) / figures["compare_local_s"]
    figures["compare_ratio_after_connecting"] = round(ratio, 2)
    figures["sweep_hours"] = {f"{nodes}x{cores}": round(sweep_hours(nodes, cores, args.run_seconds, max(ratio, 1.0),
                                                                    figures["compare_connect_and_check_s"]), 2)
                              for nodes in NODES for cores in CORES}
    print(f"Same points per episode: {figures['same_points']}; same grades.csv: {figures['same_grades']}.")
    print(f"On paper, hours for {SWEEP} runs of {args.run_seconds:.0f} s each (one core each), with the cluster's "
          f"cost per run (x{max(ratio, 1.0):.2f}) and its start-up check:\n")
    print("| nodes | " + " | ".join(f"{cores} cores each" for cores in CORES) + " |")
    print("| ---: |" + " ---: |" * len(CORES))
    for nodes in NODES:
        hours = (figures["sweep_hours"][f"{nodes}x{cores}"] for cores in CORES)
        print(f"| {nodes} | " + " | ".join(f"{value:.2f}" for value in hours) + " |")
    figures.update({"run_seconds": args.run_seconds, "cpu_count": os.cpu_count(), "python": sys.version.split()[0]})
    print(json.dumps(figures))
    return 0 if figures["same_points"] and figures["same_grades"] else 1


if __name__ == "__main__":
    sys.exit(main())
