"""Helpers for the Deep Q-Learning Lunar Lander assignment.

The notebook imports this module as ``utils``. Every public function checks its
arguments first and raises a ``ValueError``, ``TypeError`` or ``FileNotFoundError``
that names the argument, what was expected and what came.
"""
import base64
import ctypes
import html
import io
import json
import logging
import numbers
import os
import random
import tempfile
import warnings
import zipfile
from collections import deque
from collections.abc import Sequence

# gym 0.24 opens a pygame window even to render frames into arrays; draw off-screen instead,
# so no stray window appears on a desktop and no screen is needed on a server.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

# TensorFlow's start-up messages, kept out of the notebook (which imports utils before TensorFlow).
# Its C++ log shows errors only, or nothing where no GPU can work: TensorFlow's full package then
# logs an error a learner can do nothing about ("failed call to cuInit"). NVIDIA's driver library is
# asked, as TensorFlow asks it; where a GPU is there but fails, TensorFlow's errors still say why.
# No oneDNN notice either, which TensorFlow prints before its log settings apply: oneDNN's custom
# operations change nothing for this network, the same weights, bit for bit (tests/test_utils.py).
try:
    _NO_GPU = ctypes.CDLL("libcuda.so.1").cuInit(0) == 100  # CUDA_ERROR_NO_DEVICE
except OSError:  # no NVIDIA driver (always so on macOS and Windows, where TensorFlow has no CUDA)
    _NO_GPU = True
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if _NO_GPU else "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import gym  # before the filter below: importing gym puts its own DeprecationWarning filter first
import h5py
import imageio.v2 as imageio
import numpy as np
import pandas as pd
from IPython.display import HTML
from PIL import Image, ImageDraw, ImageFont

# matplotlib 3.10 (Colab's) calls functions that pyparsing 3.3 deprecates, as it loads; gym's filter
# would show each warning. Keras loads matplotlib inside TensorFlow, so both load with the filter.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="matplotlib")
    import matplotlib.pyplot as plt
    import tensorflow as tf

# Box2D's SWIG bindings warn on import under Python 3.11+; nothing a learner can act on.
warnings.filterwarnings("ignore", message="builtin type .* has no __module__", category=DeprecationWarning)
# Python 3.13: TensorFlow's AutoGraph, through gast 0.7, passes ast nodes a keyword they do not
# take (serge-sans-paille/gast#104); gym's logger would show the warning in the training cell.
warnings.filterwarnings("ignore", message=r".*__init__ got an unexpected keyword argument",
                        category=DeprecationWarning, module="gast")

SEED = 0              # seed for Python's random module (set on import) and the notebook
MINIBATCH_SIZE = 64   # experiences per learning step
TAU = 1e-3            # soft update rate of the target network
E_DECAY = 0.995       # multiplicative decay of epsilon after each episode
E_MIN = 0.01          # epsilon never goes below this
SOLVED_POINTS = 200.0  # solved: the last SOLVED_WINDOW episodes average at least this many points
SOLVED_WINDOW = 100
MAX_EPISODE_STEPS = 1000  # gym cuts a LunarLander-v2 episode after this many steps

STATE_SIZE = 8
NUM_ACTIONS = 4
STATE_NAMES = ("x position", "y position", "x velocity", "y velocity", "angle",
               "angular velocity", "left leg in contact", "right leg in contact")
ACTION_NAMES = ("Do nothing", "Fire right orientation engine", "Fire main engine",
                "Fire left orientation engine")
# Short names for a video's labels: do nothing, right engine, main engine, left engine.
ACTION_LABELS = tuple(name.lower().removeprefix("fire ").replace(" orientation", "") for name in ACTION_NAMES)

random.seed(SEED)


# ----------------------------------------------------------------------------- checks

def _check_number(name, value, low=None, high=None):
    """Raise unless value is a real number (not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {value!r}")


def _check_int(name, value, low=None):
    """Raise unless value is an integer (not bool) of at least low."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")


def _check_buffer(memory_buffer):
    """Raise unless memory_buffer is a sized container of experiences."""
    if isinstance(memory_buffer, (str, bytes)) or not hasattr(memory_buffer, "__len__") \
            or not hasattr(memory_buffer, "__getitem__"):
        raise TypeError("memory_buffer must be a deque or list of experiences, "
                        f"got {type(memory_buffer).__name__}")


