"""Compare training settings over several seeds: the notebook's own training, runs in parallel.

Usage: python -m scripts.experimenter.compare [--variant NAME=VALUE[,NAME=VALUE...]]... [--seeds 0 1 2]
                                 [--episodes N] [--no-stop] [--jobs N] [--address ADDRESS] [--out DIR]

Trains the baseline (the notebook's settings) and each variant once per seed, with the lesson's
own training (its cells, the hints' answers; scripts.notebook_tools.train), one process per run.
NAME is a hyperparameter of the notebook's section 2 (MEMORY_SIZE, GAMMA, ALPHA,
NUM_STEPS_FOR_UPDATE) or one of utils' TAU, E_DECAY, E_MIN, MINIBATCH_SIZE. Each run stops when
solved, as the notebook does (--no-stop: trains all --episodes, for curves of equal length).

Each finished run is written at once to DIR (default build/compare/) as one JSON record; the
same command again skips the runs already recorded, so Ctrl-C or a crash loses nothing finished.
At the end it draws DIR/compare.png (a line and a band over seeds per setting, utils.plot_comparison)
and prints and saves DIR/compare.md: per setting, solved out of runs, episodes to solve, the mean
points of the last 100 episodes, and the time.

With --address, the runs are tasks on a Ray cluster (scripts/cluster.py), one CPU each, after a
check that every node holds the same project and libraries; this process still writes each record
as its run ends, so resuming, the progress bar and Ctrl-C work as on one machine.
"""
import argparse
import ast
import json
import multiprocessing
import os
import queue
import re
import signal
import statistics
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from scripts import ROOT
from scripts.cluster import Cluster, ClusterError
from scripts.notebook_tools import UTILS_SETTINGS, hyperparameters

DEFAULT_OUT = ROOT / "build" / "compare"
LAST_EPISODES = 100  # the table's mean points are over each run's last this many episodes
# Each setting: its type and the values that make sense, said in words for the error message.
RULES = {
    "MEMORY_SIZE": (int, lambda v: v >= 65, "a whole number of experiences, more than MINIBATCH_SIZE (64)"),
    "GAMMA": (float, lambda v: 0 <= v <= 1, "a discount factor between 0 and 1"),
    "ALPHA": (float, lambda v: 0 < v < 1, "a learning rate between 0 and 1"),
    "NUM_STEPS_FOR_UPDATE": (int, lambda v: v >= 1, "a whole number of time steps, at least 1"),
    "TAU": (float, lambda v: 0 < v <= 1, "a soft-update rate between 0 (excluded) and 1"),
    "E_DECAY": (float, lambda v: 0 < v <= 1, "a decay factor between 0 (excluded) and 1"),
    "E_MIN": (float, lambda v: 0 <= v <= 1, "an epsilon between 0 and 1"),
    "MINIBATCH_SIZE": (int, lambda v: 1 <= v <= 10_000, "a whole number of experiences, from 1 to 10000"),
}


class BadVariant(ValueError):
    """A variant that names an unknown setting or gives it a value that cannot work."""


def utils_defaults():
    """utils' constants as its source sets them: a run that varies one changes it in the utils module
    for the rest of its (worker) process, so the next run there must not read them from the module."""
    tree = ast.parse((ROOT / "utils.py").read_text(encoding="utf-8"))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in UTILS_SETTINGS}


def baseline_settings():
    """The notebook's hyperparameters and utils' constants, as the lesson sets them."""
    return {**hyperparameters(), **utils_defaults()}


def parse_variant(text):
    """'GAMMA=0.99,ALPHA=5e-4' -> {'GAMMA': 0.99, 'ALPHA': 0.0005}, or BadVariant saying what is wrong."""
    settings = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, equals, value = part.partition("=")
        name = name.strip()
        if not equals:
            raise BadVariant(f"variant {text!r}: expected NAME=VALUE, got {part!r}")
        if name not in RULES:
            raise BadVariant(f"variant {text!r}: unknown setting {name!r}; choose from {', '.join(RULES)}")
        kind, allowed, meaning = RULES[name]
        try:
            number = float(value)
            parsed = kind(number) if kind is float or number.is_integer() else None
        except ValueError:
            parsed = None
        if parsed is None or not allowed(parsed):
            raise BadVariant(f"variant {text!r}: {name} must be {meaning}, got {value.strip()!r}")
        settings[name] = parsed
    if not settings:
        raise BadVariant(f"variant {text!r}: expected NAME=VALUE[,NAME=VALUE...]")
    merged = {**baseline_settings(), **settings}
    if merged["MEMORY_SIZE"] <= merged["MINIBATCH_SIZE"]:
        raise BadVariant(f"variant {text!r}: MEMORY_SIZE ({merged['MEMORY_SIZE']}) must be larger than "
                         f"MINIBATCH_SIZE ({merged['MINIBATCH_SIZE']})")
    return settings


