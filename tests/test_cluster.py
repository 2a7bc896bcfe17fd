"""--address: compare's runs and the class grader's sandboxes on a real Ray cluster of two nodes.

The cluster (scripts/maintainer/benchmarks/loopback_cluster.py) is made as Ray's own tests make one, `ray start --head`
and a second `ray start --address`, each node with one CPU and its own folder, in a network
namespace with only loopback: nothing leaves the machine. Marked `cluster` (make test-cluster):
they need Ray (make cluster-env) and root. The tests without the marker need neither.
"""
import csv
import json
import pickle
import re
import subprocess
import sys

import psutil
import pytest
from conftest import ROOT

from scripts.cluster import INSTALL, describe_node, differences, node_names
from scripts.maintainer.benchmarks import cluster_interrupts
from scripts.maintainer.benchmarks.loopback_cluster import tasks_under_way
from scripts.notebook_tools import answered_notebook, hint_answers, load_notebook, tagged_cells, write_class

COMPARE = cluster_interrupts.COMPARE  # the runs that Ctrl-C stops, resumed, then made here
NODES = ("node-1 (127.0.0.1)", "node-2 (127.0.0.1)")


def run(command, **options):
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, **options)


# ----------------------------------------------------------------------------- without a cluster

@pytest.mark.parametrize("command", [["-m", "scripts.experimenter.compare", "--seeds", "0", "--episodes", "1"],
                                     ["-m", "grading", "C3_W3_A1_Assignment.ipynb"]])
def test_without_ray_address_says_in_one_line_what_to_install(tmp_path, command):
    """Learners never install Ray: where it is missing, --address says how to get it, and does nothing."""
    module, *arguments = command[1:]
    program = (f"import runpy, sys; sys.modules['ray'] = None; sys.argv = [{module!r}] + sys.argv[1:]; "
               f"runpy.run_module({module!r}, run_name='__main__')")
    result = run([sys.executable, "-c", program, *arguments, "--address", "auto", "--out", str(tmp_path / "out")],
                 timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].endswith(INSTALL)
    assert not list(tmp_path.rglob("*.json"))


def description(**changes):
    here = {"root": "/r", "files": {"utils.py": "a", "scripts/experimenter/compare.py": "b"}, "machine": "x86_64",
            "packages": {"numpy": "2.4.6", "ray": "2.60.0"}, "python": "3.11", "lacks": []}
    return {**here, **changes}


def test_a_nodes_differences_are_said_in_plain_words():
    """Grading's need of bubblewrap among them, in grading's own words (grading.__main__.NODE_NEEDS)."""
    from grading.__main__ import NODE_NEEDS

    here = description()
    assert differences(here, description()) == []
    there = description(files={"utils.py": "changed", "scripts/experimenter/compare.py": "b", "extra.py": "c"},
                        packages={"numpy": "2.4.5"}, python="3.12", lacks=list(NODE_NEEDS))
    assert differences(here, there) == [
        "2 project files differ (extra.py, utils.py)", "numpy 2.4.5 (here 2.4.6)", "ray missing (here 2.60.0)",
        "Python 3.12 (here 3.11)", "no working bubblewrap (bwrap), which the grader's sandbox needs"]


def test_a_node_names_the_needs_it_lacks():
    assert describe_node({"spare moon": lambda: None, "Python": lambda: sys.executable})["lacks"] == ["spare moon"]


def test_grading_sends_its_needs_to_the_nodes_by_name():
    """Ray sends the checks to every node: each is a module-level function, which pickle sends by its name."""
    from grading.__main__ import NODE_NEEDS

    assert pickle.loads(pickle.dumps(NODE_NEEDS)) == NODE_NEEDS


def test_only_living_nodes_with_cpus_are_named():
    nodes = [{"NodeID": "a", "Alive": True, "Resources": {"CPU": 4.0}, "NodeManagerAddress": "10.0.0.1",
              "NodeName": "10.0.0.1"},
             {"NodeID": "b", "Alive": True, "Resources": {"CPU": 1.0}, "NodeManagerAddress": "10.0.0.2",
              "NodeName": "gpu-box"},
             {"NodeID": "c", "Alive": True, "Resources": {"memory": 1.0}, "NodeManagerAddress": "10.0.0.3"},
             {"NodeID": "d", "Alive": False, "Resources": {"CPU": 1.0}, "NodeManagerAddress": "10.0.0.4"}]
    assert node_names(nodes) == {"a": "10.0.0.1", "b": "gpu-box (10.0.0.2)"}


# ----------------------------------------------------------------------------- on a cluster

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two nodes of one CPU each; stopped at the end, whatever happened, with every process they started."""
    from scripts.maintainer.benchmarks.loopback_cluster import LoopbackCluster, available

    reason = available()
    if reason:  # these tests run only when asked for (make test-cluster): a skip would hide that they did not
        pytest.fail(f"make test-cluster cannot run here: {reason}")
    made = LoopbackCluster(tmp_path_factory.mktemp("ray"), nodes=2)
    try:
        yield made
    finally:
        started = [psutil.Process(process.pid) for process in made.nodes.values()]
        started += [child for process in started for child in process.children(recursive=True)]
        made.stop()
        _, alive = psutil.wait_procs(started, timeout=30)
        assert alive == [], f"processes of the cluster outlived it: {alive}"


def in_cluster(cluster, module, *arguments, address=None):
    return cluster.command([sys.executable, "-m", module, *arguments, "--address", address or cluster.address])


def tasks_per_node(output):
    """{node: tasks} from the command's 'Tasks per node:' line, for each of the two nodes."""
    (line,) = [line for line in output.splitlines() if line.startswith("Tasks per node: ")]
    found = {name: int(count) for name, count in re.findall(r"(node-\d \(127\.0\.0\.1\)) (\d+)", line)}
    return {name: found.get(name, 0) for name in NODES}


