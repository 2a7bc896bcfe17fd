"""OUTSIDE THE SANDBOX: draws each run's probe inputs, and judges the report that comes back.

No object of the learner's ever reaches this process: a report is JSON (numbers, strings, lists),
read as untrusted data. Every verdict compares it with references computed here, on inputs drawn
at random for this run, so printed claims, patched modules, objects equal to anything and
hard-coded numbers gain nothing. The words of the verdicts are the public grader's
(public_tests.check_*), so the class grade and the notebook's tests say the same things.
"""
import json
import math
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # public_tests imports TensorFlow: keep its notices out
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
import public_tests  # noqa: E402

POINTS = {"UNQ_C1": {"q_network": 4, "target_q_network": 4, "optimizer": 2},
          "UNQ_C2": {"y_targets": 5, "loss": 5}}
TITLES = {"q_network": "the Q-network", "target_q_network": "the target Q-network", "optimizer": "the optimizer",
          "y_targets": "the Bellman targets y_targets", "loss": "the loss and its gradient"}
PROBE_STATES = 6  # states on which each network's Q-values are compared
OPTIMIZER_STEPS = 3
GRADER_HIDDEN_UNITS = 16  # the grader's own networks for compute_loss: 8 in, 16 relu, 4 out
RELU_MARGIN = 1e-5  # no hidden unit of those networks is nearer relu's kink on a mini-batch's state (see below)
MESSAGE_LIMIT = 3000


class Unreadable(Exception):
    """The report does not have the form inside.py gives it."""


# ----------------------------------------------------------------------------- networks, in numpy

