"""The grader of the Deep Q-Learning assignment.

Each test prints "All tests passed!" in green when the answer is right, and otherwise raises
an AssertionError that says which part of the exercise is wrong, what was expected and what
was found.
"""
import numbers

import numpy as np
import tensorflow as tf

STATE_SIZE = 8
NUM_ACTIONS = 4
BATCH_SIZE = 64
HINT_1 = "See the hints below Exercise 1 for the full answer."
HINT_2 = "See the hints below Exercise 2 for the full answer."
EXPECTED_LAYERS = ((64, "relu"), (64, "relu"), (NUM_ACTIONS, "linear"))  # (units, activation) of each Dense

__all__ = ["test_network", "test_optimizer", "test_compute_loss"]


def _passed():
    print("\033[92mAll tests passed!\033[0m")


def _check(condition, message, hint):
    """Raise AssertionError(message + hint) unless condition holds."""
    __tracebackhide__ = True  # IPython shows the learner's call and the message, not the grader's lines
    if not condition:
        raise AssertionError(f"{message}\n{hint}")


# ----------------------------------------------------------------------------- Exercise 1
# Each check is in two steps: describe_* turns the learner's object into plain data (numbers,
# names, lists), where the object lives; check_* judges that data and raises the message. The
# notebook runs both in the learner's kernel. The class grader (grading/) runs describe_*
# inside its sandbox and check_* in its own process, so the two graders say the same words.

ACTIVATION_PROBE = tuple(np.linspace(-4.0, 4.0, 17).tolist())  # inputs on which an activation is measured


def _activation_outputs(activation, inputs):
    """What an activation computes on inputs, as a list of floats; None when it cannot run on a tensor."""
    try:
        computed = np.asarray(activation(tf.constant([inputs], dtype=tf.float32)), dtype=np.float64)
    except Exception:  # an activation that cannot run on a tensor is certainly wrong
        return None
    return computed.reshape(-1).tolist() if computed.shape == (1, len(inputs)) else None


def _input_shape(model):
    """The model's input shape as a list (None for the batch), or None when it has no Input."""
    try:
        return [None if size is None else int(size) for size in model.inputs[0].shape]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _describe_layer(layer, activation_inputs):
    if not isinstance(layer, tf.keras.layers.Dense):
        return {"kind": type(layer).__name__, "dense": False}
    return {"kind": type(layer).__name__, "dense": True, "units": int(layer.units), "use_bias": bool(layer.use_bias),
            "activation": getattr(layer.activation, "__name__", type(layer.activation).__name__),
            "activation_outputs": _activation_outputs(layer.activation, activation_inputs)}


def describe_network(model, activation_inputs=ACTIVATION_PROBE):
    """Plain data about a network, for check_network: its layers (kind, units, bias, the activation's
    name and its outputs on activation_inputs), its input shape and the shape of its output on 2 states."""
    if model is None:
        return {"kind": "None"}
    if not isinstance(model, tf.keras.Model):
        return {"kind": type(model).__name__, "model": False}
    layers = [_describe_layer(layer, activation_inputs) for layer in model.layers
              if not isinstance(layer, tf.keras.layers.InputLayer)]
    try:
        output_shape = [int(size) for size in model(tf.zeros((2, STATE_SIZE))).shape]
    except Exception:
        output_shape = None
    return {"kind": type(model).__name__, "model": True, "layers": layers, "input_shape": _input_shape(model),
            "output_shape": output_shape}


def _activation_name(layer, activation_inputs):
    """Name an activation by what it computes: 'relu', 'linear', or its own name."""
    computed = layer["activation_outputs"]
    if computed is not None and len(computed) == len(activation_inputs):
        inputs = np.asarray(activation_inputs, dtype=np.float64)
        if np.allclose(computed, np.maximum(inputs, 0.0)):
            return "relu"
        if np.allclose(computed, inputs):
            return "linear"
    return layer["activation"]