@pytest.mark.cluster
def test_compare_on_the_cluster_resumes_and_matches_a_local_run(cluster, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "cluster"
    # Ctrl-C at the first record: the queued runs never start, the one under way is killed.
    returncode, stderr, _ = cluster_interrupts.interrupt_compare(cluster, remote)
    assert cluster_interrupts.stopped_as_it_says(returncode, stderr), stderr[-3000:]
    kept = {path.name: path.stat().st_mtime_ns for path in remote.glob("*__seed*.json")}
    assert 1 <= len(kept) < 4
    assert tasks_under_way() == []

    resumed = run(in_cluster(cluster, "scripts.experimenter.compare", *COMPARE, "--out", str(remote)), timeout=1200)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{len(kept)} of 4 runs already finished" in resumed.stdout
    assert "[4/4] " in resumed.stderr  # the progress line of each finished run, counted as locally
    assert all(remote.joinpath(name).stat().st_mtime_ns == mtime for name, mtime in kept.items())
    assert all(count > 0 for count in tasks_per_node(resumed.stdout).values()), resumed.stdout

    here = run([sys.executable, "-m", "scripts.experimenter.compare", *COMPARE, "--jobs", "2", "--out", str(local)],
               timeout=1200)
    assert here.returncode == 0, here.stderr[-3000:]
    names = sorted(path.name for path in local.glob("*__seed*.json"))
    assert names == sorted(path.name for path in remote.glob("*__seed*.json")) and len(names) == 4
    for name in names:
        ours, theirs = (json.loads((folder / name).read_text()) for folder in (local, remote))
        assert len(ours["points"]) == 20
        assert (theirs["points"], theirs["solved_at"], theirs["settings"]) == (
            ours["points"], ours["solved_at"], ours["settings"]), name


def make_class(folder):
    """Six notebooks: right, partly right, two cheats, one that never ends, and a file that is no notebook."""
    notebook = load_notebook()
    right = hint_answers(notebook)
    blank = tagged_cells(notebook, "graded", "UNQ_C1")[0].source
    write_class(folder, {
        "right": answered_notebook(notebook),
        "partly_right": {"UNQ_C1": right["UNQ_C1"].replace("learning_rate=ALPHA", "learning_rate=0.01"),
                         "UNQ_C2": right["UNQ_C2"].replace(" * (1 - done_vals)", "")},
        "patches_public_tests": {"UNQ_C1": blank + "\nimport public_tests\npublic_tests.test_network = "
                                 "lambda *a: print('All tests passed!')\n", "UNQ_C2": right["UNQ_C2"]},
        "prints_a_pass_and_exits": {"UNQ_C1": "# UNQ_C1\nprint('All tests passed!')\nimport os\nos._exit(0)\n",
                                    "UNQ_C2": "# UNQ_C2\nprint('All tests passed!')\nraise SystemExit(0)\n"},
        "endless_loop": {"UNQ_C1": "# UNQ_C1\nwhile True:\n    pass\n", "UNQ_C2": right["UNQ_C2"]},
        "not_a_notebook": b"\x00\x01 not JSON",
    }, notebook)


@pytest.mark.cluster
def test_a_class_graded_on_the_cluster_resumes_and_gets_the_same_grades(cluster, tmp_path):
    make_class(tmp_path / "class")
    grade = ("grading", str(tmp_path / "class"), "--out", str(tmp_path / "cluster"), "--timeout", "20")
    returncode, stderr, _ = cluster_interrupts.interrupt_at_first_result(cluster, grade, lambda: [
        path for path in (tmp_path / "cluster").glob("*.json") if path.stem != "not_a_notebook"])
    assert returncode == 130 and "graded so far" in stderr, stderr[-3000:]
    assert tasks_under_way() == []
    graded = len(list((tmp_path / "cluster").glob("*.json")))
    assert 2 <= graded < 6

    remote = run(in_cluster(cluster, *grade), timeout=1200)
    assert remote.returncode == 0, remote.stderr[-3000:]
    assert f"{graded} of 6 submissions are unchanged" in remote.stderr
    assert f"[{6 - graded}/{6 - graded}] " in remote.stderr  # a progress line per submission graded now
    assert all(count > 0 for count in tasks_per_node(remote.stdout).values()), remote.stdout
    here = run([sys.executable, "-m", *grade[:3], str(tmp_path / "local"), "--timeout", "20", "--jobs", "2"],
               timeout=1200)
    assert here.returncode == 0, here.stderr[-3000:]
    grades = (tmp_path / "cluster" / "grades.csv").read_text()
    assert grades == (tmp_path / "local" / "grades.csv").read_text()
    rows = {row["submission"]: row for row in csv.DictReader(grades.splitlines())}
    assert [rows[name]["score"] for name in ("right", "partly_right", "patches_public_tests",
                                             "prints_a_pass_and_exits", "endless_loop", "not_a_notebook")] == [
        "20", "13", "10", "0", "10", "0"]


@pytest.mark.cluster
def test_a_node_without_the_project_is_named_before_anything_runs(cluster, tmp_path):
    """Through Ray Client (ray://) this time, as from a machine outside the cluster's network."""
    cluster.add_node("node-3", hide_project=True)
    try:
        result = run(in_cluster(cluster, "scripts.experimenter.compare", "--seeds", "0", "--episodes", "1", "--out",
                                str(tmp_path / "out"), address="ray://127.0.0.1:10001"), timeout=600)
    finally:
        cluster.stop_node("node-3")
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert "node node-3 (127.0.0.1): cannot run the project's code" in error and "No module named" in error, error
    assert "node-1" not in error and "node-2" not in error
    assert not list((tmp_path / "out").glob("*.json"))