class MLP:
    """A network of Dense layers, relu between them and none at the end, from its weights."""

    def __init__(self, weights):
        self.weights = [np.asarray(array, dtype=np.float64) for array in weights]

    def layers(self, states):
        """The activations of each layer, the states first."""
        activations = [np.asarray(states, dtype=np.float64)]
        pairs = list(zip(self.weights[::2], self.weights[1::2], strict=True))
        for number, (kernel, bias) in enumerate(pairs, start=1):
            value = activations[-1] @ kernel + bias
            activations.append(value if number == len(pairs) else np.maximum(value, 0.0))
        return activations

    def numpy(self, states):
        return self.layers(states)[-1]

    def loss_gradient(self, states, actions, y):
        """The gradient of mean((y - Q(s, a))^2) with respect to every weight, in order."""
        activations = self.layers(states)
        rows = np.arange(len(y))
        delta = np.zeros_like(activations[-1])
        delta[rows, actions.astype(int)] = -2.0 * (y - activations[-1][rows, actions.astype(int)]) / len(y)
        gradients = []
        for layer in range(len(self.weights) // 2 - 1, -1, -1):
            kernel = self.weights[2 * layer]
            gradients[:0] = [activations[layer].T @ delta, delta.sum(axis=0)]
            delta = (delta @ kernel.T) * (activations[layer] > 0)
        return gradients


def _random_weights(rng, sizes):
    """Weights of Dense layers of the given sizes (inputs first), drawn like a fresh network's."""
    weights = []
    for fan_in, fan_out in zip(sizes, sizes[1:], strict=False):
        weights += [rng.normal(scale=1 / math.sqrt(fan_in), size=(fan_in, fan_out)),
                    rng.normal(scale=0.5, size=fan_out)]
    return weights


def _clipped(gradient, settings):
    """The gradient as Keras 3 clips it before an update: by norm, else by global norm, else by value."""
    norm_limit = settings.get("clipnorm") or settings.get("global_clipnorm")
    if norm_limit and norm_limit > 0:
        return gradient * norm_limit / max(float(np.linalg.norm(gradient)), norm_limit)
    value_limit = settings.get("clipvalue")
    return np.clip(gradient, -value_limit, value_limit) if value_limit and value_limit > 0 else gradient


def adam_steps(initial, gradients, settings):
    """The values an Adam optimizer with these settings gives a variable after each gradient (Keras 3's rule)."""
    rate, beta_1, beta_2, epsilon = (settings[key] for key in ("learning_rate", "beta_1", "beta_2", "epsilon"))
    value = np.asarray(initial, dtype=np.float64)
    m, v, v_max, values = np.zeros_like(value), np.zeros_like(value), np.zeros_like(value), []
    for step, gradient in enumerate(np.asarray(gradients, dtype=np.float64), start=1):
        gradient = _clipped(gradient, settings)
        m += (gradient - m) * (1 - beta_1)
        v += (gradient ** 2 - v) * (1 - beta_2)
        v_max = np.maximum(v_max, v)
        alpha = rate * math.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
        value = value - m * alpha / (np.sqrt(v_max if settings["amsgrad"] else v) + epsilon)
        values.append(value.copy())
    return np.array(values)


# ----------------------------------------------------------------------------- probes

def make_probe(exercise, rng):
    """(probe, expected): the inputs sent into the sandbox, and what the grader keeps to judge by."""
    return {"UNQ_C1": _probe_exercise_1, "UNQ_C2": _probe_exercise_2}[exercise](rng)


def _probe_exercise_1(rng):
    sizes = [public_tests.STATE_SIZE] + [units for units, _ in public_tests.EXPECTED_LAYERS]
    weights = {name: _random_weights(rng, sizes) for name in ("q_network", "target_q_network")}
    activation_inputs = np.concatenate([-rng.uniform(0.1, 4, 8), rng.uniform(0.1, 4, 9)])
    states = rng.normal(size=(PROBE_STATES, public_tests.STATE_SIZE))
    optimizer = {"initial": rng.normal(size=6), "gradients": rng.normal(size=(OPTIMIZER_STEPS, 6))}
    probe = {"activation_inputs": activation_inputs.tolist(), "states": states.tolist(),
             "weights": {name: [array.tolist() for array in arrays] for name, arrays in weights.items()},
             "optimizer": {key: value.tolist() for key, value in optimizer.items()}}
    expected = {"activation_inputs": activation_inputs.tolist(), "optimizer": optimizer,
                "q_values": {name: MLP(arrays).numpy(states) for name, arrays in weights.items()}}
    return probe, expected


def clear_of_relu_kink(network, states):
    """True when no hidden unit of network is within RELU_MARGIN of 0 on any of states (exactly 0 is
    fine: both precisions agree on it). The learner's TensorFlow computes in float32, the judge in float64:
    a unit nearer its kink may be active in one and not in the other, and the gradients then differ."""
    activations = network.layers(states)
    for inputs, kernel, bias in zip(activations[:-2], network.weights[:-2:2], network.weights[1:-2:2], strict=True):
        distance = np.abs(inputs @ kernel + bias)
        if np.any((distance > 0) & (distance < RELU_MARGIN)):
            return False
    return True


def draw_exercise_2(rng, sizes):
    """One draw of compute_loss's probe: the grader's networks' weights, the networks, the mini-batches."""
    weights = {"q": _random_weights(rng, sizes), "target": _random_weights(rng, sizes),
               "ones": [np.zeros((sizes[0], sizes[1])), np.zeros(sizes[1]), np.zeros((sizes[1], sizes[2])),
                        np.ones(sizes[2])]}
    networks = {name: MLP(arrays) for name, arrays in weights.items()}
    return weights, networks, public_tests.make_cases(rng, networks["q"], networks["target"], networks["ones"])


def _probe_exercise_2(rng):
    """compute_loss's probe, drawn again while a unit of a Q-network is on relu's kink (clear_of_relu_kink)."""
    sizes = (public_tests.STATE_SIZE, GRADER_HIDDEN_UNITS, public_tests.NUM_ACTIONS)
    weights, networks, cases = draw_exercise_2(rng, sizes)
    while not all(clear_of_relu_kink(case["q_network"], case["states"]) for case in cases):
        weights, networks, cases = draw_exercise_2(rng, sizes)
    names = {id(network): name for name, network in networks.items()}
    probe = {"networks": {name: [array.tolist() for array in arrays] for name, arrays in weights.items()},
             "cases": [{**{key: case[key].tolist() for key in ("states", "actions", "rewards", "next_states", "dones")},
                        "gamma": case["gamma"], "about": case["about"], "q_network": names[id(case["q_network"])],
                        "target_network": names[id(case["target_network"])]} for case in cases]}
    return probe, {"cases": cases}


# ----------------------------------------------------------------------------- verdicts

def printable(text):
    """text without control characters (a terminal's escape sequences), new lines and tabs kept."""
    return "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in str(text))


def _short(text):
    text = printable(text)
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " [...]"


def _verdict(part, passed, message):
    points = POINTS["UNQ_C1" if part in POINTS["UNQ_C1"] else "UNQ_C2"][part]
    return {"part": part, "score": points if passed else 0, "max_score": points, "message": _short(message)}


def all_fail(exercise, message):
    return [_verdict(part, False, message) for part in POINTS[exercise]]


def _value(entry, what=None):
    """The value of a guarded entry of the report, or AssertionError with what went wrong getting it
    (the error alone when what is None: the public grader's own message)."""
    if not isinstance(entry, dict):
        raise Unreadable(what or "an entry")
    if "error" in entry:
        raise AssertionError(f"{what}: {entry['error']}" if what else str(entry["error"]))
    return entry["value"]


def _array(value, shape=None):
    """value as a float array (of shape, if given); Unreadable when it is not numbers of that shape."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Unreadable("not numbers") from None
    if shape is not None and array.shape != shape:
        raise Unreadable(f"numbers of shape {array.shape}, not {shape}")
    return array


def _close(found, expected):
    scale = 1.0 + float(np.max(np.abs(expected))) if np.size(expected) else 1.0
    return bool(np.all(np.isfinite(found))) and np.allclose(found, expected, rtol=1e-3, atol=1e-5 * scale)


def _judge_network(report, name, expected):
    """A network: the public grader's checks on its description, then its Q-values with the probe's weights."""
    entry = report[name]
    description = _value(entry["description"], f"Describing {name} failed")
    public_tests.check_network(description, expected["activation_inputs"])
    _value(entry["set_weights"], f"Setting the probe's weights on {name} failed")
    found = _array(_value(entry["outputs"], f"Calling {name} on states failed"))
    wanted = expected["q_values"][name]
    if found.shape == wanted.shape and _close(found, wanted):
        return f"Right: {name} is Input(8), Dense(64, relu), Dense(64, relu), Dense(4, linear)."
    other = expected["q_values"][({"q_network", "target_q_network"} - {name}).pop()]
    if found.shape == other.shape and _close(found, other):
        raise AssertionError(f"{name} gives the Q-values of the other network's weights: q_network and "
                             "target_q_network are one network under two names. Build each with its own "
                             f"Sequential([...]).\n{public_tests.HINT_1}")
    raise AssertionError(f"{name} describes the right layers, but with given weights it does not compute what "
                         f"they compute: on a state, expected Q-values {np.round(wanted[0], 4).tolist()}, but "
                         f"found {np.round(found.reshape(-1)[:4], 4).tolist()}.\n{public_tests.HINT_1}")


def _judge_optimizer(report, alpha, expected):
    """The optimizer: the public grader's checks on its class and settings, then Adam's steps on a variable."""
    entry = report["optimizer"]
    description = _value(entry["description"], "Describing the optimizer failed")
    public_tests.check_optimizer(description, alpha)
    settings = {key: description[key] for key in ("learning_rate", "beta_1", "beta_2", "epsilon")}
    if not all(isinstance(value, float) and math.isfinite(value) for value in settings.values()):
        raise Unreadable("optimizer settings")
    settings["amsgrad"] = description["amsgrad"] is True
    for name in ("clipnorm", "global_clipnorm", "clipvalue"):
        limit = description.get(name)
        settings[name] = limit if isinstance(limit, float) and math.isfinite(limit) else None
    found = _array(_value(entry["steps"], "Applying the optimizer to a variable failed"),
                   (OPTIMIZER_STEPS, len(expected["optimizer"]["initial"])))
    wanted = adam_steps(expected["optimizer"]["initial"], expected["optimizer"]["gradients"], settings)
    if not _close(found, wanted):
        raise AssertionError(f"The optimizer does not update weights as Adam(learning_rate={alpha}) does: after "
                             f"{OPTIMIZER_STEPS} steps, expected {np.round(wanted[-1][:3], 6).tolist()}..., but "
                             f"found {np.round(found[-1][:3], 6).tolist()}....\n{public_tests.HINT_1}")
    return f"Right: Adam with learning rate ALPHA = {alpha}."


def _judge_exercise_1(report, expected, alpha):
    verdicts = []
    for part in ("q_network", "target_q_network"):
        verdicts.append(_judge_part(part, lambda part=part: _judge_network(report, part, expected)))
    verdicts.append(_judge_part("optimizer", lambda: _judge_optimizer(report, alpha, expected)))
    return verdicts


def _judge_part(part, judge):
    """Run one part's judge: it returns the message of a pass, or raises the message of a failure."""
    try:
        return _verdict(part, True, judge())
    except AssertionError as failure:
        return _verdict(part, False, str(failure))
    except (Unreadable, KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as error:
        return _verdict(part, False, f"The grader could not read what your cell reported for {TITLES[part]} "
                                     f"({type(error).__name__}: {error}); no points for it.")


def _case_results(report, cases):
    """Per case: (loss or None, the error instead, tensor?, gradient or None, y_targets or None)."""
    entries = report["cases"]
    if not isinstance(entries, list) or len(entries) != len(cases):
        raise Unreadable("cases")
    results = []
    for entry, case in zip(entries, cases, strict=True):
        size = len(case["rewards"])
        try:
            loss, error = float(_array(_value(entry["loss"]), ())), None
        except AssertionError as failure:
            loss, error = None, str(failure)
        gradient = None
        if entry.get("tensor") is True and "gradient" in entry and "value" in entry["gradient"]:
            values = entry["gradient"]["value"]
            if isinstance(values, list) and all(v is not None for v in values):
                gradient = [_array(v) for v in values]
        y_entry = entry.get("y_targets", {})
        y = y_entry.get("value") if isinstance(y_entry, dict) else None
        y = _array(y, (size,)) if isinstance(y, list) and len(y) == size else None
        results.append({"loss": loss, "error": error, "tensor": entry.get("tensor") is True,
                        "gradient": gradient, "y": y})
    return results


def _judge_targets(results, cases, loss_right):
    """y_targets, read from compute_loss when it returns; inferred from a right loss when it cannot be read."""
    if any(result["y"] is None for result in results):
        if loss_right:
            return "Right: the loss is right, so the targets are."
        raise AssertionError("y_targets is missing or still None on return: compute y_targets = rewards + gamma * "
                             f"max_qsa * (1 - done_vals).\n{public_tests.HINT_2}")
    wrong = [(case, result["y"]) for case, result in zip(cases, results, strict=True)
             if not _close(result["y"], public_tests.targets(case))]
    if not wrong:
        return "Right: y_targets = rewards + gamma * max_qsa * (1 - done_vals)."
    mistakes = [name for name, variant in public_tests.TARGET_MISTAKES.items()
                if all(_close(result["y"], public_tests.targets(case, **variant))
                       for case, result in zip(cases, results, strict=True))]
    if mistakes:
        summary = "y_targets is wrong: " + "; or ".join(mistakes) + "."
    elif any(case["rewards_only"] for case, _ in wrong):
        summary = "y_targets is wrong even where it must be the rewards alone: y_targets = rewards + ..."
    else:
        summary = ("y_targets is right where it must be the rewards alone, but wrong elsewhere: the future term "
                   "must be gamma * max_qsa * (1 - done_vals).")
    lines = [_differences(case["about"], public_tests.targets(case), y) for case, y in wrong[:3]]
    raise AssertionError(summary + "\n" + "\n".join(lines) + f"\n{public_tests.HINT_2}")


def _differences(about, expected, found):
    """A line naming the first experiences where found differs from expected, with both values."""
    where = np.flatnonzero(~np.isclose(found, expected, rtol=1e-3, atol=1e-5))[:3]
    return (f"- on {about}: at experiences {where.tolist()}, expected {np.round(expected[where], 4).tolist()}, "
            f"but found {np.round(found[where], 4).tolist()}")


def _judge_loss(results, cases):
    """The loss: MSE between the (learner's own) y_targets and the Q-values taken, with MSE's gradient."""
    errors = [result["error"] for result in results if result["error"]]
    if errors:
        raise AssertionError(errors[0])
    own_targets = all(result["y"] is not None for result in results)
    targets_used = [result["y"] if own_targets else public_tests.targets(case)
                    for case, result in zip(cases, results, strict=True)]
    # Every case's value first: on one random mini-batch a wrong loss (all four Q-values, say) can
    # come within the tolerance of MSE's by chance, but not on all of them, and the value names it.
    for case, result, y in zip(cases, results, targets_used, strict=True):
        expected = float(np.mean((y - public_tests.taken_q_values(case)) ** 2))
        if not _close(result["loss"], expected):
            if own_targets and not _close(y, public_tests.targets(case)):
                raise AssertionError(f"The loss is not MSE(y_targets, q_values) of your own y_targets: on "
                                     f"{case['about']}, expected {expected:.6f}, but got {result['loss']:.6f}.\n"
                                     f"{public_tests.HINT_2}")
            public_tests.check_losses([(c, r["loss"]) for c, r in zip(cases, results, strict=True)])
    for case, result, y in zip(cases, results, targets_used, strict=True):
        if not result["tensor"]:
            raise AssertionError(public_tests.NOT_A_TENSOR.format("something else") + f"\n{public_tests.HINT_2}")
        wanted = case["q_network"].loss_gradient(case["states"], case["actions"], y)
        found = result["gradient"]
        if found is None or len(found) != len(wanted) or not all(
                f.size == w.size and _close(f.reshape(-1), w.reshape(-1)) for f, w in zip(found, wanted, strict=True)):
            raise AssertionError(f"{public_tests.NO_GRADIENT}\n(The gradient of the loss with respect to the "
                                 f"Q-network's weights differs from MSE's, on {case['about']}.)\n{public_tests.HINT_2}")
    return "Right: loss = MSE(y_targets, q_values), and its gradient reaches the Q-network."


def _judge_exercise_2(report, expected):
    if report.get("callable") is not True:
        message = f"compute_loss must be a function, but it is {report.get('kind')}.\n{public_tests.HINT_2}"
        return all_fail("UNQ_C2", message)
    cases = expected["cases"]
    try:
        results = _case_results(report, cases)
    except (Unreadable, KeyError, TypeError, ValueError, AttributeError) as error:
        return all_fail("UNQ_C2", f"The grader could not read what your cell reported ({error}).")
    loss = _judge_part("loss", lambda: _judge_loss(results, cases))
    targets = _judge_part("y_targets", lambda: _judge_targets(results, cases, loss["score"] > 0))
    return [targets, loss]


def judge(exercise, run, expected, alpha, limits):
    """The verdicts of one exercise's run: a list of {part, score, max_score, message}."""
    if run.timed_out:
        return all_fail(exercise, f"Your cell did not finish within the time limit of {limits['timeout']} s "
                                   "(an endless loop, or a very long computation?). No points for this exercise.")
    if run.memory_exceeded:
        return all_fail(exercise, f"Your cell used more than the memory limit of {limits['memory_mib']} MiB, so it was "
                                  "stopped. No points for this exercise.")
    if run.report is None:
        return all_fail(exercise, "Your cell ended the grading process before it could report (exit code "
                                   f"{run.returncode}): does it call exit(), crash, or use more than the memory "
                                   f"limit of {limits['memory_mib']} MiB? No points for this exercise.")
    try:
        report = json.loads(run.report)
        if not isinstance(report, dict):
            raise Unreadable("not an object")
    except (ValueError, RecursionError, Unreadable):
        return all_fail(exercise, "The grader could not read the report of your cell (did your code write to it?). "
                                   "No points for this exercise.")
    if exercise == "UNQ_C1":
        verdicts = _judge_exercise_1(report, expected, alpha)
    else:
        verdicts = _judge_exercise_2(report, expected)
    cell_error = report.get("cell_error")
    if isinstance(cell_error, str):
        note = "\n\nYour cell raised an error (the parts it defined before it were still graded):\n" + cell_error
        if "MemoryError" in cell_error:
            note += f"\n(The memory limit is {limits['memory_mib']} MiB.)"
        for verdict in verdicts:
            if verdict["score"] < verdict["max_score"]:
                verdict["message"] = _short(verdict["message"] + note)
    return verdicts