def check_network(description, activation_inputs=ACTIVATION_PROBE):
    """Judge describe_network's data: Input of 8, Dense 64 relu, Dense 64 relu, Dense 4 linear."""
    __tracebackhide__ = True
    _check(description["kind"] != "None", "Exercise 1 is not done yet: the network is None. Build it with "
           "Sequential([...]) in the cell marked UNQ_C1.", HINT_1)
    _check(description["model"],
           f"The network must be a Keras Sequential model, but it is a {description['kind']}.", HINT_1)
    layers = description["layers"]
    _check(len(layers) > 0, "Exercise 1 is not done yet: the Sequential model has no layers. In the cell "
           "marked UNQ_C1, put the Input and three Dense layers between the START and END CODE HERE lines.", HINT_1)
    kinds = [layer["kind"] for layer in layers]
    _check(len(layers) == 3,
           f"Wrong number of layers: expected 3 (Dense, Dense, Dense) after the Input, but found "
           f"{len(layers)}: {kinds}.", HINT_1)
    _check(all(layer["dense"] for layer in layers),
           f"Wrong kind of layer: expected three Dense layers, but found {kinds}.", HINT_1)
    shape = description["input_shape"]
    _check(shape is not None, "The network has no input shape: start the list with "
           "Input(shape=state_size).", HINT_1)
    _check(shape == [None, STATE_SIZE],
           f"Wrong input shape: expected (None, {STATE_SIZE}) (a batch of states of {STATE_SIZE} numbers), "
           f"but found {tuple(shape)}. Use Input(shape=state_size).", HINT_1)
    for number, (layer, (units, activation)) in enumerate(zip(layers, EXPECTED_LAYERS, strict=True), start=1):
        _check(layer["units"] == units,
               f"Wrong number of units in Dense layer {number}: expected {units}, but found {layer['units']}.",
               HINT_1)
        found = _activation_name(layer, activation_inputs)
        _check(found == activation,
               f"Wrong activation in Dense layer {number}: expected {activation}, but found {found}.", HINT_1)
        _check(layer["use_bias"], f"Dense layer {number} has no bias: leave use_bias at its default (True).",
               HINT_1)
    output_shape = description["output_shape"]
    _check(output_shape == [2, NUM_ACTIONS],
           f"Wrong output: a batch of 2 states should give Q-values of shape (2, {NUM_ACTIONS}), "
           f"but gave {None if output_shape is None else tuple(output_shape)}.", HINT_1)


def test_network(target):
    """Check the learner's Q-network (target: the model under test): Input of 8, Dense 64 relu, Dense 64
    relu, Dense 4 linear."""
    __tracebackhide__ = True
    check_network(describe_network(target))
    _passed()


