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

__all__ = ["test_network", "test_optimizer", "test_compute_loss"]


def _passed():
    print("\033[92mAll tests passed!\033[0m")


def _check(condition, message, hint):
    """Raise AssertionError(message + hint) unless condition holds."""
    __tracebackhide__ = True  # IPython shows the learner's call and the message, not the grader's lines
    if not condition:
        raise AssertionError(f"{message}\n{hint}")


# ----------------------------------------------------------------------------- Exercise 1

_PROBE = np.linspace(-4.0, 4.0, 17, dtype=np.float32)[None, :]


def _activation_name(activation):
    """Name an activation by what it computes: 'relu', 'linear', or its own name."""
    try:
        computed = np.asarray(activation(tf.constant(_PROBE)))
    except Exception:  # an activation that cannot run on a tensor is certainly wrong
        computed = None
    if computed is not None and computed.shape == _PROBE.shape:
        if np.allclose(computed, np.maximum(_PROBE, 0.0)):
            return "relu"
        if np.allclose(computed, _PROBE):
            return "linear"
    return getattr(activation, "__name__", type(activation).__name__)


def _input_shape(model):
    """The model's input shape as a tuple, or None when it has no Input."""
    try:
        return tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def test_network(target):
    """Check the learner's Q-network (target: the model under test): Input of 8, Dense 64 relu, Dense 64
    relu, Dense 4 linear."""
    __tracebackhide__ = True
    _check(target is not None, "Exercise 1 is not done yet: the network is None. Build it with "
           "Sequential([...]) in the cell marked UNQ_C1.", HINT_1)
    _check(isinstance(target, tf.keras.Model),
           f"The network must be a Keras Sequential model, but it is a {type(target).__name__}.", HINT_1)
    layers = [layer for layer in target.layers if not isinstance(layer, tf.keras.layers.InputLayer)]
    _check(len(layers) > 0, "Exercise 1 is not done yet: the Sequential model has no layers. In the cell "
           "marked UNQ_C1, put the Input and three Dense layers between the START and END CODE HERE lines.", HINT_1)
    kinds = [type(layer).__name__ for layer in layers]
    _check(len(layers) == 3,
           f"Wrong number of layers: expected 3 (Dense, Dense, Dense) after the Input, but found "
           f"{len(layers)}: {kinds}.", HINT_1)
    _check(all(isinstance(layer, tf.keras.layers.Dense) for layer in layers),
           f"Wrong kind of layer: expected three Dense layers, but found {kinds}.", HINT_1)
    shape = _input_shape(target)
    _check(shape is not None, "The network has no input shape: start the list with "
           "Input(shape=state_size).", HINT_1)
    _check(shape == (None, STATE_SIZE),
           f"Wrong input shape: expected (None, {STATE_SIZE}) (a batch of states of {STATE_SIZE} numbers), "
           f"but found {shape}. Use Input(shape=state_size).", HINT_1)
    expected = [(64, "relu"), (64, "relu"), (NUM_ACTIONS, "linear")]
    for number, (layer, (units, activation)) in enumerate(zip(layers, expected, strict=True), start=1):
        _check(layer.units == units,
               f"Wrong number of units in Dense layer {number}: expected {units}, but found {layer.units}.",
               HINT_1)
        found = _activation_name(layer.activation)
        _check(found == activation,
               f"Wrong activation in Dense layer {number}: expected {activation}, but found {found}.", HINT_1)
        _check(layer.use_bias, f"Dense layer {number} has no bias: leave use_bias at its default (True).",
               HINT_1)
    outputs = target(tf.zeros((2, STATE_SIZE)))
    _check(tuple(outputs.shape) == (2, NUM_ACTIONS),
           f"Wrong output: a batch of 2 states should give Q-values of shape (2, {NUM_ACTIONS}), "
           f"but gave {tuple(outputs.shape)}.", HINT_1)
    _passed()