def _as_state(name, state):
    """Return state as a float32 vector of 8, or raise."""
    try:
        array = np.asarray(state, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a vector of {STATE_SIZE} numbers, got {type(state).__name__}") from None
    if array.shape != (STATE_SIZE,):
        raise ValueError(f"{name} must have shape ({STATE_SIZE},), got shape {array.shape}")
    return array


def _check_action(name, action):
    """Raise unless action is one of 0, 1, 2, 3."""
    if isinstance(action, bool) or not isinstance(action, numbers.Integral):
        raise TypeError(f"{name} must be an integer action 0..{NUM_ACTIONS - 1}, "
                        f"got {type(action).__name__} {action!r}")
    if not 0 <= action < NUM_ACTIONS:
        raise ValueError(f"{name} must be an action in 0..{NUM_ACTIONS - 1}, got {action}")


def _check_model(name, model):
    """Raise unless model is a built Keras model."""
    if model is None:
        raise TypeError(f"{name} is None: build the Q-network in Exercise 1 first")
    if not isinstance(model, tf.keras.Model):
        raise TypeError(f"{name} must be a Keras model, got {type(model).__name__}")
    if not model.weights:
        raise ValueError(f"{name} has no weights: give it an Input layer and Dense layers")


def _check_env(env):
    """Raise unless env looks like a gym environment."""
    if not (hasattr(env, "reset") and hasattr(env, "step") and hasattr(env, "render")):
        raise TypeError(f"env must be a gym environment (with reset, step and render), got {type(env).__name__}")


def _check_path(name, filename, suffixes):
    """Raise unless filename is a path string ending in one of suffixes."""
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path string, got {type(filename).__name__}")
    if not str(filename).lower().endswith(suffixes):
        raise ValueError(f"{name} must end with {' or '.join(suffixes)}, got {str(filename)!r}")


# ----------------------------------------------------------------------------- learning

class ReplayMemory:
    """Replay memory D of fixed capacity: behaves like deque(maxlen=maxlen) of experiences.

    The experiences live in preallocated numpy arrays, so drawing a mini-batch is a few
    array lookups instead of 64 Python objects gathered one by one.
    """

    def __init__(self, maxlen):
        _check_int("maxlen", maxlen, low=MINIBATCH_SIZE)
        self.maxlen = maxlen
        self.states = np.zeros((maxlen, STATE_SIZE), dtype=np.float32)
        self.actions = np.zeros(maxlen, dtype=np.float32)
        self.rewards = np.zeros(maxlen, dtype=np.float32)
        self.next_states = np.zeros((maxlen, STATE_SIZE), dtype=np.float32)
        self.done_vals = np.zeros(maxlen, dtype=np.float32)
        self._size = 0
        self._next = 0  # the slot the next experience goes to; the oldest is dropped when full

    def __len__(self):
        return self._size

    def append(self, experience):
        """Store one Experience(state, action, reward, next_state, done), dropping the oldest when full."""
        try:
            state, action, reward, next_state, done = experience
        except (TypeError, ValueError):
            raise TypeError("experience must be Experience(state, action, reward, next_state, done), "
                            f"got {experience!r}") from None
        if type(action) is not int or not 0 <= action < NUM_ACTIONS:  # the usual case costs one test
            _check_action("experience.action", action)
        i = self._next
        try:
            self.states[i] = state
            self.next_states[i] = next_state
            self.rewards[i] = reward
            self.done_vals[i] = done
        except (TypeError, ValueError):
            raise ValueError(f"experience must hold states of {STATE_SIZE} numbers, a number reward "
                             f"and a bool done; got {experience!r}") from None
        self.actions[i] = action
        self._next = (i + 1) % self.maxlen
        self._size = min(self._size + 1, self.maxlen)

    def __getitem__(self, index):
        """Return experience number index, oldest first, as a tuple (state, action, reward, next_state, done)."""
        _check_int("index", index)
        if not -self._size <= index < self._size:
            raise IndexError(f"index {index} out of range for a replay memory of {self._size} experiences")
        i = (self._next - self._size + index % self._size) % self.maxlen
        return (self.states[i], int(self.actions[i]), float(self.rewards[i]), self.next_states[i],
                bool(self.done_vals[i]))

    def sample(self, k):
        """Return k distinct experiences drawn at random, as arrays (states, actions, rewards, next_states, dones)."""
        _check_int("k", k, low=1)
        if k > self._size:
            raise ValueError(f"cannot draw {k} experiences from a replay memory of {self._size}")
        rows = np.array(random.sample(range(self._size), k))
        return (self.states[rows], self.actions[rows], self.rewards[rows], self.next_states[rows],
                self.done_vals[rows])


def get_experiences(memory_buffer):
    """Draw MINIBATCH_SIZE distinct experiences at random from memory_buffer.

    Args:
        memory_buffer: ReplayMemory, or deque (or list) of Experience(state, action, reward,
            next_state, done) records, with at least MINIBATCH_SIZE of them.
    Returns:
        (states, actions, rewards, next_states, done_vals): float32 tensors of shapes
        (64, 8), (64,), (64,), (64, 8), (64,); done_vals holds 0.0 or 1.0.
    """
    _check_buffer(memory_buffer)
    if len(memory_buffer) < MINIBATCH_SIZE:
        raise ValueError(f"memory_buffer must hold at least MINIBATCH_SIZE={MINIBATCH_SIZE} experiences, "
                         f"got {len(memory_buffer)}")
    if isinstance(memory_buffer, ReplayMemory):
        return tuple(tf.constant(column) for column in memory_buffer.sample(MINIBATCH_SIZE))
    experiences = random.sample(memory_buffer, k=MINIBATCH_SIZE)
    try:
        columns = list(zip(*experiences, strict=True))
        states, next_states = np.stack(columns[0]), np.stack(columns[3])
        actions, rewards, dones = (np.asarray(columns[i], dtype=np.float32) for i in (1, 2, 4))
    except (TypeError, ValueError, IndexError):
        raise ValueError("memory_buffer must hold Experience(state, action, reward, next_state, done) records "
                         f"with states of {STATE_SIZE} numbers; found {experiences[0]!r}") from None
    if len(columns) != 5 or states.shape != (MINIBATCH_SIZE, STATE_SIZE) or next_states.shape != states.shape:
        raise ValueError("memory_buffer must hold Experience(state, action, reward, next_state, done) records "
                         f"with states of {STATE_SIZE} numbers; found {experiences[0]!r}")
    if actions.shape != (MINIBATCH_SIZE,) or not np.isin(actions, range(NUM_ACTIONS)).all():
        raise ValueError(f"every action in memory_buffer must be one of 0..{NUM_ACTIONS - 1}; found {actions}")
    return (tf.constant(states, tf.float32), tf.constant(actions), tf.constant(rewards),
            tf.constant(next_states, tf.float32), tf.constant(dones))


def check_update_conditions(t, num_steps_upd, memory_buffer):
    """Return True when it is time to learn: every num_steps_upd-th step with a full enough buffer.

    Args:
        t: int, the time step within the episode (0-based).
        num_steps_upd: int >= 1, learn every this many steps.
        memory_buffer: the replay memory (anything with a length).
    Returns:
        bool: (t + 1) % num_steps_upd == 0 and len(memory_buffer) > MINIBATCH_SIZE.
    """
    if not (type(t) is int and type(num_steps_upd) is int and t >= 0 and num_steps_upd >= 1
            and type(memory_buffer) in (ReplayMemory, deque)):  # checked in full off the usual path
        _check_int("t", t, low=0)
        _check_int("num_steps_upd", num_steps_upd, low=1)
        _check_buffer(memory_buffer)
    return (t + 1) % num_steps_upd == 0 and len(memory_buffer) > MINIBATCH_SIZE


def get_new_eps(epsilon, decay=None, minimum=None):
    """Return the next episode's epsilon: max(minimum, decay * epsilon), for epsilon in [0, 1].

    decay and minimum default to E_DECAY and E_MIN, read when called (scripts.experimenter.compare varies them).
    """
    decay = E_DECAY if decay is None else decay
    minimum = E_MIN if minimum is None else minimum
    _check_number("epsilon", epsilon, 0.0, 1.0)
    _check_number("decay", decay, 0.0, 1.0)
    _check_number("minimum", minimum, 0.0, 1.0)
    return max(minimum, decay * epsilon)


def is_solved(point_history):
    """True when the last SOLVED_WINDOW episodes average at least SOLVED_POINTS (the notebook's test)."""
    return len(point_history) > 0 and float(np.mean(point_history[-SOLVED_WINDOW:])) >= SOLVED_POINTS


def _as_q_values(q_values):
    """Return q_values (tensor or array of shape (1, 4)) as a float vector of 4, or raise."""
    if type(q_values) is np.ndarray and q_values.shape == (1, NUM_ACTIONS) and np.isfinite(q_values).all():
        return q_values[0]  # the usual case, from NumpyQNetwork
    if q_values is None:
        raise TypeError("q_values is None: pass the Q-network's output for one state, shape (1, 4)")
    try:
        array = np.asarray(q_values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"q_values must be a tensor or array of shape (1, {NUM_ACTIONS}), "
                        f"got {type(q_values).__name__}") from None
    if array.shape != (1, NUM_ACTIONS):
        raise ValueError(f"q_values must have shape (1, {NUM_ACTIONS}) (one state, one value per action), "
                         f"got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"q_values must be finite, got {array}")
    return array[0]


def get_action(q_values, epsilon=0.0):
    """Pick an action epsilon-greedily.

    Args:
        q_values: tensor or array of shape (1, 4), the Q-values of the current state.
        epsilon: float in [0, 1], the probability of a uniformly random action.
    Returns:
        int: with probability 1 - epsilon the action of the largest Q-value, else one of 0..3 at random.
    """
    values = _as_q_values(q_values)
    _check_number("epsilon", epsilon, 0.0, 1.0)
    if random.random() > epsilon:
        return int(np.argmax(values))
    return random.choice(range(NUM_ACTIONS))


def choose_action(state, epsilon, policy_network):
    """Pick an action epsilon-greedily, computing Q-values only when acting greedily.

    Same choice, from the same random draws, as get_action(policy_network(state), epsilon).

    Args:
        state: vector of 8 numbers, the current state.
        epsilon: float in [0, 1], the probability of a random action.
        policy_network: callable mapping a state to Q-values of shape (1, 4), such as NumpyQNetwork.
    Returns:
        int, the action.
    """
    if type(epsilon) is not float or not 0.0 <= epsilon <= 1.0:  # checked in full off the usual path
        _check_number("epsilon", epsilon, 0.0, 1.0)
    if not callable(policy_network):
        raise TypeError(f"policy_network must be callable (state -> Q-values), got {type(policy_network).__name__}")
    if random.random() > epsilon:
        return int(np.argmax(_as_q_values(policy_network(state))))
    return random.choice(range(NUM_ACTIONS))


def update_target_network(q_network, target_q_network, tau=None):
    """Soft-update the target network in place: w_target <- tau * w + (1 - tau) * w_target.

    Works eagerly and inside @tf.function. Both networks must have weights of the same shapes.
    tau defaults to TAU, read when called (scripts.experimenter.compare varies it).
    """
    tau = TAU if tau is None else tau
    _check_model("q_network", q_network)
    _check_model("target_q_network", target_q_network)
    _check_number("tau", tau, 0.0, 1.0)
    shapes = [tuple(w.shape) for w in q_network.weights]
    target_shapes = [tuple(w.shape) for w in target_q_network.weights]
    if shapes != target_shapes:
        raise ValueError("q_network and target_q_network must have the same architecture; "
                         f"weight shapes {shapes} vs {target_shapes}")
    for weights, target_weights in zip(q_network.weights, target_q_network.weights, strict=True):
        target_weights.assign(tau * weights + (1.0 - tau) * target_weights)


def check_exercises_done(q_network, target_q_network, optimizer, compute_loss):
    """Raise a RuntimeError in plain words when Exercise 1 or 2 is not done, before training starts."""
    for name, network in (("q_network", q_network), ("target_q_network", target_q_network)):
        if not isinstance(network, tf.keras.Model) or not network.weights:
            raise RuntimeError(f"Exercise 1 is not done yet: {name} has no layers. Fill in the cell marked "
                               "UNQ_C1, run it and its test, then run this cell again.")
    if not isinstance(optimizer, tf.keras.optimizers.Optimizer):
        raise RuntimeError(f"Exercise 1 is not done yet: optimizer is {optimizer!r}, not an optimizer. Create "
                           "the Adam optimizer in the cell marked UNQ_C1, run it, then run this cell again.")
    batch = (tf.zeros((2, STATE_SIZE)), tf.zeros(2), tf.zeros(2), tf.zeros((2, STATE_SIZE)), tf.zeros(2))
    if compute_loss(batch, 0.9, q_network, target_q_network) is None:
        raise RuntimeError("Exercise 2 is not done yet: compute_loss returns None. Fill in the cell marked "
                           "UNQ_C2, run it and its test, then run this cell again.")


class NumpyQNetwork:
    """A numpy copy of a Dense Q-network, for computing the Q-values of one state fast.

    Calling a Keras model on one state costs milliseconds; the same matrix products in numpy
    cost microseconds. Call weights_changed() after each learning step: the copy reloads the
    weights (in one TensorFlow call) the next time it is used.
    """

    def __init__(self, q_network):
        _check_model("q_network", q_network)
        layers = [layer for layer in q_network.layers if layer.weights]
        if not all(isinstance(layer, tf.keras.layers.Dense) and layer.use_bias for layer in layers):
            raise TypeError("NumpyQNetwork supports networks of Dense layers with biases only, got "
                            f"{[type(layer).__name__ for layer in layers]}")
        self.q_network = q_network
        self._activations = [_numpy_activation(layer.activation) for layer in layers]
        variables = [w for layer in layers for w in (layer.kernel, layer.bias)]
        self._shapes = [tuple(v.shape) for v in variables]
        self._offsets = np.cumsum([0] + [int(np.prod(shape)) for shape in self._shapes])
        read_all = tf.function(lambda: tf.concat([tf.reshape(v, [-1]) for v in variables], axis=0))
        self._read_weights = read_all.get_concrete_function()  # a direct call skips tf.function's dispatch
        self._layers = None

    def weights_changed(self):
        """Mark the copy stale: the network has just learned."""
        self._layers = None

    def _load_weights(self):
        """Copy the network's current weights into numpy arrays, (kernel, bias) per layer."""
        flat = self._read_weights().numpy()
        arrays = [flat[start:end].reshape(shape)
                  for start, end, shape in zip(self._offsets[:-1], self._offsets[1:], self._shapes, strict=True)]
        self._layers = list(zip(arrays[::2], arrays[1::2], self._activations, strict=True))

    def __call__(self, state):
        """Return the Q-values of one state (vector of 8) as a float32 array of shape (1, 4); of n states
        (an array (n, 8)), of shape (n, 4)."""
        if self._layers is None:
            self._load_weights()
        if type(state) is not np.ndarray or state.dtype != np.float32:
            state = np.asarray(state, dtype=np.float32)
        values = state.reshape(1, -1) if state.ndim == 1 else state
        for kernel, bias, activation in self._layers:
            values = activation(values @ kernel + bias)
        return values


def _numpy_activation(activation):
    """Return a numpy function computing the Keras activation (relu and linear done in numpy)."""
    probe = np.linspace(-3, 3, 13, dtype=np.float32)[None, :]
    computed = np.asarray(activation(tf.constant(probe)))
    if np.allclose(computed, probe):
        return lambda x: x
    if np.allclose(computed, np.maximum(probe, 0)):
        return lambda x: np.maximum(x, 0)
    return lambda x: np.asarray(activation(tf.constant(x)))


# ----------------------------------------------------------------------------- saving

def save_model(model, filename):
    """Save a Keras model to filename (.h5 or .keras) atomically: a crash mid-save keeps the old file.

    The file loads in every Keras 3 from 3.13 (Colab's) on: settings that Keras records as None
    are left out of the file, so a Keras that predates one of them reads the same model.
    """
    _check_model("model", model)
    _check_path("filename", filename, (".h5", ".keras"))
    folder = os.path.dirname(os.path.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(str(filename))[1]
    handle, temporary = tempfile.mkstemp(prefix=".saving-", suffix=suffix, dir=folder)
    os.close(handle)
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # Keras warns that .h5 is a legacy format
    try:
        with warnings.catch_warnings():  # Keras's h5 writer trips a numpy 2 deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            model.save(temporary)
        _write_model_config(temporary, _without_none_settings(_read_model_config(temporary)))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp made it private; give it the usual permissions
        os.replace(temporary, filename)
    finally:
        absl_logger.setLevel(level)
        if os.path.exists(temporary):
            os.remove(temporary)


def load_model(filename):
    """Load a Keras model saved by save_model or by any Keras 3, with plain words when it cannot.

    Where the installed Keras cannot build the model from the file's settings (a newer Keras may
    record settings an older one does not know), the network is rebuilt from the file's record of
    its layers (kinds, units, activations) and given the weights stored in the file.
    """
    _check_path("filename", filename, (".h5", ".keras"))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"No model file at {filename!r}: train the agent (or run `make demo`) first")
    try:
        return tf.keras.models.load_model(filename, compile=False)
    except Exception as error:  # h5py, zipfile and Keras each raise their own kinds
        keras_error = error
    try:
        config, weights, written_by = _read_model_record(filename)
    except Exception as error:
        raise ValueError(f"The model file {filename!r} is damaged or not a Keras model "
                         f"({type(error).__name__}: {error}); Keras {tf.keras.__version__} is installed "
                         "here. The file was left as it is.") from None
    try:
        return _rebuild_dense_network(config, weights)
    except ValueError as error:
        raise ValueError(f"The model file {filename!r} was saved by Keras {written_by}, and Keras "
                         f"{tf.keras.__version__} installed here cannot read it ({type(keras_error).__name__}: "
                         f"{keras_error}; nor rebuild it: {error}). Load it where Keras {written_by} is "
                         "installed. The file was left as it is.") from None


def _read_model_config(filename):
    """The model's settings (Keras's config, a dict) as the file records them."""
    if str(filename).endswith(".keras"):
        with zipfile.ZipFile(filename) as archive:
            return json.loads(archive.read("config.json"))
    with h5py.File(filename, "r") as file:
        return json.loads(file.attrs["model_config"])


def _write_model_config(filename, config):
    """Replace the settings recorded in the model file filename by config."""
    if str(filename).endswith(".keras"):
        with zipfile.ZipFile(filename) as archive:
            members = {info: archive.read(info) for info in archive.infolist()}
        with zipfile.ZipFile(filename, "w") as archive:
            for info, content in members.items():
                archive.writestr(info, json.dumps(config) if info.filename == "config.json" else content)
    else:
        with h5py.File(filename, "r+") as file:
            file.attrs["model_config"] = json.dumps(config)


def _without_none_settings(config):
    """config without the arguments recorded as None of each object it describes (layers, initializers...).

    Left out, such an argument takes its default, None, in every Keras; recorded, it stops a Keras
    that does not know it (Keras 3.13 fails on 3.15's `input_axes` and `quantization_config`).
    """
    if isinstance(config, list):
        return [_without_none_settings(item) for item in config]
    if not isinstance(config, dict):
        return config
    cleaned = {key: _without_none_settings(value) for key, value in config.items()}
    if "class_name" in cleaned and isinstance(cleaned.get("config"), dict):
        cleaned["config"] = {key: value for key, value in cleaned["config"].items() if value is not None}
    return cleaned


def _read_model_record(filename):
    """(config, {layer name: [arrays]}, Keras version that wrote it) read from the file without Keras."""
    if str(filename).endswith(".keras"):
        with zipfile.ZipFile(filename) as archive:
            config = json.loads(archive.read("config.json"))
            written_by = json.loads(archive.read("metadata.json")).get("keras_version", "(not recorded)")
            with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as file:
                variables = [file["layers"][key]["vars"] for key in file["layers"]]
                weights = {_as_text(group.attrs.get("name", "")): [group[str(i)][()] for i in range(len(group))]
                           for group in variables}  # by the layer's own name, which the group records
        return config, weights, written_by
    with h5py.File(filename, "r") as file:
        config = json.loads(file.attrs["model_config"])
        written_by = _as_text(file.attrs.get("keras_version", "(not recorded)"))
        group = file["model_weights"]
        weights = {}
        for name in map(_as_text, group.attrs["layer_names"]):
            names = [_as_text(weight) for weight in group[name].attrs["weight_names"]]
            weights[name] = [group[name][weight][()] for weight in names]
    return config, weights, written_by


def _as_text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _rebuild_dense_network(config, weights):
    """A Sequential network of Dense layers built from a file's record (kinds, units, activations), with its weights.

    Raises ValueError for any other kind of layer, or weights that do not fit.
    """
    layers = [layer for layer in config.get("config", {}).get("layers", []) if layer["class_name"] != "InputLayer"]
    if not layers or any(layer["class_name"] != "Dense" for layer in layers):
        raise ValueError(f"only networks of Dense layers can be rebuilt, this one has "
                         f"{[layer['class_name'] for layer in layers]}")
    dense_layers = []
    for layer in layers:
        settings = layer["config"]
        activation = settings.get("activation") or "linear"
        if isinstance(activation, dict):  # an activation function recorded as an object
            activation = activation.get("config")
        dense_layers.append(tf.keras.layers.Dense(settings["units"], activation=tf.keras.activations.get(activation),
                                                  use_bias=settings.get("use_bias", True), name=settings["name"]))
    arrays = [weights.get(layer.name) or [] for layer in dense_layers]
    if not arrays[0]:
        raise ValueError(f"the file holds no weights for layer {dense_layers[0].name!r}")
    network = tf.keras.Sequential([tf.keras.Input(shape=(arrays[0][0].shape[0],)), *dense_layers],
                                  name=config["config"].get("name"))
    for layer, values in zip(dense_layers, arrays, strict=True):
        try:
            layer.set_weights(values)
        except ValueError as error:
            raise ValueError(f"the weights of layer {layer.name!r} do not fit it: {error}") from None
    return network


# ----------------------------------------------------------------------------- display

def _as_points(name, history):
    """history (the points of each episode) as a flat float array, or a clear error."""
    if isinstance(history, (str, bytes)) or not isinstance(history, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list of numbers, got {type(history).__name__}")
    try:
        points = np.asarray(history, dtype=np.float64) if len(history) else np.zeros(0)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a list of numbers (points per episode), got {history!r:.80}") from None
    if points.ndim != 1:
        raise ValueError(f"{name} must be a flat list of numbers, got shape {points.shape}")
    if len(points) == 0:
        raise ValueError(f"{name} is empty: train for at least one episode before plotting")
    if not np.isfinite(points).all():
        raise ValueError(f"{name} must hold finite numbers; found {points[~np.isfinite(points)][:3]}")
    return points


def plot_history(point_history, *, lower_limit=0, upper_limit=None, window_size=None,
                 plot_rolling_mean_only=False, plot_data_only=False, ax=None):
    """Plot the total points of each episode and their rolling mean; return the Figure.

    Args:
        point_history: sequence of numbers, the total points of each episode.
        lower_limit, upper_limit: int, the slice of episodes to show (default: all).
        window_size: int, episodes in the rolling mean (default: 10% of the episodes shown).
        plot_rolling_mean_only, plot_data_only: bool, draw only one of the two lines.
        ax: matplotlib Axes to draw into (default: a new figure, which a notebook shows once,
            as the cell's result).
    """
    points = _as_points("point_history", point_history)
    upper = len(points) if upper_limit is None else upper_limit
    _check_int("lower_limit", lower_limit, low=0)
    _check_int("upper_limit", upper, low=0)
    if not lower_limit < upper <= len(points):
        raise ValueError(f"need 0 <= lower_limit < upper_limit <= {len(points)} (episodes in point_history), "
                         f"got lower_limit={lower_limit}, upper_limit={upper}")
    window = max(1, (upper - lower_limit) // 10) if window_size is None else window_size
    _check_int("window_size", window, low=1)
    if plot_rolling_mean_only and plot_data_only:
        raise ValueError("plot_rolling_mean_only and plot_data_only cannot both be True")

    episodes = np.arange(lower_limit + 1, upper + 1)  # numbered from 1, as the training cell prints them
    shown = points[lower_limit:upper]
    rolling_mean = pd.Series(shown).rolling(window, min_periods=1).mean()
    if ax is None:
        figure, ax = plt.subplots(figsize=(10, 5), facecolor="white")
        plt.close(figure)  # shown once, as the returned Figure, not a second time by pyplot
    if not plot_rolling_mean_only:
        ax.plot(episodes, shown, color="cyan", linewidth=1, label="Points per episode")
    if not plot_data_only:
        ax.plot(episodes, rolling_mean, color="magenta", linewidth=2, label=f"Rolling mean ({window} episodes)")
    ax.set_xlabel("Episode")
    ax.set_ylabel("Total Points")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def plot_comparison(runs, *, window_size=SOLVED_WINDOW, ax=None):
    """Compare settings over seeds; return the Figure.

    For each setting, a line: the mean over its runs of each run's rolling mean of points; and a
    shaded band from the lowest to the highest of those rolling means. At each episode, only the
    runs that reached it count (runs that stop when solved end early): the line is dotted once
    the first of them has ended.

    Args:
        runs: dict, a label for each setting -> a list of point histories, one per seed.
        window_size: int, episodes in each run's rolling mean (default: the solved test's 100).
        ax: matplotlib Axes to draw into (default: a new figure).
    """
    if not isinstance(runs, dict) or not runs:
        raise TypeError("runs must be a non-empty dict: a label -> a list of point histories (one per seed)")
    _check_int("window_size", window_size, low=1)
    if ax is None:
        figure, ax = plt.subplots(figsize=(10, 5), facecolor="white")
        plt.close(figure)
    for label, histories in runs.items():
        if isinstance(histories, (str, bytes)) or not isinstance(histories, Sequence) or not histories:
            raise TypeError(f"runs[{label!r}] must be a non-empty list of point histories, one per seed")
        means = [pd.Series(_as_points(f"runs[{label!r}][{i}]", history)).rolling(window_size, min_periods=1).mean()
                 for i, history in enumerate(histories)]
        table = pd.concat(means, axis=1)  # episodes x runs, NaN after a run ended
        episodes, mean = np.arange(1, len(table) + 1), table.mean(axis=1).to_numpy()
        everyone = int((table.count(axis=1) == len(histories)).sum())  # episodes every run reached
        line, = ax.plot(episodes[:everyone], mean[:everyone], linewidth=2,
                        label=f"{label} ({len(histories)} seed{'s' if len(histories) > 1 else ''})")
        # Dotted once the first run has ended: the mean is over fewer seeds from there on.
        ax.plot(episodes[everyone - 1:], mean[everyone - 1:], linewidth=1.5, linestyle=":", color=line.get_color())
        ax.fill_between(episodes, table.min(axis=1), table.max(axis=1), color=line.get_color(), alpha=0.2)
    ax.axhline(SOLVED_POINTS, color="grey", linestyle="--", linewidth=1, label=f"Solved ({SOLVED_POINTS:.0f})")
    ax.set_xlabel("Episode")
    ax.set_ylabel(f"Total Points (rolling mean of {window_size})")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def display_table(initial_state, action, next_state, reward, done):
    """Return a table (pandas DataFrame) of one environment step, for display in the notebook."""
    initial = _as_state("initial_state", initial_state)
    following = _as_state("next_state", next_state)
    _check_action("action", action)
    _check_number("reward", reward)
    if not isinstance(done, (bool, np.bool_)):
        raise TypeError(f"done must be True or False, got {type(done).__name__} {done!r}")
    rows = {name: (f"{a:.3f}", f"{b:.3f}") for name, a, b in zip(STATE_NAMES, initial, following, strict=True)}
    rows["Action"] = (f"{action}: {ACTION_NAMES[action]}", "")
    rows["Reward"] = ("", f"{float(reward):.3f}")
    rows["Episode terminated"] = ("", str(bool(done)))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["Initial State", "Next State"])


def embed_mp4(filename):
    """Return an HTML video player with the mp4 file inlined (base64), for display in a notebook."""
    _check_path("filename", filename, (".mp4",))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"No video at {filename!r}: make it with utils.create_video first")
    with open(filename, "rb") as video:
        encoded = base64.b64encode(video.read()).decode("ascii")
    # The data sits in the <video>'s own src: JupyterLab keeps it there in a notebook it does not
    # trust (one reopened from disk, such as the executed notebook in build/), where it strips a
    # <source> child's src and leaves an empty player. The text inside shows only where a page
    # cannot play video at all.
    fallback = f"This page cannot play videos: the video is saved in {filename}."
    # 600 pixels wide, as the scene; the height follows the video (taller with show_q_values).
    return HTML(f'<video width="600" controls src="data:video/mp4;base64,{encoded}">'
                f'{html.escape(fallback)}</video>')


# ----------------------------------------------------------------------------- playing

def limit_exhaust_particles(env, max_particles=30):
    """Keep at most max_particles of the engines' exhaust particles in a LunarLander's physics world.

    The particles are decoration: they collide with the ground only, never with the lander.
    gym 0.24 ages them only when a frame is rendered, so when nothing is drawn (training) they
    pile up over an episode and every step gets slower. Dropping the oldest leaves the lander's
    states and rewards exactly as they were; rendered every step, at most about 8 are alive, so
    videos are unchanged. Returns env, changed in place (calling it again changes nothing).
    """
    _check_env(env)
    _check_int("max_particles", max_particles, low=1)
    lander = env.unwrapped
    if not (hasattr(lander, "particles") and hasattr(lander, "_clean_particles")):
        raise TypeError(f"env must be a LunarLander environment, got {type(lander).__name__}")
    if getattr(lander, "max_particles", None) is None:
        clean_expired = lander._clean_particles

        def clean_and_limit(all_particles):
            clean_expired(all_particles)
            while len(lander.particles) > lander.max_particles:
                lander.world.DestroyBody(lander.particles.pop(0))
        lander._clean_particles = clean_and_limit
    lander.max_particles = max_particles
    return env


def play_episode(env, q_network, seed=None, on_frame=None, max_steps=MAX_EPISODE_STEPS):
    """Play one greedy episode.

    on_frame, when given, is called with each rendered frame (uint8 array (400, 600, 3)) as it
    is drawn, the first state's included; nothing keeps the frames, so memory stays flat.
    Returns:
        dict with total_points (float), steps (int) and outcome ('landed', 'crashed', 'flew off',
        'time limit' or 'other').
    """
    _check_env(env)
    if on_frame is not None and not callable(on_frame):
        raise TypeError(f"on_frame must be a function of one frame, got {type(on_frame).__name__}")
    policy_network = q_network if isinstance(q_network, NumpyQNetwork) else NumpyQNetwork(q_network)
    on_step = (lambda *_: on_frame(env.render(mode="rgb_array"))) if on_frame else None
    return _greedy_episode(env, policy_network, seed, max_steps, on_step)


def _greedy_episode(env, policy_network, seed, max_steps, on_step=None):
    """Play one greedy episode; see play_episode.

    on_step, when given, is called after the reset as on_step(0, q_values, None, 0.0, 0.0), then
    after each step as on_step(step, q_values, action, reward, points): the Q-values of the state
    the action was chosen in, the action, the step's reward and the points so far.
    """
    limit_exhaust_particles(env)
    state = env.reset(seed=seed) if seed is not None else env.reset()
    if on_step:
        on_step(0, policy_network(state)[0], None, 0.0, 0.0)
    total_points, done, steps = 0.0, False, 0
    while not done and steps < max_steps:
        q_values = policy_network(state)
        action = int(np.argmax(q_values))
        state, reward, done, info = env.step(action)
        total_points += reward
        steps += 1
        if on_step:
            on_step(steps, q_values[0], action, reward, total_points)
    return {"total_points": total_points, "steps": steps, "outcome": _episode_outcome(env, state, done, info)}


def _episode_outcome(env, state, done, info):
    """Name how a LunarLander episode ended."""
    lander = env.unwrapped
    if not done or info.get("TimeLimit.truncated"):
        return "time limit"
    if getattr(lander, "game_over", False):
        return "crashed"
    if abs(state[0]) >= 1.0:
        return "flew off"
    if hasattr(lander, "lander") and not lander.lander.awake:
        return "landed"
    return "other"


def evaluate(env, q_network, seeds):
    """Play one greedy episode per seed and summarise how well the agent lands.

    The episodes run on a fresh environment of env's kind, so the table depends on the network
    and the seeds alone, not on what was played on env before.
    Returns:
        pandas DataFrame of one row: episodes, mean and std of the return, share of returns
        >= 200, shares landed at rest, crashed or flown off, cut by the time limit, and mean length.
    """
    _check_env(env)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, range, np.ndarray)) or len(seeds) == 0:
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        _check_int("each seed", seed, low=0)
    policy_network = NumpyQNetwork(q_network)
    own_env = gym.make(env.spec.id) if getattr(env, "spec", None) else env
    try:
        episodes = [play_episode(own_env, policy_network, seed=int(seed)) for seed in seeds]
    finally:
        if own_env is not env:
            own_env.close()
    returns = np.array([e["total_points"] for e in episodes])
    outcomes = [e["outcome"] for e in episodes]

    def share(*names):
        return sum(o in names for o in outcomes) / len(outcomes)
    summary = {
        "episodes": len(episodes),
        "mean return": returns.mean(),
        "std return": returns.std(),
        "share >= 200": float(np.mean(returns >= 200)),
        "landed at rest": share("landed"),
        "crashed or flew off": share("crashed", "flew off"),
        "time limit": share("time limit"),
        "mean length": float(np.mean([e["steps"] for e in episodes])),
    }
    return pd.DataFrame([summary]).round(3)


