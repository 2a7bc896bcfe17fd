"""OUTSIDE THE SANDBOX: starts grading/inside.py in a sandbox and collects what comes out of it.

With bubblewrap (Linux), the learner's code runs as an unprivileged user in namespaces of its own:
no network (its own empty network namespace), its own process IDs (it sees no process outside and
cannot signal one), no capabilities, a read-only file system holding only the operating system,
Python and the three files it needs (inside.py, utils.py, public_tests.py: none of the grader's
other files, nor the submissions or the results), and a small private, empty, writable /tmp as its
working folder (where Python lies under /tmp, its folder is bound there too, read-only). Everywhere,
it runs in a process of its own, in a new session, with hard limits on memory, CPU time, file size
and processes (set by inside.py before the learner's code runs), and is killed at the time limit.
Without bubblewrap (as in a container that refuses it user namespaces: Gradescope's, say), a grader
running as root runs each learner's code as a user of its own (OWN_USERS), which can neither write
the grader's files and results nor signal its processes, and kills whatever that user left running.
What comes back is bytes: the report (read up to REPORT_LIMIT) and the output (its start and its end
kept, OUTPUT_LIMIT in all). judge.py decides what they are worth.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from scripts import ROOT

WATCH_INTERVAL = 0.1  # seconds between looks at the run's time and memory
FILES_INSIDE = (ROOT / "grading" / "inside.py", ROOT / "utils.py", ROOT / "public_tests.py", ROOT / "lander")
REPORT_LIMIT = 4 * 2**20  # bytes of report read; a longer one is not a report
OUTPUT_LIMIT = 6000  # characters of the learner's output kept, half from its start, half from its end
TMP_SIZE = 64 * 2**20  # bytes of the sandbox's private /tmp
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
BUBBLEWRAP_ISOLATION = "bubblewrap: no network, read-only file system, own process IDs, limits on time and memory"
OWN_USERS = range(64000, 64100)  # user IDs for runs without bubblewrap under root, each free of accounts and processes
PYTHON_FLAGS = (sys.executable, "-E", "-s", "-u", "-W", "ignore")  # no PYTHON* variables or user site; unbuffered
ENVIRONMENT = {"HOME": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1",
               "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0", "OMP_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class Run:
    """What one sandboxed run gave back: untrusted bytes and text, and how it ended."""
    report: bytes | None  # None: no report, or one over REPORT_LIMIT
    output: str
    timed_out: bool
    memory_exceeded: bool
    returncode: int | None
    seconds: float


STOPPED_RUN = Run(report=None, output="", timed_out=False, memory_exceeded=False, returncode=None, seconds=0.0)


class _Tail:
    """Drains a stream, keeping its first and last OUTPUT_LIMIT // 2 characters."""

    def __init__(self, stream):
        self.head, self.tail, self.dropped = b"", b"", 0
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream):
        half = OUTPUT_LIMIT // 2
        for chunk in iter(lambda: stream.read1(65536), b""):
            room = half - len(self.head)
            self.head += chunk[:room]
            rest = self.tail + chunk[max(room, 0):]
            self.dropped += max(len(rest) - half, 0)
            self.tail = rest[-half:]

    def text(self):
        self.thread.join(timeout=5)
        middle = f"\n[... {self.dropped} bytes of output left out ...]\n" if self.dropped else ""
        return self.head.decode("utf-8", "replace") + middle + self.tail.decode("utf-8", "replace")


def _read_report(fd, into):
    with os.fdopen(fd, "rb") as stream:
        data = stream.read(REPORT_LIMIT + 1)
        while stream.read(65536):  # drain, so a writer past the limit is not left blocked
            pass
    into.append(data if len(data) <= REPORT_LIMIT else None)


def bubblewrap():
    """The bwrap program, when it is installed and can make a sandbox here; else None."""
    program = shutil.which("bwrap")
    if program is None:
        return None
    trial = subprocess.run([program, *_namespaces(), "--ro-bind", "/", "/", "--", "/bin/true"],
                           capture_output=True, timeout=30)
    return program if trial.returncode == 0 else None


def _namespaces():
    return ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--disable-userns",
            "--cap-drop", "ALL", "--die-with-parent", "--new-session"]


def python_dirs():
    """The folders Python needs: the environment's, and the interpreter's own (a venv points there); an
    environment reached through a link (a .venv linked into a copy of the project) at its linked path too."""
    dirs = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent,
            Path(sys.prefix).absolute()}
    return sorted(str(d) for d in dirs if not any(str(d).startswith(system + "/") for system in SYSTEM_DIRS))


