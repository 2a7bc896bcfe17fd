"""INSIDE THE SANDBOX: runs next to the learner's code. Nothing here is trusted by the grader.

Started by grading/sandbox.py as `python inside.py FD`, with a task (JSON) on standard input: the
notebook's set-up cells, one graded cell of the learner's, and the probe inputs drawn for this
run. It limits its own resources, runs the cells, measures what they defined on the probe inputs
and writes plain data (JSON: numbers, names, messages) to file descriptor FD. The learner's code
runs in this process and could change anything here, so grading/judge.py checks every number
against references it computes itself, outside.
"""
import json
import os
import sys
import traceback
import warnings

TEXT_LIMIT = 2000  # characters of any message reported
FILE_SIZE_LIMIT = 64 * 2**20  # bytes, for any file the learner's code writes (the working folder is small too)
PROCESS_LIMIT = 64  # processes and threads in the sandbox (TensorFlow starts 5 here)
CASE_FIELDS = ("states", "actions", "rewards", "next_states", "dones")


def limit_resources(memory_mib, seconds, own_user):
    """Hard limits the learner's code cannot raise again: memory, CPU time, file size, no core dump, and,
    as a user of its own (a user namespace's, or a user ID nothing else runs as), processes."""
    import resource

    limits = {"RLIMIT_DATA": memory_mib * 2**20, "RLIMIT_CPU": int(seconds) + 5, "RLIMIT_FSIZE": FILE_SIZE_LIMIT,
              "RLIMIT_CORE": 0}
    if own_user:  # elsewhere RLIMIT_NPROC counts every process of the user running the grader
        limits["RLIMIT_NPROC"] = PROCESS_LIMIT
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (AttributeError, ValueError, OSError):  # a limit this system does not have or will not lower
            pass


def short(text):
    text = str(text)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " [...]"


def error_text(error):
    return short(f"{type(error).__name__}: {error}")


def guarded(function, *args):
    """{'value': function(*args)}, or {'error': what it raised} (AssertionError: its message alone)."""
    try:
        return {"value": function(*args)}
    except AssertionError as error:
        return {"error": short(error)}
    except Exception as error:
        return {"error": error_text(error)}


def run_cells(setup, answer):
    """Run the set-up cells, then the learner's cell; return the namespace and the cell's error, if any."""
    namespace = {"__name__": "__main__"}
    for number, source in enumerate(setup, start=1):
        exec(compile(source, f"<set-up cell {number}>", "exec"), namespace)
    try:
        exec(compile(answer, "<your graded cell>", "exec"), namespace)
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: the probes still run
        lines = traceback.format_exception(error)
        return namespace, short("".join(line for line in lines if "inside.py" not in line))
    return namespace, None


def float_list(value):
    import numpy as np
    return np.asarray(value, dtype=np.float64).reshape(-1).tolist()


def probe_exercise_1(namespace, probe, public_tests, tf):
    """Describe both networks and the optimizer; their outputs with the probe's weights; Adam's steps."""
    import numpy as np

    report = {}
    networks = {name: namespace.get(name) for name in ("q_network", "target_q_network")}
    for name, network in networks.items():
        report[name] = {"description": guarded(public_tests.describe_network, network, probe["activation_inputs"])}
    # Both weights before any output, the target's first: one network under two names then fails as
    # the target network (its outputs follow the Q-network's weights).
    for name, network in reversed(networks.items()):
        weights = [np.asarray(array, dtype=np.float32) for array in probe["weights"][name]]
        report[name]["set_weights"] = guarded(lambda network=network, weights=weights: network.set_weights(weights))
    states = tf.constant(probe["states"], dtype=tf.float32)
    for name, network in networks.items():
        report[name]["outputs"] = guarded(lambda network=network: np.asarray(network(states), np.float64).tolist())

    optimizer = namespace.get("optimizer")
    report["optimizer"] = {"description": guarded(public_tests.describe_optimizer, optimizer)}

    def steps():
        variable = tf.Variable(np.asarray(probe["optimizer"]["initial"], dtype=np.float32))
        values = []
        for gradient in probe["optimizer"]["gradients"]:
            optimizer.apply_gradients([(tf.constant(gradient, dtype=tf.float32), variable)])
            values.append(float_list(variable.numpy()))
        return values
    report["optimizer"]["steps"] = guarded(steps)
    return report