def mp4_writer(filename, fps=30):
    """An imageio writer of H.264 mp4 (yuv420p, which browsers play), making the folder.

    Use it as `with utils.mp4_writer(filename) as writer:`, then writer.append_data(frame) for each
    frame (uint8 arrays of one shape): frames go to the file as they come.
    """
    _check_path("filename", filename, (".mp4",))
    _check_int("fps", fps, low=1)
    os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
    return imageio.get_writer(filename, fps=fps, codec="libx264", pixelformat="yuv420p",
                              macro_block_size=8, ffmpeg_log_level="error")


def write_video(filename, frames, fps=30):
    """Write frames (uint8 arrays of one shape) to an H.264 mp4 or an animated GIF, making the folder."""
    _check_path("filename", filename, (".mp4", ".gif"))
    _check_int("fps", fps, low=1)
    if len(frames) == 0:
        raise ValueError("frames is empty: nothing to write")
    if str(filename).lower().endswith(".gif"):
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        imageio.mimsave(filename, frames, duration=1000 / fps, loop=0)
        return
    with mp4_writer(filename, fps) as writer:
        for frame in frames:
            writer.append_data(frame)


def create_video(filename, env, q_network, fps=30, seed=None, on_frame=None, show_q_values=False):
    """Play one greedy episode and write every rendered frame to the mp4 file filename, as it is drawn.

    seed fixes the episode's start; on_frame, when given, also receives each frame as written.
    show_q_values=True adds a panel below each frame (see QValuePanel): the Q-values of the state
    the action was chosen in, as bars, the action taken, the step, its reward and the points so
    far. Returns the episode's summary (see play_episode).
    """
    _check_path("filename", filename, (".mp4",))
    _check_int("fps", fps, low=1)
    _check_env(env)
    if on_frame is not None and not callable(on_frame):
        raise TypeError(f"on_frame must be a function of one frame, got {type(on_frame).__name__}")
    if not isinstance(show_q_values, bool):
        raise TypeError(f"show_q_values must be True or False, got {type(show_q_values).__name__} {show_q_values!r}")
    policy_network = q_network if isinstance(q_network, NumpyQNetwork) else NumpyQNetwork(q_network)

    with mp4_writer(filename, fps) as writer:
        def write_frame(frame):
            writer.append_data(frame)
            if on_frame:
                on_frame(frame)
        if not show_q_values:
            return play_episode(env, policy_network, seed=seed, on_frame=write_frame)
        panel = QValuePanel()

        def write_annotated_frame(step, q_values, action, reward, points):
            write_frame(panel.draw(env.render(mode="rgb_array"), step, q_values, action, reward, points))
        return _greedy_episode(env, policy_network, seed, MAX_EPISODE_STEPS, write_annotated_frame)


