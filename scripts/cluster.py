"""Past one machine: the runs of scripts.experimenter.compare and the sandboxes of `python -m grading` as Ray tasks.

With `--address ADDRESS` (`auto`, `HOST:PORT` or `ray://HOST:10001`), those commands connect to a
Ray cluster through Cluster. It first checks that every node that has CPUs holds the same project
files, library versions and Python as this machine, and has whatever else the command needs (for
grading, a working bubblewrap), and names each node that differs, before anything runs. Then each
task asks for one CPU (and, for grading, the memory of its limit); its result comes back here,
where the command writes it, as on one machine. stop() ends them all, queued or under way (Ctrl-C).

Ray is not a learner's requirement: `make cluster-env` installs requirements-cluster.txt. Without
it, Cluster raises ClusterError with one line that says so.
"""
import hashlib
import importlib.metadata
import platform
import time
from collections import Counter

from scripts import ROOT

REQUIREMENTS = (ROOT / "requirements.txt", ROOT / "requirements-cluster.txt")
# What a task runs: the lesson (its notebook and modules), the commands and the grader, and the pins.
PROJECT_FILES = ("C3_W3_A1_Assignment.ipynb", "utils.py", "public_tests.py", "lander/*.py", "requirements.txt",
                 "requirements-cluster.txt", "scripts/**/*.py", "grading/**/*.py")
INSTALL = ("--address runs on a Ray cluster, and Ray is not installed here: run `make cluster-env` "
           "(it installs requirements-cluster.txt into .venv)")
CHECK_SECONDS = 300  # how long a node may take to answer the start-up check (a fresh worker imports TensorFlow)
WAIT_SECONDS = 1.0  # the longest wait() blocks, so progress and Ctrl-C stay prompt


class ClusterError(Exception):
    """The cluster cannot run this command as it is; the message says why and what to do."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL) from None
    return ray


# ----------------------------------------------------------------------------- what a node holds

def project_files(root=ROOT):
    """The project's files under root that a task runs, by their path relative to root."""
    found = {path for pattern in PROJECT_FILES for path in root.glob(pattern)
             if path.is_file() and "__pycache__" not in path.parts}
    return sorted(path.relative_to(root).as_posix() for path in found)


def requirement_names():
    """The distributions the requirements files pin for this machine (their markers decide)."""
    from packaging.requirements import Requirement

    names = []
    for path in REQUIREMENTS:
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                requirement = Requirement(line)
                if requirement.marker is None or requirement.marker.evaluate():
                    names.append(requirement.name)
    return names


def describe_node(needs=None):
    """This machine as a task sees it: the project's files (their SHA-256), the versions of the
    pinned libraries, Python, the processor's kind, and which of needs ({what: check}) it lacks
    (those whose check() gives nothing)."""
    files = {name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest() for name in project_files()}
    packages = {}
    for name in requirement_names():
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    return {"root": str(ROOT), "files": files, "packages": packages, "machine": platform.machine(),
            "python": ".".join(platform.python_version_tuple()[:2]),
            "lacks": [what for what, check in (needs or {}).items() if not check()]}


def differences(here, there):
    """What a node's description (there) has that this machine's (here) has not, in plain words."""
    found = []
    files = sorted(name for name in here["files"].keys() | there["files"].keys()
                   if here["files"].get(name) != there["files"].get(name))
    if files:
        shown = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
        found.append(f"{len(files)} project files differ ({shown})")
    for name in sorted(here["packages"].keys() | there["packages"].keys()):
        ours, theirs = here["packages"].get(name), there["packages"].get(name)
        if ours != theirs:
            found.append(f"{name} {theirs or 'missing'} (here {ours or 'missing'})")
    for key, what in (("python", "Python"), ("machine", "processor")):
        if here[key] != there[key]:
            found.append(f"{what} {there[key]} (here {here[key]})")
    found += [f"no {what}" for what in there.get("lacks", [])]  # an older cluster.py there does not say
    return found


def node_names(nodes):
    """{node ID: a name for people} of the living nodes that have CPUs (where tasks can run)."""
    names = {}
    for node in nodes:
        if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) > 0:
            address, name = node["NodeManagerAddress"], node.get("NodeName") or node["NodeManagerAddress"]
            names[node["NodeID"]] = name if name == address else f"{name} ({address})"
    return names


def run_and_say_where(function, *args):
    """Inside a task: function(*args), and the ID of the node it ran on."""
    import ray

    return ray.get_runtime_context().get_node_id(), function(*args)