def grader_network(weights, tf):
    """One of the grader's own networks (8 in, one relu layer, 4 out), with the given weights."""
    import numpy as np

    arrays = [np.asarray(array, dtype=np.float32) for array in weights]
    network = tf.keras.Sequential([tf.keras.Input(shape=(arrays[0].shape[0],)),
                                   tf.keras.layers.Dense(arrays[0].shape[1], activation="relu"),
                                   tf.keras.layers.Dense(arrays[2].shape[1])])
    network.set_weights(arrays)
    return network


def run_case(compute_loss, case, networks, public_tests, tf):
    """The learner's loss on one case, its gradient with respect to the Q-network, and its y_targets."""
    import numpy as np

    q_network, target_network = networks["q"][case["q_network"]], networks["target"][case["target_network"]]
    arrays = {key: np.asarray(case[key], dtype=np.float32) for key in CASE_FIELDS}
    code, captured = getattr(compute_loss, "__code__", None), {}

    def keep_targets(frame, event, _):
        if event == "return" and frame.f_code is code:
            captured["y_targets"] = frame.f_locals.get("y_targets")
    sys.setprofile(keep_targets)
    try:
        with tf.GradientTape() as tape:
            loss = public_tests.call_answer(compute_loss, dict(arrays, gamma=case["gamma"], about=case["about"]),
                                            q_network, target_network)
    except AssertionError as error:
        return {"loss": {"error": short(error)}}
    finally:
        sys.setprofile(None)
    entry = {"loss": guarded(public_tests.loss_value, loss), "tensor": isinstance(loss, tf.Tensor)}
    if entry["tensor"]:
        entry["gradient"] = guarded(lambda: [None if g is None else float_list(g)
                                             for g in tape.gradient(loss, q_network.trainable_variables)])
    targets = captured.get("y_targets")
    entry["y_targets"] = guarded(lambda: None if targets is None else float_list(targets))
    return entry


def probe_exercise_2(namespace, probe, public_tests, tf):
    """compute_loss on the probe's mini-batches, with the grader's own networks."""
    compute_loss = namespace.get("compute_loss")
    report = {"kind": type(compute_loss).__name__, "callable": callable(compute_loss)}
    if report["callable"]:
        # A network object of its own for each role: the gradient must not flow through the targets.
        networks = {role: {name: grader_network(weights, tf) for name, weights in probe["networks"].items()}
                    for role in ("q", "target")}
        report["cases"] = [run_case(compute_loss, case, networks, public_tests, tf) for case in probe["cases"]]
    return report


PROBES = {"UNQ_C1": probe_exercise_1, "UNQ_C2": probe_exercise_2}


def measure(task, public_tests, tf):
    """Run the task's cells, then its exercise's probe: the report (plain data), or None in a process
    that the learner's code forked (only the original reports)."""
    pid = os.getpid()
    namespace, cell_error = run_cells(task["setup"], task["answer"])
    if os.getpid() != pid:
        return None
    with warnings.catch_warnings():  # the probes' own warnings are not the learner's output
        warnings.simplefilter("ignore")
        return {"cell_error": cell_error, **PROBES[task["exercise"]](namespace, task["probe"], public_tests, tf)}


def main():
    report_fd = int(sys.argv[1])
    task = json.loads(sys.stdin.read())
    limit_resources(task["memory_mib"], task["seconds"], task["own_user"])
    write, dumps, exit_now = os.write, json.dumps, os._exit  # held before the learner's code runs
    import tensorflow as tf

    import public_tests

    tf.config.threading.set_intra_op_parallelism_threads(1)  # the grader runs several sandboxes at once
    tf.config.threading.set_inter_op_parallelism_threads(1)
    report = measure(task, public_tests, tf)
    if report is None:
        exit_now(0)
    data = dumps(report).encode()
    while data:
        data = data[write(report_fd, data):]
    exit_now(0)  # no atexit handler or thread of the learner's runs after the report


if __name__ == "__main__":
    main()