def label(changed):
    return ", ".join(f"{name}={value}" for name, value in changed.items()) if changed else "baseline (notebook)"


def record_path(out, changed, seed):
    """The file of one run: named by its changed settings and its seed."""
    name = "_".join(f"{name}={value}" for name, value in changed.items()) or "baseline"
    return out / f"{re.sub(r'[^A-Za-z0-9_.=+-]', '-', name)}__seed{seed}.json"


def versions():
    import gym
    import numpy
    import tensorflow

    return {"python": sys.version.split()[0], "tensorflow": tensorflow.__version__, "gym": gym.__version__,
            "numpy": numpy.__version__}


def train_run(changed, seed, episodes, stop, progress=None):
    """One run in a process of its own: the lesson's training with changed settings; its record."""
    import logging
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.simplefilter("ignore", DeprecationWarning)
    from scripts.notebook_tools import train

    def report(episode, _):
        if progress is not None:
            progress.put((label(changed), seed, episode))
    settings = {**baseline_settings(), **changed}  # every setting, so none is left from an earlier run here
    points, solved_at, seconds = train(seed, settings, max_episodes=episodes, stop_when_solved=stop,
                                       on_episode=report)
    return {"label": label(changed), "changed": changed, "settings": settings,
            "seed": seed, "episodes": episodes, "stop_when_solved": stop, "points": points,
            "solved_at": solved_at, "seconds": round(seconds, 1), "versions": versions()}


def write_record(path, record):
    """Write a run's record through a temporary file: a crash leaves the old file or the new one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, path)


def finished(path, changed, seed, episodes, stop):
    """The record at path, if it is a finished run of exactly these settings; else None."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = (record.get("changed") == changed and record.get("seed") == seed
            and record.get("episodes") == episodes and record.get("stop_when_solved") == stop)
    return record if same else None