def test_optimizer(target, ALPHA):
    """Check the learner's optimizer (target: the optimizer under test): Adam, with learning rate ALPHA."""
    __tracebackhide__ = True
    if isinstance(ALPHA, bool) or not isinstance(ALPHA, numbers.Real) or not ALPHA > 0:
        raise TypeError(f"ALPHA must be a positive number (the learning rate), got {ALPHA!r}")
    _check(target is not None, "Exercise 1 is not done yet: optimizer is None. "
           "Create it with Adam(...) in the cell marked UNQ_C1.", HINT_1)
    if isinstance(target, type):
        raise AssertionError(f"optimizer is the class {target.__name__}, not an optimizer: call it, as in "
                             f"Adam(learning_rate=ALPHA).\n{HINT_1}")
    _check(isinstance(target, tf.keras.optimizers.Adam)
           and not isinstance(target, tf.keras.optimizers.AdamW),
           f"Wrong optimizer: expected Adam, but found {type(target).__name__}.", HINT_1)
    try:
        learning_rate = float(target.learning_rate)
    except (TypeError, ValueError):
        learning_rate = None
    _check(learning_rate is not None and np.isclose(learning_rate, ALPHA, rtol=1e-5, atol=0.0),
           f"Wrong learning rate: expected ALPHA = {ALPHA}, but found "
           f"{learning_rate if learning_rate is not None else target.learning_rate}. "
           "Pass learning_rate=ALPHA.", HINT_1)
    _check(not target.weight_decay,
           f"The optimizer has weight decay {target.weight_decay}: plain Adam has none.", HINT_1)
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


def _loss(case, *, targets_from="target_network", next_input="next_states", reduce=np.max, reward=True,
          discount=True, mask="not done", mask_rewards=False, gather=True, error="mse"):
    """The loss of a case, computed right (the defaults) or with one of the usual mistakes."""
    network = case[targets_from]
    future = reduce(network.numpy(case[next_input]), axis=-1)
    weights = {"not done": 1 - case["dones"], "done": case["dones"], "none": 1.0}[mask]
    gamma = case["gamma"] if discount else 1.0
    y = (case["rewards"] if reward else 0.0) + gamma * future * weights
    if mask_rewards:
        y = y * weights
    q_all = case["q_network"].numpy(case["states"])
    if gather:
        q = q_all[np.arange(len(q_all)), case["actions"].astype(int)]
        difference = y - q
    else:
        difference = y[:, None] - q_all
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


def _make_cases():
    """The fixed cases of test_compute_loss, each isolating part of the answer."""
    rng = np.random.default_rng(2024)  # a local generator: the global random state is left alone

    def batch(done_share):
        states = rng.normal(size=(BATCH_SIZE, STATE_SIZE)).astype(np.float32)
        dones = np.zeros(BATCH_SIZE, dtype=np.float32)
        dones[rng.choice(BATCH_SIZE, int(round(done_share * BATCH_SIZE)), replace=False)] = 1.0
        return {"states": states,
                "actions": rng.integers(0, NUM_ACTIONS, BATCH_SIZE).astype(np.float32),
                "rewards": rng.normal(scale=2.0, size=BATCH_SIZE).astype(np.float32),
                "next_states": rng.normal(size=(BATCH_SIZE, STATE_SIZE)).astype(np.float32),
                "dones": dones}

    q_network, target_network = _StandInNetwork(rng, 1.5), _StandInNetwork(rng, 2.5)
    nets = {"q_network": q_network, "target_network": target_network}
    cases = [
        dict(batch(0.05), gamma=0.995, **nets,
             about="a mini-batch where a few episodes are done (gamma 0.995)"),
        dict(batch(0.0), gamma=0.9, **nets, about="a mini-batch where no episode is done (gamma 0.9)"),
        dict(batch(1.0), gamma=0.995, **nets,
             about="a mini-batch where every episode is done, so y must be the rewards alone"),
        dict(batch(0.5), gamma=0.0, **nets, about="gamma 0, so y must be the rewards alone"),
        dict(batch(0.25), gamma=0.5, **nets, about="a quarter of the episodes done (gamma 0.5)"),
        dict(batch(1.0), gamma=0.995, q_network=_ConstantNetwork(1.0), target_network=_ConstantNetwork(1.0),
             about="every episode done and networks that always answer 1: the loss is mean((r - 1)^2)"),
    ]
    ones = dict(batch(0.05), gamma=0.0, q_network=_ConstantNetwork(1.0), target_network=_ConstantNetwork(1.0))
    cases.append(dict(ones, rewards=np.ones(BATCH_SIZE, np.float32),
                      about="rewards 1, gamma 0, networks of ones: the loss is 0"))
    cases.append(dict(ones, rewards=np.zeros(BATCH_SIZE, np.float32),
                      about="rewards 0, gamma 0, networks of ones: the loss is 1"))
    for case in cases:
        case["rewards_only"] = case["gamma"] == 0.0 or bool(case["dones"].all())
    return cases