def bwrap_arguments(program, staging, report_fd):
    """The command that runs inside.py (from staging, seen as /grader) in bubblewrap (program), reporting on
    report_fd: the operating system, Python (python_dirs) and staging read-only, a private /tmp."""
    arguments = [program, *_namespaces()]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            arguments += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            arguments += ["--ro-bind", path, path]
    # The private /tmp first, then Python over it: a Python environment that lies under /tmp (a clone
    # in a temporary folder) is bound read-only into the sandbox's /tmp, not hidden by it.
    arguments += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_SIZE), "--tmpfs", "/tmp",
                  "--size", str(TMP_SIZE), "--tmpfs", "/dev/shm"]
    for path in (*SYSTEM_FILES, *python_dirs()):
        if os.path.exists(path):
            arguments += ["--ro-bind", path, path]
    arguments += ["--ro-bind", str(staging), "/grader", "--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]
    for name, value in ENVIRONMENT.items():
        arguments += ["--setenv", name, value]
    return arguments + ["--", *PYTHON_FLAGS, "/grader/inside.py", str(report_fd)]


class Sandbox:
    """Runs inside.py on tasks, each in a fresh sandbox; bubblewrap where it works, else a plain process."""

    def __init__(self):
        self.bwrap = bubblewrap() if sys.platform.startswith("linux") else None
        self.running, self.stopped = set(), threading.Event()
        self.staging = Path(tempfile.mkdtemp(prefix="grader-inside-"))
        for path in FILES_INSIDE:
            if path.is_dir():
                shutil.copytree(path, self.staging / path.name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(path, self.staging / path.name)
        self.users_taken, self.users_lock = set(), threading.Lock()
        self.own_users = self.bwrap is None and _is_root()
        if self.own_users:  # its files readable by the learner's own user, if Python can run as one
            self.staging.chmod(0o755)
            for path in self.staging.rglob("*"):
                path.chmod(0o755 if path.is_dir() else 0o644)
            self.own_users = python_runs_as_own_user()

    @property
    def isolation(self):
        """One line saying what isolates the learner's code here."""
        if self.bwrap:
            return BUBBLEWRAP_ISOLATION
        if self.own_users:
            return ("bubblewrap not available: the learner's code runs in a separate process as a user of its own, "
                    "which cannot write the grader's files or signal its processes, with limits on time, memory and "
                    "processes, but with the network and what every user may read; it is still judged outside")
        return ("bubblewrap not available: the learner's code runs in a separate process with time and memory "
                "limits, but with the network and the file system of this user; it is still judged outside")

    def _take_user(self):
        with self.users_lock:
            uid = _free_user(self.users_taken)
            self.users_taken.add(uid)
            return uid

    def _give_back_user(self, uid):
        _kill_user(uid)
        with self.users_lock:
            self.users_taken.discard(uid)

    def close(self):
        shutil.rmtree(self.staging, ignore_errors=True)

    def stop_all(self):
        """Kill every run under way, and refuse new ones (Ctrl-C)."""
        self.stopped.set()
        for process in list(self.running):
            _kill(process)
        for uid in list(self.users_taken):
            _kill_user(uid)

    def _command(self, report_fd, workdir):
        if self.bwrap:
            return bwrap_arguments(self.bwrap, self.staging, report_fd), None
        return [*PYTHON_FLAGS, str(self.staging / "inside.py"), str(report_fd)], workdir

    def run(self, task, timeout, memory_mib):
        """Run inside.py on task (a JSON-ready dict) for at most timeout seconds, its processes together
        using at most memory_mib MiB; return a Run."""
        import json

        uid = self._take_user() if self.own_users else None
        task = dict(task, own_user=bool(self.bwrap) or uid is not None)
        read_end, write_end = os.pipe()
        workdir = tempfile.mkdtemp(prefix="grader-work-")
        if uid is not None:
            os.chown(workdir, uid, uid)
        command, cwd = self._command(write_end, workdir)
        environment = dict(ENVIRONMENT, HOME=workdir) if cwd else None
        if environment is not None and sys.platform == "win32":
            environment["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")
        started = time.monotonic()
        try:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, pass_fds=(write_end,), cwd=cwd,
                                       env=environment if cwd else {}, start_new_session=True,
                                       **(_as_user(uid) if uid is not None else {}))
        finally:
            os.close(write_end)
        self.running.add(process)
        if self.stopped.is_set():
            _kill(process)
        reports, output = [], _Tail(process.stdout)
        reader = threading.Thread(target=_read_report, args=(read_end, reports), daemon=True)
        reader.start()
        try:
            process.stdin.write(json.dumps(task).encode())
            process.stdin.close()
        except OSError:  # it ended before reading its task
            pass
        timed_out, memory_exceeded = _watch(process, started + timeout, memory_mib * 2**20)
        _kill(process)
        if uid is not None:  # and what its user left running, out of its process group too
            self._give_back_user(uid)
        self.running.discard(process)
        reader.join(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)
        return Run(report=reports[0] if reports else None, output=output.text(), timed_out=timed_out,
                   memory_exceeded=memory_exceeded, returncode=process.returncode, seconds=time.monotonic() - started)


def run_once(task, timeout, memory_mib):
    """Sandbox().run(task, timeout, memory_mib) in a sandbox made for this run alone (a cluster's task)."""
    sandbox = Sandbox()
    try:
        return sandbox.run(task, timeout, memory_mib)
    finally:
        sandbox.close()


class ClusterSandbox:
    """Sandbox's methods, each run a task on a node of a Ray cluster (scripts.cluster.Cluster, which has
    checked that every node has the grader's files and a working bubblewrap): one CPU, and the memory of
    the run's limit. What comes back is the same Run, judged here."""

    isolation = f"on each node of a Ray cluster, {BUBBLEWRAP_ISOLATION}"

    def __init__(self, cluster):
        self.cluster, self.running, self.stopped = cluster, set(), threading.Event()
        self.lock = threading.Lock()

    def run(self, task, timeout, memory_mib):
        with self.lock:  # stop_all sees every task started
            if self.stopped.is_set():
                return STOPPED_RUN
            handle = self.cluster.submit(run_once, task, timeout, memory_mib, memory_mib=memory_mib)
            self.running.add(handle)
        try:
            while not self.cluster.wait([handle]):  # each wait is short: stop_all is heard at once
                if self.stopped.is_set():
                    return STOPPED_RUN
            return self.cluster.result(handle)
        finally:
            self.running.discard(handle)

    def stop_all(self):
        """End the runs queued on the cluster and those under way (Ctrl-C); refuse new ones.

        The runs' threads stop waiting first: the cluster's stop() ends the connection they wait on."""
        with self.lock:
            self.stopped.set()
        while self.running:
            time.sleep(WATCH_INTERVAL)
        self.cluster.stop()

    def close(self):
        pass


def _is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def python_runs_as_own_user():
    """Whether this Python and its libraries run as a user of OWN_USERS (root): they may lie where only root
    reads (under /root, say), and then the learner's code runs as the grader's user."""
    try:
        uid = _free_user(set())
        trial = subprocess.run([*PYTHON_FLAGS, "-c", "import numpy, psutil"], cwd="/", env=dict(ENVIRONMENT),
                               capture_output=True, timeout=120, **_as_user(uid))
    except (OSError, subprocess.SubprocessError, RuntimeError):
        return False
    _kill_user(uid)
    return trial.returncode == 0


def _free_user(taken):
    """A user ID of OWN_USERS that no account has, no process runs as, and taken does not hold."""
    import pwd

    busy = set(taken)
    for process in psutil.process_iter(["uids"]):
        if process.info["uids"]:
            busy.update(process.info["uids"])
    for uid in OWN_USERS:
        if uid not in busy:
            try:
                pwd.getpwuid(uid)
            except KeyError:
                return uid
    raise RuntimeError(f"no free user ID in {OWN_USERS.start}-{OWN_USERS.stop - 1} to run learners' code as")


def _as_user(uid):
    """Popen's arguments that start a process as uid alone, in no group of the grader's."""
    return {"user": uid, "group": uid, "extra_groups": []}


def _kill_user(uid):
    """Kill every process running as uid (a run's own user): a daemon it left, out of its session, too."""
    for _ in range(100):
        left = [process for process in psutil.process_iter(["uids", "status"])
                if process.info["uids"] and uid in process.info["uids"]
                and process.info["status"] != psutil.STATUS_ZOMBIE]
        if not left:
            return
        for process in left:
            try:
                process.kill()
            except psutil.Error:
                pass
        time.sleep(0.05)


def _resident_bytes(process):
    """The memory in use by a process and all its descendants (the whole sandbox)."""
    try:
        tree = [psutil.Process(process.pid)]
        tree += tree[0].children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for member in tree:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def _watch(process, deadline, memory_bytes):
    """Wait for the run to end; (timed out, memory exceeded): stops at the deadline or the memory limit.

    Each process also has its own hard limit (inside.py); this one counts them all together.
    """
    while process.poll() is None:
        if time.monotonic() > deadline:
            return True, False
        if _resident_bytes(process) > memory_bytes:
            return False, True
        time.sleep(WATCH_INTERVAL)
    return False, False


def _kill(process):
    """Kill the run and everything it started (its process group; with bwrap, its PID namespace dies too)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        pass
    if process.poll() is None:
        process.kill()
    process.wait()