def _number_or_none(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def describe_optimizer(optimizer):
    """Plain data about an optimizer, for check_optimizer: its class and its settings."""
    if optimizer is None:
        return {"kind": "None"}
    if isinstance(optimizer, type):
        return {"kind": optimizer.__name__, "is_class": True}
    settings = {name: _number_or_none(getattr(optimizer, name, None)) for name in
                ("learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon", "clipnorm", "global_clipnorm",
                 "clipvalue")}
    # The learning rate as text only when it is no number (str() of a Keras variable warns).
    text = None if settings["learning_rate"] is not None else str(getattr(optimizer, "learning_rate", None))[:200]
    return {"kind": type(optimizer).__name__, "is_class": False,
            "adam": isinstance(optimizer, tf.keras.optimizers.Adam)
            and not isinstance(optimizer, tf.keras.optimizers.AdamW),
            "learning_rate_text": text, "amsgrad": bool(getattr(optimizer, "amsgrad", False)), **settings}


def check_optimizer(description, ALPHA):
    """Judge describe_optimizer's data: Adam, with learning rate ALPHA and no weight decay."""
    __tracebackhide__ = True
    _check(description["kind"] != "None", "Exercise 1 is not done yet: optimizer is None. "
           "Create it with Adam(...) in the cell marked UNQ_C1.", HINT_1)
    _check(not description["is_class"], f"optimizer is the class {description['kind']}, not an optimizer: call it, "
           "as in Adam(learning_rate=ALPHA).", HINT_1)
    _check(description["adam"], f"Wrong optimizer: expected Adam, but found {description['kind']}.", HINT_1)
    learning_rate = description["learning_rate"]
    _check(learning_rate is not None and np.isclose(learning_rate, ALPHA, rtol=1e-5, atol=0.0),
           f"Wrong learning rate: expected ALPHA = {ALPHA}, but found "
           f"{learning_rate if learning_rate is not None else description['learning_rate_text']}. "
           "Pass learning_rate=ALPHA.", HINT_1)
    _check(not description["weight_decay"],
           f"The optimizer has weight decay {description['weight_decay']}: plain Adam has none.", HINT_1)


def test_optimizer(target, ALPHA):
    """Check the learner's optimizer (target: the optimizer under test): Adam, with learning rate ALPHA."""
    __tracebackhide__ = True
    if isinstance(ALPHA, bool) or not isinstance(ALPHA, numbers.Real) or not ALPHA > 0:
        raise TypeError(f"ALPHA must be a positive number (the learning rate), got {ALPHA!r}")
    check_optimizer(describe_optimizer(target), ALPHA)
    _passed()


# ----------------------------------------------------------------------------- Exercise 2

class _StandInNetwork:
    """A fixed network whose Q-values depend on the states it is given (a smooth random map)."""

    def __init__(self, rng, scale):
        self.first = rng.normal(size=(STATE_SIZE, 16)).astype(np.float32)
        self.second = (scale * rng.normal(size=(16, NUM_ACTIONS))).astype(np.float32)
        self.bias = rng.normal(size=NUM_ACTIONS).astype(np.float32)

    def numpy(self, states):
        return np.tanh(np.asarray(states, dtype=np.float32) @ self.first) @ self.second + self.bias

    def __call__(self, states, training=None):
        states = tf.convert_to_tensor(states, dtype=tf.float32)
        return tf.matmul(tf.tanh(tf.matmul(states, self.first)), self.second) + self.bias

    predict = __call__


class _ConstantNetwork(_StandInNetwork):
    """A network that answers every state with the same Q-values."""

    def __init__(self, value):
        self.value = np.float32(value)

    def numpy(self, states):
        return np.full((len(states), NUM_ACTIONS), self.value, dtype=np.float32)

    def __call__(self, states, training=None):
        return tf.fill((tf.shape(states)[0], NUM_ACTIONS), self.value)

    predict = __call__


def targets(case, *, targets_from="target_network", next_input="next_states", reduce=np.max, reward=True,
            discount=True, mask="not done", mask_rewards=False):
    """The Bellman targets y of a case, computed right (the defaults) or with one of the usual mistakes."""
    network = case[targets_from]
    future = reduce(network.numpy(case[next_input]), axis=-1)
    weights = {"not done": 1 - case["dones"], "done": case["dones"], "none": 1.0}[mask]
    gamma = case["gamma"] if discount else 1.0
    y = (case["rewards"] if reward else 0.0) + gamma * future * weights
    return y * weights if mask_rewards else y


def taken_q_values(case):
    """The Q-network's values of the actions taken in a case."""
    q_all = case["q_network"].numpy(case["states"])
    return q_all[np.arange(len(q_all)), case["actions"].astype(int)]


def _loss(case, *, gather=True, error="mse", **mistakes_in_targets):
    """The loss of a case, computed right (the defaults) or with one of the usual mistakes."""
    y = targets(case, **mistakes_in_targets)
    difference = y - taken_q_values(case) if gather else y[:, None] - case["q_network"].numpy(case["states"])
    return {"mse": np.mean(difference ** 2), "mae": np.mean(np.abs(difference)),
            "rmse": np.sqrt(np.mean(difference ** 2)), "sum": np.sum(difference ** 2),
            "half mse": 0.5 * np.mean(difference ** 2)}[error]


_MISTAKES = {
    "the targets ignore the done mask: multiply gamma * max_qsa by (1 - done_vals)": {"mask": "none"},
    "the done mask is reversed: use (1 - done_vals), which is 0 where the episode ended": {"mask": "done"},
    "the (1 - done_vals) mask multiplies the rewards too; only the future term is masked":
        {"mask_rewards": True},
    "the targets leave out the rewards: y = rewards + ...": {"reward": False},
    "the targets leave out the discount gamma": {"discount": False},
    "the targets use the Q-network; they must use the target network (max_qsa as given)":
        {"targets_from": "q_network"},
    "the targets use the states; they must use the next states (max_qsa as given)":
        {"next_input": "states"},
    "the targets use the Q-network on the states; they must use max_qsa as given":
        {"next_input": "states", "targets_from": "q_network"},
    "the targets use the mean over actions; they must use the max (max_qsa as given)": {"reduce": np.mean},
    "the targets use the min over actions; they must use the max (max_qsa as given)": {"reduce": np.min},
    "the loss compares y with all four Q-values; use the gathered q_values of the actions taken":
        {"gather": False},
    "the loss is the mean absolute error; use MSE": {"error": "mae"},
    "the loss is the root of the mean squared error; use MSE": {"error": "rmse"},
    "the loss is the sum of squared errors; use MSE (the mean)": {"error": "sum"},
    "the loss is half the mean squared error; use MSE": {"error": "half mse"},
}


TARGET_MISTAKES = {name: variant for name, variant in _MISTAKES.items()
                   if not {"gather", "error"} & set(variant)}  # mistakes in y_targets alone


def make_cases(rng, q_network, target_network, ones):
    """The cases on which compute_loss is judged, each isolating part of the answer.

    rng draws the mini-batches; q_network and target_network are networks with a numpy(states)
    method, ones one that answers 1 for every state and action.
    """
    def batch(done_share):
        states = rng.normal(size=(BATCH_SIZE, STATE_SIZE)).astype(np.float32)
        dones = np.zeros(BATCH_SIZE, dtype=np.float32)
        dones[rng.choice(BATCH_SIZE, int(round(done_share * BATCH_SIZE)), replace=False)] = 1.0
        return {"states": states,
                "actions": rng.integers(0, NUM_ACTIONS, BATCH_SIZE).astype(np.float32),
                "rewards": rng.normal(scale=2.0, size=BATCH_SIZE).astype(np.float32),
                "next_states": rng.normal(size=(BATCH_SIZE, STATE_SIZE)).astype(np.float32),
                "dones": dones}

    nets = {"q_network": q_network, "target_network": target_network}
    cases = [
        dict(batch(0.05), gamma=0.995, **nets,
             about="a mini-batch where a few episodes are done (gamma 0.995)"),
        dict(batch(0.0), gamma=0.9, **nets, about="a mini-batch where no episode is done (gamma 0.9)"),
        dict(batch(1.0), gamma=0.995, **nets,
             about="a mini-batch where every episode is done, so y must be the rewards alone"),
        dict(batch(0.5), gamma=0.0, **nets, about="gamma 0, so y must be the rewards alone"),
        dict(batch(0.25), gamma=0.5, **nets, about="a quarter of the episodes done (gamma 0.5)"),
        dict(batch(1.0), gamma=0.995, q_network=ones, target_network=ones,
             about="every episode done and networks that always answer 1: the loss is mean((r - 1)^2)"),
    ]
    ones = dict(batch(0.05), gamma=0.0, q_network=ones, target_network=ones)
    cases.append(dict(ones, rewards=np.ones(BATCH_SIZE, np.float32),
                      about="rewards 1, gamma 0, networks of ones: the loss is 0"))
    cases.append(dict(ones, rewards=np.zeros(BATCH_SIZE, np.float32),
                      about="rewards 0, gamma 0, networks of ones: the loss is 1"))
    for case in cases:
        case["rewards_only"] = case["gamma"] == 0.0 or bool(case["dones"].all())
    return cases


def _make_cases():
    """The fixed cases of test_compute_loss (a local generator: the global random state is left alone)."""
    rng = np.random.default_rng(2024)
    return make_cases(rng, _StandInNetwork(rng, 1.5), _StandInNetwork(rng, 2.5), _ConstantNetwork(1.0))


def _experiences(case):
    """The case's mini-batch as compute_loss receives it: five float32 tensors."""
    return tuple(tf.constant(case[key], dtype=tf.float32)
                 for key in ("states", "actions", "rewards", "next_states", "dones"))


def loss_value(loss):
    """compute_loss's result as a float, or AssertionError saying why it is not a single number."""
    __tracebackhide__ = True
    _check(loss is not None, "Exercise 2 is not done yet: compute_loss returns None. In the cell marked "
           "UNQ_C2, fill in y_targets and loss between the START and END CODE HERE lines.", HINT_2)
    try:
        values = np.asarray(loss, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"compute_loss must return a number (a scalar tensor), but returned "
                             f"{type(loss).__name__}. {HINT_2}") from None
    _check(values.size == 1, f"compute_loss must return a single number (the mean over the mini-batch), "
           f"but returned an array of shape {values.shape}. Use MSE(y_targets, q_values).", HINT_2)
    return float(values.reshape(()))


def call_answer(compute_loss, case, q_network=None, target_network=None):
    """Call the learner's compute_loss on a case (with other networks, if given); return what it returns,
    or raise AssertionError naming the exception it raised."""
    __tracebackhide__ = True
    try:
        return compute_loss(_experiences(case), case["gamma"], q_network or case["q_network"],
                            target_network or case["target_network"])
    except Exception as error:
        raise AssertionError(f"compute_loss raised {type(error).__name__}: {error}\n"
                             f"(on {case['about']}). {HINT_2}") from None


def _run_answer(compute_loss, case):
    """Call the learner's compute_loss on a case; return its loss as a float, or raise AssertionError."""
    __tracebackhide__ = True
    return loss_value(call_answer(compute_loss, case))


def _diagnose(found):
    """Name the mistakes whose losses match all the losses found."""
    names = []
    for name, variant in _MISTAKES.items():
        expected = [_loss(case, **variant) for case, _ in found]
        if np.allclose(expected, [value for _, value in found], rtol=1e-4, atol=1e-5):
            names.append(name)
    return names


def _tiny_network(seed):
    """A small Keras network with fixed initial weights (the global random state is left alone)."""
    initializer = tf.keras.initializers.GlorotUniform(seed=seed)
    return tf.keras.Sequential([tf.keras.Input(shape=(STATE_SIZE,)),
                                tf.keras.layers.Dense(8, activation="relu", kernel_initializer=initializer),
                                tf.keras.layers.Dense(NUM_ACTIONS, kernel_initializer=initializer)])


NOT_A_TENSOR = ("compute_loss must return a TensorFlow tensor, but returned {}: the gradient tape cannot "
                "follow numpy or Python numbers. Use MSE(y_targets, q_values).")
NO_GRADIENT = ("No gradient flows from the loss to the Q-network's weights: compute the loss from q_values with "
               "TensorFlow operations (MSE), without tf.stop_gradient or .numpy().")


def _check_gradients_flow(compute_loss, case):
    """The loss must be a TensorFlow tensor whose gradient reaches every weight of the Q-network."""
    __tracebackhide__ = True
    q_network, target_network = _tiny_network(1), _tiny_network(2)
    with tf.GradientTape() as tape:
        loss = compute_loss(_experiences(case), case["gamma"], q_network, target_network)
    _check(isinstance(loss, tf.Tensor), NOT_A_TENSOR.format(type(loss).__name__), HINT_2)
    gradients = tape.gradient(loss, q_network.trainable_variables)
    _check(all(g is not None for g in gradients) and any(float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients),
           NO_GRADIENT, HINT_2)


def check_losses(found):
    """Judge compute_loss's losses: found pairs each case with the loss returned on it."""
    __tracebackhide__ = True
    wrong = [(case, value) for case, value in found if not np.isclose(value, _loss(case), rtol=1e-4, atol=1e-5)]
    if not wrong:
        return
    mistakes = _diagnose(found)
    lines = [f"- on {case['about']}: expected {_loss(case):.6f}, but got {value:.6f}" for case, value in wrong]
    if mistakes:
        summary = "compute_loss is wrong: " + "; or ".join(mistakes) + "."
    elif any(case["rewards_only"] for case, _ in wrong):
        summary = ("compute_loss is wrong even where y must be the rewards alone: check the rewards in "
                   "y_targets and the loss, which must be MSE(y_targets, q_values).")
    else:
        summary = ("compute_loss is right where y is the rewards alone, but wrong elsewhere: check the "
                   "future term of y_targets, which must be gamma * max_qsa * (1 - done_vals).")
    raise AssertionError(summary + "\n" + "\n".join(lines) + f"\n{HINT_2}")


def test_compute_loss(target):
    """Check the learner's compute_loss (target: the function under test) on cases that separate the parts
    of the Bellman error."""
    __tracebackhide__ = True
    _check(callable(target), f"compute_loss must be a function, but it is {type(target).__name__}.", HINT_2)
    cases = _make_cases()
    check_losses([(case, _run_answer(target, case)) for case in cases])
    _check_gradients_flow(target, cases[0])
    _passed()