# The panel's look: dark, so that it stands apart from the white ground above it. Its bottom band
# holds only a legend: a browser's player controls cover about that much of a paused video.
PANEL_HEIGHT = 208
PANEL_ROWS = (50, 24)  # the first bar's row starts 50 pixels down the panel; each row is 24 high
PANEL_COLOURS = {"background": (30, 30, 40), "text": (225, 225, 225), "dim": (140, 140, 150),
                 "bar": (110, 110, 125), "chosen": (255, 160, 40), "axis": (90, 90, 100)}


def _font(size):
    """Pillow's own scalable font (no font files needed); its fixed bitmap font on an old Pillow."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1
        return ImageFont.load_default()


_GLYPHS = {}  # (size, character) -> (mask, offset, advance): each drawn once, then pasted


def _glyph(size, character):
    """One character of the panel's font as a mask image, with its offset and advance in pixels."""
    if (size, character) not in _GLYPHS:
        font = _font(size)
        left, top, right, bottom = font.getbbox(character)
        mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)))
        ImageDraw.Draw(mask).text((-left, -top), character, font=font, fill=255)
        _GLYPHS[size, character] = (mask, (left, top), font.getlength(character))
    return _GLYPHS[size, character]


def _text_width(text, size):
    return sum(_glyph(size, character)[2] for character in text)


