"""A real Ray cluster of several nodes on this one machine, its traffic kept on loopback.

For the cluster tests (tests/test_cluster.py) and scripts.maintainer.benchmarks.cluster_speed. Made the way Ray's
own tests make one: `ray start --head`, then `ray start --address` for each further node, each
node with its own temporary folder and ports. Everything runs in a network namespace of its own
with only `lo` up (Linux, root): there every node is 127.0.0.1 and nothing leaves the machine.
Each node also has its own PID and mount namespaces, so stopping a node kills every process it
started, and a node can be given a file system without the project (hide_project). The nodes
are killed when the process that started them dies, even by SIGKILL.

    with LoopbackCluster(folder, nodes=2) as cluster:
        subprocess.run(cluster.command([sys.executable, "-m", "scripts.experimenter.compare",
                                        "--address", cluster.address]))
"""
import ctypes
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from scripts import ROOT
from scripts.cluster import run_and_say_where

HEAD_PORT = 6379
START_SECONDS = 240  # a node's start-up, at most (Ray's own helpers import for seconds each on a busy machine)
STARTED = "Ray runtime started"
# Ray's fixed ports: two nodes on one address need their own.
PORT_OPTIONS = ("node-manager-port", "object-manager-port", "dashboard-agent-grpc-port",
                "dashboard-agent-listen-port", "metrics-export-port", "runtime-env-agent-port")


class ClusterStartError(RuntimeError):
    """A node did not start; the message holds the end of its log."""


def available():
    """Why a loopback cluster cannot be made here, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "a loopback cluster needs Linux namespaces"
    missing = [tool for tool in ("unshare", "nsenter", "ip") if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} (util-linux, iproute2)"
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed: make cluster-env"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    return None if probe.returncode == 0 else "cannot make a network namespace here (needs root)"


def tasks_under_way():
    """The Ray workers running a task of scripts.cluster's now (a worker names itself after the function it runs)."""
    name = f"ray::{run_and_say_where.__name__}"
    return [process for process in psutil.process_iter(["cmdline"])
            if (process.info["cmdline"] or [""])[0].startswith(name)]


def _die_with_parent():
    """In the child, before exec: SIGKILL when the process that started it ends (Linux prctl)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LoopbackCluster:
    """nodes Ray nodes of cpus CPUs each, on loopback in a network namespace of their own."""

    def __init__(self, folder, nodes=2, cpus=1):
        self.folder, self.cpus = Path(folder), cpus
        self.address = f"127.0.0.1:{HEAD_PORT}"
        # The namespace's first process brings lo up, then says so: only then may others enter it.
        self.network = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && echo up && exec sleep "
                                         "infinity"], stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        self.nodes = {}  # name -> the process holding the node's namespaces
        try:
            if self.network.stdout.readline().strip() != "up":
                raise ClusterStartError("could not bring up loopback in a new network namespace")
            for number in range(1, nodes + 1):
                self.add_node(f"node-{number}")
        except BaseException:
            self.stop()
            raise

    def command(self, arguments):
        """arguments, to run in the cluster's network namespace (as a node's neighbour)."""
        return ["nsenter", f"--target={self.network.pid}", "--net", "--", *arguments]

    def add_node(self, name, hide_project=False):
        """Start a node (the head first); with hide_project, the project's folder is empty on it, all
        but its Python environment. Returns once the node has joined."""
        number = len(self.nodes) + 1
        base = 20000 + 1000 * number
        options = [f"--{option}={base + offset}" for offset, option in enumerate(PORT_OPTIONS, start=1)]
        options += [f"--min-worker-port={base + 100}", f"--max-worker-port={base + 199}", f"--num-cpus={self.cpus}",
                    f"--node-name={name}", f"--temp-dir={self.folder / name}", "--object-store-memory=100000000",
                    "--disable-usage-stats", "--include-log-monitor=false", "--block"]
        if self.nodes:
            options.append(f"--address={self.address}")
        else:
            options += ["--head", f"--port={HEAD_PORT}", "--include-dashboard=false", "--no-monitor"]
        ray = Path(sys.executable).parent / "ray"
        script = (self._hide_project() if hide_project else "") + f'exec "{ray}" start {" ".join(options)}'
        log = self.folder / f"{name}.log"
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as output:
            self.nodes[name] = subprocess.Popen(
                self.command(["unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc",
                              "sh", "-c", script]), stdout=output, stderr=subprocess.STDOUT, cwd=self.folder,
                preexec_fn=_die_with_parent)
        self._wait_started(name, log)

    def _hide_project(self):
        """Shell lines for a node's own mount namespace: an empty folder over the project, with the
        Python environment bound back in place when it lies inside the project."""
        keep = self.folder / "environment"
        environment = Path(sys.prefix)
        lines = ["set -e"]
        inside = environment.is_relative_to(ROOT)
        if inside:
            keep.mkdir(parents=True, exist_ok=True)
            lines.append(f'mount --bind "{environment}" "{keep}"')
        lines.append(f'mount -t tmpfs project "{ROOT}"')
        if inside:
            lines += [f'mkdir -p "{environment}"', f'mount --bind "{keep}" "{environment}"']
        return "; ".join(lines) + "; "

    def _wait_started(self, name, log):
        deadline = time.monotonic() + START_SECONDS
        while STARTED not in log.read_text(errors="replace"):
            if self.nodes[name].poll() is not None or time.monotonic() > deadline:
                raise ClusterStartError(f"Ray node {name} did not start: {self._why(name, log)}")
            time.sleep(0.5)

    def _why(self, name, log):
        """The end of a node's log, and Ray's own reason where its raylet stopped on a failed check."""
        lines = log.read_text(errors="replace").strip().splitlines()[-15:]
        for raylet in (self.folder / name).glob("session_*/logs/raylet.out"):
            lines += [line[:400] for line in raylet.read_text(errors="replace").splitlines() if "Check failed" in line]
        return "\n".join(lines)

    def stop_node(self, name):
        """Kill a node and everything it started (its PID namespace ends with it)."""
        process = self.nodes.pop(name)
        process.kill()  # nsenter has become unshare, whose --kill-child takes the namespace's first process along
        process.wait()

    def stop(self):
        for name in list(self.nodes):
            self.stop_node(name)
        self.network.kill()
        self.network.wait()
        self.network.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()