def table(records_by_label):
    """The comparison as a Markdown table, one row per setting."""
    rows = ["| setting | solved | episodes to solve: median (min to max) | mean points, last 100 episodes | "
            "time per run (s) |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, records in records_by_label.items():
        solved = sorted(r["solved_at"] for r in records if r["solved_at"] is not None)
        to_solve = (f"{statistics.median(solved):.0f} ({solved[0]} to {solved[-1]})" if solved else "none solved")
        last = statistics.mean(statistics.mean(r["points"][-LAST_EPISODES:]) for r in records)
        seconds = statistics.mean(r["seconds"] for r in records)
        rows.append(f"| {name} | {len(solved)}/{len(records)} | {to_solve} | {last:.1f} | {seconds:.0f} |")
    return "\n".join(rows)


def draw(records_by_label, path):
    import matplotlib

    matplotlib.use("Agg")
    import utils

    figure = utils.plot_comparison({name: [r["points"] for r in records] for name, records in records_by_label.items()})
    figure.axes[0].set_title("Over seeds: the line is the mean, dotted once a run has solved and stopped; "
                             "the band is the spread", fontsize=10)
    figure.savefig(path, dpi=100, bbox_inches="tight")


class Progress:
    """Runs done, the episodes of the runs under way, and the time left: a bar on a terminal, else a
    line per finished run."""

    def __init__(self, total, done, stream=sys.stderr):
        self.total, self.done, self.stream = total, done, stream
        self.under_way, self.seconds, self.bar = {}, [], stream.isatty()

    def time_left(self, jobs):
        if not self.seconds:
            return "?"
        return f"{(self.total - self.done) * statistics.mean(self.seconds) / jobs / 60:.1f} min"

    def show(self, jobs, finished=None):
        going = ", ".join(f"{name} seed {seed}: episode {episode}"
                          for (name, seed), episode in sorted(self.under_way.items()))
        if self.bar:
            filled = int(20 * self.done / max(self.total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total} runs done; "
                              f"under way: {going or '-'}; about {self.time_left(jobs)} left\033[K")
        elif finished is not None:
            outcome = (f"solved in {finished['solved_at']} episodes" if finished["solved_at"]
                       else f"not solved in {len(finished['points'])} episodes")
            self.stream.write(f"[{self.done}/{self.total}] {finished['label']} seed {finished['seed']}: {outcome}, "
                              f"{finished['seconds']:.0f} s; about {self.time_left(jobs)} left\n")
        self.stream.flush()


def _ignore_interrupts():
    """Workers leave Ctrl-C to the main process, which stops them and keeps what is finished."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalPool:
    """Runs on this machine, each in a process of its own; the same methods as scripts.cluster.Cluster."""

    def __init__(self, jobs):
        context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no shared TensorFlow state
        self.manager = context.Manager()
        self.progress = self.manager.Queue()
        self.executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_ignore_interrupts)

    def submit(self, function, *args):
        return self.executor.submit(function, *args)

    def wait(self, handles, timeout=1.0):
        return wait(handles, timeout=timeout, return_when=FIRST_COMPLETED).done if handles else []

    def result(self, handle):
        return handle.result()

    def updates(self):
        found = []
        while True:
            try:
                found.append(self.progress.get_nowait())
            except queue.Empty:
                return found

    def stop(self):
        workers = list((self.executor._processes or {}).values())  # shutdown() forgets them
        self.executor.shutdown(wait=False, cancel_futures=True)  # the runs not started never start
        for process in workers:
            process.terminate()  # the runs under way are lost; the finished ones are on disk

    def close(self):
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.manager.shutdown()


def run_all(pending, pool, jobs, progress):
    """Run the pending (changed, seed, path, episodes, stop), jobs at a time in pool; write each record
    here as its run ends. Ctrl-C: the runs not started never start, those under way are stopped."""
    waiting, under_way = list(pending), {}
    try:
        while waiting or under_way:
            while waiting and len(under_way) < jobs:
                changed, seed, path, episodes, stop = waiting.pop(0)
                under_way[pool.submit(train_run, changed, seed, episodes, stop, pool.progress)] = (changed, seed, path)
            ended = pool.wait(list(under_way))
            for name, seed, episode in pool.updates():
                progress.under_way[(name, seed)] = episode
            for handle in ended:
                changed, seed, path = under_way.pop(handle)
                record = pool.result(handle)
                write_record(path, record)
                progress.under_way.pop((label(changed), seed), None)
                progress.done += 1
                progress.seconds.append(record["seconds"])
                progress.show(jobs, record)
            progress.show(jobs)
    except KeyboardInterrupt:
        pool.stop()
        raise


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m scripts.experimenter.compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=VALUE[,NAME=VALUE...]",
                        help="settings to compare with the notebook's (repeat for several variants)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of each setting (default 0 1 2)")
    parser.add_argument("--episodes", type=int, default=2000, help="episodes at most per run (default 2000)")
    parser.add_argument("--no-stop", action="store_true", help="train all --episodes, even once solved")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs at once (default: the cores here, or the CPUs of the cluster)")
    parser.add_argument("--address", metavar="ADDRESS", help="run on this Ray cluster (auto, HOST:PORT or "
                        "ray://HOST:10001) instead of this machine's cores; see docs/experiments.md")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the results (default build/compare)")
    arguments = parser.parse_args(argv)
    if arguments.episodes < 1 or (arguments.jobs is not None and arguments.jobs < 1):
        parser.error("--episodes and --jobs must be at least 1")
    try:
        arguments.variants = [{}] + [parse_variant(text) for text in arguments.variant]
    except BadVariant as bad:
        parser.error(str(bad))
    return arguments


def train_pending(pending, arguments, progress):
    """Train the pending runs on this machine's cores, or on the Ray cluster at --address."""
    if arguments.address:
        pool = Cluster(arguments.address, stream=sys.stdout)
        jobs = min(arguments.jobs or pool.cpus, pool.cpus)
    else:
        jobs = arguments.jobs or os.cpu_count() or 1
        pool = LocalPool(jobs)
    print(f"Training {len(pending)} runs, {jobs} at a time...", flush=True)
    try:
        run_all(pending, pool, jobs, progress)
    finally:
        pool.close()
    if arguments.address:
        print(f"\n{pool.where()}", flush=True)


def main(argv=None):
    arguments = parse_arguments(argv)
    out = arguments.out
    out.mkdir(parents=True, exist_ok=True)
    stop = not arguments.no_stop
    runs = [(changed, seed, record_path(out, changed, seed)) for changed in arguments.variants
            for seed in dict.fromkeys(arguments.seeds)]
    pending = [(changed, seed, path, arguments.episodes, stop) for changed, seed, path in runs
               if finished(path, changed, seed, arguments.episodes, stop) is None]
    if len(pending) < len(runs):
        print(f"{len(runs) - len(pending)} of {len(runs)} runs already finished in {out}: skipping them.")
    progress = Progress(len(runs), len(runs) - len(pending))
    started = time.monotonic()
    try:
        if pending:
            train_pending(pending, arguments, progress)
    except ClusterError as error:
        print(f"python -m scripts.experimenter.compare: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nInterrupted: {progress.done} of {len(runs)} runs are recorded in {out}; the same command "
              "again does the rest.", file=sys.stderr)
        return 130
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    records = {}
    for changed, _, path in runs:
        records.setdefault(label(changed), []).append(json.loads(path.read_text()))
    draw(records, out / "compare.png")
    text = table(records)
    (out / "compare.md").write_text(text + "\n")
    print(text)
    print(f"Figure: {out / 'compare.png'}; table: {out / 'compare.md'}; one record per run in {out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