def _write(image, xy, text, size, colour):
    """Write text on image at xy (its top left) by pasting cached glyphs: about ten times faster
    than ImageDraw.text, which lays the text out and draws it anew every time."""
    x, y = xy
    for character in text:
        mask, (left, top), advance = _glyph(size, character)
        image.paste(colour, (round(x + left), y + top), mask)
        x += advance


def _round_out(low, high):
    """[low, high] widened to round numbers: multiples of a power of ten about a tenth of the span."""
    step = 10.0 ** np.floor(np.log10(max(high - low, 1e-6) / 2))
    return float(np.floor(low / step) * step), float(np.ceil(high / step) * step)


class QValuePanel:
    """Draws a panel of Q-values below frames of one episode, on a scale shared by all its frames.

    The scale starts around the first frame's values and only widens, by half its span, when a
    value falls outside it: bars compare across frames, and the frames can be written as they come.
    """

    def __init__(self):
        self.low = self.high = None

    def widen(self, q_values):
        """Widen the scale, if needed, to take q_values in; return (low, high)."""
        low, high = float(np.min(q_values)), float(np.max(q_values))
        if self.low is None:
            margin = max(high - low, 0.1 * max(abs(low), abs(high)), 1.0)
            self.low, self.high = _round_out(low - margin, high + margin)
        elif low < self.low or high > self.high:
            half_span = (self.high - self.low) / 2
            self.low, self.high = _round_out(min(self.low, low - half_span) if low < self.low else self.low,
                                             max(self.high, high + half_span) if high > self.high else self.high)
        return self.low, self.high

    def draw(self, scene, step, q_values, action, reward, points):
        """Return scene (uint8 array (height, width, 3)) with the panel below it.

        q_values: the four Q-values; action: the action taken (marked), or None before the first
        step; reward: that step's reward; points: the points so far.
        """
        q_values = np.asarray(q_values, dtype=np.float64).reshape(NUM_ACTIONS)
        low, high = self.widen(q_values)
        width = scene.shape[1]
        panel = Image.new("RGB", (width, PANEL_HEIGHT), PANEL_COLOURS["background"])
        pen = ImageDraw.Draw(panel)
        happened = "start" if action is None else f"reward {reward:+.2f}"
        status = f"step {step}   {happened}   points {points:.1f}"
        _write(panel, (12, 8), status, 15, PANEL_COLOURS["text"])
        title = "Q-values: discounted points to come"
        _write(panel, (round(width - 12 - _text_width(title, 12)), 10), title, 12, PANEL_COLOURS["dim"])

        left, right = 130, width - 80  # the bars' scale runs from low at left to high at right

        def x_of(value):
            return left + (value - low) / (high - low) * (right - left)
        axis = PANEL_ROWS[0] - 6  # the scale, above the bars
        pen.line([(left, axis), (right, axis)], fill=PANEL_COLOURS["axis"])
        for value in {low, high, min(max(0.0, low), high)}:
            label = f"{value:g}"
            x = x_of(value)
            pen.line([(x, axis - 3), (x, axis + 3)], fill=PANEL_COLOURS["axis"])
            _write(panel, (round(x - _text_width(label, 12) / 2), axis - 17), label, 12, PANEL_COLOURS["dim"])
        base = x_of(min(max(0.0, low), high))  # bars grow from 0, or from the scale's end nearest to 0
        for number, (label, value) in enumerate(zip(ACTION_LABELS, q_values, strict=True)):
            top = PANEL_ROWS[0] + PANEL_ROWS[1] * number
            chosen = number == action
            colour = PANEL_COLOURS["chosen"] if chosen else PANEL_COLOURS["text"]
            if chosen:
                pen.polygon([(8, top + 4), (8, top + 16), (16, top + 10)], fill=colour)
            _write(panel, (22, top + 2), label, 15, colour)
            end = x_of(value)
            pen.rectangle([min(base, end), top + 3, max(base, end), top + 17],
                          fill=PANEL_COLOURS["chosen"] if chosen else PANEL_COLOURS["bar"])
            _write(panel, (right + 8, top + 2), f"{value:.1f}", 15, colour)
        legend = "orange: the action taken. One scale for the whole video: it only widens."
        _write(panel, (22, PANEL_ROWS[0] + PANEL_ROWS[1] * NUM_ACTIONS + 6), legend, 12, PANEL_COLOURS["dim"])
        return np.concatenate((scene, np.asarray(panel)))