def _first_line_of_cause(error):
    """The line of a task's error that says what went wrong (Ray puts its own lines around it)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    causes = [line for line in lines if "Error:" in line and not line.startswith(("ray.", "Ray"))]
    return (causes or lines or [type(error).__name__])[-1]


# ----------------------------------------------------------------------------- the cluster

class Cluster:
    """A connection to a Ray cluster whose nodes were checked against this machine, and for needs.

    needs: {what each node must have, in words that read after "no": a module-level function (Ray
    sends it to the nodes) that gives something true where the node has it}. submit/wait/result/stop
    run tasks (each one CPU); updates() drains what tasks put on progress.
    """

    def __init__(self, address, needs=None, stream=None):
        self.ray = import_ray()
        started = time.monotonic()
        try:
            # The project's root on the tasks' path, as here: every node holds the repository at the same path.
            self.ray.init(address=address, logging_level="ERROR", log_to_driver=False,
                          runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        except Exception as error:  # Ray says "could not connect" in several exception types
            raise ClusterError(f"could not connect to the Ray cluster at {address!r}: {_first_line_of_cause(error)} "
                               "(start one with `ray start --head`; see docs/experiments.md)") from None
        self._remote = self.ray.remote(run_and_say_where)
        self._progress = None
        self.tasks_per_node = Counter()
        try:
            self.names = node_names(self.ray.nodes())
            if not self.names:
                raise ClusterError(f"the Ray cluster at {address!r} has no node with CPUs to run tasks")
            self.check_nodes(needs)
        except BaseException:
            self.close()
            raise
        self.cpus = int(sum(node["Resources"]["CPU"] for node in self.ray.nodes() if node["NodeID"] in self.names))
        if stream is not None:
            print(f"Ray cluster at {address}: {len(self.names)} nodes, {self.cpus} CPUs, all with the same project "
                  f"files and libraries as here (checked in {time.monotonic() - started:.0f} s).", file=stream)

    def check_nodes(self, needs):
        """Raise ClusterError naming every node whose files, libraries or Python differ from here, or that
        lacks one of needs."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = describe_node()
        describe = self.ray.remote(describe_node)
        asked = {node: describe.options(num_cpus=0, max_retries=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
                 node, soft=False)).remote(needs) for node in self.names}
        problems, deadline = [], time.monotonic() + CHECK_SECONDS
        for node, answer in asked.items():
            try:
                found = differences(here, self.ray.get(answer, timeout=max(deadline - time.monotonic(), 1)))
            except self.ray.exceptions.GetTimeoutError:
                found = [f"no answer within {CHECK_SECONDS} s"]
            except self.ray.exceptions.RayError as error:
                found = [f"cannot run the project's code ({_first_line_of_cause(error)})"]
            problems += [f"node {self.names[node]}: {'; '.join(found)}"] if found else []
        if problems:
            raise ClusterError("not every node can give the results this machine would: " + ". ".join(problems)
                               + f". Each node needs the repository at {ROOT} at the same commit as here, and the "
                               "environment `make cluster-env` makes (see docs/experiments.md).")

    @property
    def progress(self):
        """A queue that tasks put their progress on (a Ray actor that needs no CPU)."""
        if self._progress is None:
            from ray.util.queue import Queue

            self._progress = Queue(actor_options={"num_cpus": 0})
        return self._progress

    def updates(self):
        """What tasks put on progress since the last call, in order."""
        if self._progress is None or self._progress.empty():
            return []
        return self._progress.get_nowait_batch(self._progress.qsize())

    def submit(self, function, *args, memory_mib=None):
        """Run function(*args) as a task of one CPU (and memory_mib MiB); returns its handle."""
        options = {"num_cpus": 1} | ({"memory": memory_mib * 2**20} if memory_mib else {})
        return self._remote.options(**options).remote(function, *args)

    def wait(self, handles, timeout=WAIT_SECONDS):
        """The handles among handles whose tasks have ended, waiting at most timeout seconds for one."""
        if not handles:
            return []
        ended, waiting = self.ray.wait(list(handles), num_returns=1, timeout=timeout)
        if waiting:
            ended += self.ray.wait(waiting, num_returns=len(waiting), timeout=0)[0]
        return ended

    def result(self, handle):
        """A task's value (its exception, raised here, if it failed); counted for the node it ran on."""
        node, value = self.ray.get(handle)
        self.tasks_per_node[self.names.get(node, node)] += 1
        return value

    def stop(self):
        """End every task of this connection, queued or under way, by ending the connection (Ctrl-C).

        Ray then kills the workers running its tasks on every node and starts none of those queued.
        ray.cancel is not used: cancelling a task whose reply is on its way makes Ray abort this
        process ("Tried to complete task that was not pending", Ray 2.60). No task runs after stop().
        """
        self.close()

    def where(self):
        """One line: how many tasks ran on each node."""
        return "Tasks per node: " + (", ".join(f"{name} {count}" for name, count in sorted(self.tasks_per_node.items()))
                                     or "none")

    def close(self):
        self.ray.shutdown()