def _experiences(case):
    """The case's mini-batch as compute_loss receives it: five float32 tensors."""
    return tuple(tf.constant(case[key], dtype=tf.float32)
                 for key in ("states", "actions", "rewards", "next_states", "dones"))


def _run_answer(compute_loss, case):
    """Call the learner's compute_loss on a case; return its loss as a float, or raise AssertionError."""
    __tracebackhide__ = True
    try:
        loss = compute_loss(_experiences(case), case["gamma"], case["q_network"], case["target_network"])
    except Exception as error:
        raise AssertionError(f"compute_loss raised {type(error).__name__}: {error}\n"
                             f"(on {case['about']}). {HINT_2}") from None
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


def _check_gradients_flow(compute_loss, case):
    """The loss must be a TensorFlow tensor whose gradient reaches every weight of the Q-network."""
    __tracebackhide__ = True
    q_network, target_network = _tiny_network(1), _tiny_network(2)
    with tf.GradientTape() as tape:
        loss = compute_loss(_experiences(case), case["gamma"], q_network, target_network)
    _check(isinstance(loss, tf.Tensor),
           f"compute_loss must return a TensorFlow tensor, but returned {type(loss).__name__}: the gradient "
           "tape cannot follow numpy or Python numbers. Use MSE(y_targets, q_values).", HINT_2)
    gradients = tape.gradient(loss, q_network.trainable_variables)
    _check(all(g is not None for g in gradients) and any(float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients),
           "No gradient flows from the loss to the Q-network's weights: compute the loss from q_values with "
           "TensorFlow operations (MSE), without tf.stop_gradient or .numpy().", HINT_2)


def test_compute_loss(target):
    """Check the learner's compute_loss (target: the function under test) on cases that separate the parts
    of the Bellman error."""
    __tracebackhide__ = True
    _check(callable(target), f"compute_loss must be a function, but it is {type(target).__name__}.", HINT_2)
    cases = _make_cases()
    found = [(case, _run_answer(target, case)) for case in cases]
    wrong = [(case, value) for case, value in found
             if not np.isclose(value, _loss(case), rtol=1e-4, atol=1e-5)]
    if wrong:
        mistakes = _diagnose(found)
        lines = [f"- on {case['about']}: expected {_loss(case):.6f}, but got {value:.6f}" for case, value in wrong]
        rewards_only_wrong = any(case["rewards_only"] for case, _ in wrong)
        if mistakes:
            summary = "compute_loss is wrong: " + "; or ".join(mistakes) + "."
        elif rewards_only_wrong:
            summary = ("compute_loss is wrong even where y must be the rewards alone: check the rewards in "
                       "y_targets and the loss, which must be MSE(y_targets, q_values).")
        else:
            summary = ("compute_loss is right where y is the rewards alone, but wrong elsewhere: check the "
                       "future term of y_targets, which must be gamma * max_qsa * (1 - done_vals).")
        raise AssertionError(summary + "\n" + "\n".join(lines) + f"\n{HINT_2}")
    _check_gradients_flow(target, cases[0])
    _passed()
