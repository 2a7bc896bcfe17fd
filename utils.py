"""Helpers for the Deep Q-Learning Lunar Lander assignment, in the lesson's order.

The notebook imports this module as ``utils``: the settings, one step as a table, the replay
memory and its mini-batches, acting epsilon-greedily, the target network's soft update, the plots
and the video. Every public function checks its arguments first (lander.checks) and raises a
ValueError, TypeError or FileNotFoundError that names the argument, what was expected and what came.
What the lesson does not teach is in the package lander, one room per role; utils hands on the names
the notebook calls from there (the `as` imports): NumpyQNetwork, save/load_model, evaluate, limit_exhaust_particles.
"""
import base64
import html
import os
import random
from collections import deque
from collections.abc import Sequence

from lander import startup  # noqa: F401  first: TensorFlow's start-up settings (quiet, no stray window)

# isort: split
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from IPython.display import HTML

from lander import checks, environment
from lander.environment import ACTION_NAMES, MAX_EPISODE_STEPS, NUM_ACTIONS, STATE_NAMES, STATE_SIZE
from lander.environment import limit_exhaust_particles as limit_exhaust_particles
from lander.episodes import evaluate as evaluate
from lander.episodes import greedy_episode, play_episode
from lander.model_files import load_model as load_model
from lander.model_files import save_model as save_model
from lander.numpy_network import NumpyQNetwork as NumpyQNetwork
from lander.numpy_network import fast_network
from lander.video import QValuePanel, mp4_writer

SEED = 0              # seed for Python's random module (set on import) and the notebook
MINIBATCH_SIZE = 64   # experiences per learning step
TAU = 1e-3            # soft update rate of the target network
E_DECAY = 0.995       # multiplicative decay of epsilon after each episode
E_MIN = 0.01          # epsilon never goes below this
SOLVED_POINTS = 200.0  # solved: the last SOLVED_WINDOW episodes average at least this many points
SOLVED_WINDOW = 100

random.seed(SEED)


# ----------------------------------------------------------------------------- one step as a table

def display_table(initial_state, action, next_state, reward, done):
    """Return a table (pandas DataFrame) of one environment step, for display in the notebook."""
    initial = environment.as_state("initial_state", initial_state)
    following = environment.as_state("next_state", next_state)
    environment.check_action("action", action)
    checks.check_number("reward", reward)
    checks.check_bool("done", done)
    rows = {name: (f"{a:.3f}", f"{b:.3f}") for name, a, b in zip(STATE_NAMES, initial, following, strict=True)}
    rows["Action"] = (f"{action}: {ACTION_NAMES[action]}", "")
    rows["Reward"] = ("", f"{float(reward):.3f}")
    rows["Episode terminated"] = ("", str(bool(done)))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["Initial State", "Next State"])


# ----------------------------------------------------------------------------- experience replay

class ReplayMemory:
    """Replay memory D of fixed capacity: behaves like deque(maxlen=maxlen) of experiences.

    The experiences live in preallocated numpy arrays, so drawing a mini-batch is a few
    array lookups instead of 64 Python objects gathered one by one.
    """

    def __init__(self, maxlen):
        checks.check_int("maxlen", maxlen, low=MINIBATCH_SIZE)
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
            environment.check_action("experience.action", action)
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
        checks.check_int("index", index)
        if not -self._size <= index < self._size:
            raise IndexError(f"index {index} out of range for a replay memory of {self._size} experiences")
        i = (self._next - self._size + index % self._size) % self.maxlen
        return (self.states[i], int(self.actions[i]), float(self.rewards[i]), self.next_states[i],
                bool(self.done_vals[i]))

    def sample(self, k):
        """Return k distinct experiences drawn at random, as arrays (states, actions, rewards, next_states, dones)."""
        checks.check_int("k", k, low=1)
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
    checks.check_buffer(memory_buffer)
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
        well_formed = len(columns) == 5 and states.shape == next_states.shape == (MINIBATCH_SIZE, STATE_SIZE)
    except (TypeError, ValueError, IndexError):
        well_formed = False
    if not well_formed:
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
        checks.check_int("t", t, low=0)
        checks.check_int("num_steps_upd", num_steps_upd, low=1)
        checks.check_buffer(memory_buffer)
    return (t + 1) % num_steps_upd == 0 and len(memory_buffer) > MINIBATCH_SIZE


# ----------------------------------------------------------------------------- acting

def get_action(q_values, epsilon=0.0):
    """Pick an action epsilon-greedily.

    Args:
        q_values: tensor or array of shape (1, 4), the Q-values of the current state.
        epsilon: float in [0, 1], the probability of a uniformly random action.
    Returns:
        int: with probability 1 - epsilon the action of the largest Q-value, else one of 0..3 at random.
    """
    values = environment.as_q_values(q_values)
    checks.check_number("epsilon", epsilon, 0.0, 1.0)
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
        checks.check_number("epsilon", epsilon, 0.0, 1.0)
    if not callable(policy_network):
        raise TypeError(f"policy_network must be callable (state -> Q-values), got {type(policy_network).__name__}")
    if random.random() > epsilon:
        return int(np.argmax(environment.as_q_values(policy_network(state))))
    return random.choice(range(NUM_ACTIONS))


def get_new_eps(epsilon, decay=None, minimum=None):
    """Return the next episode's epsilon: max(minimum, decay * epsilon), for epsilon in [0, 1].

    decay and minimum default to E_DECAY and E_MIN, read when called (scripts.experimenter.compare varies them).
    """
    decay = E_DECAY if decay is None else decay
    minimum = E_MIN if minimum is None else minimum
    checks.check_number("epsilon", epsilon, 0.0, 1.0)
    checks.check_number("decay", decay, 0.0, 1.0)
    checks.check_number("minimum", minimum, 0.0, 1.0)
    return max(minimum, decay * epsilon)


# ----------------------------------------------------------------------------- learning

def update_target_network(q_network, target_q_network, tau=None):
    """Soft-update the target network in place: w_target <- tau * w + (1 - tau) * w_target.

    Works eagerly and inside @tf.function. Both networks must have weights of the same shapes.
    tau defaults to TAU, read when called (scripts.experimenter.compare varies it).
    """
    tau = TAU if tau is None else tau
    checks.check_model("q_network", q_network)
    checks.check_model("target_q_network", target_q_network)
    checks.check_number("tau", tau, 0.0, 1.0)
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


def is_solved(point_history):
    """True when the last SOLVED_WINDOW episodes average at least SOLVED_POINTS (the notebook's test)."""
    return len(point_history) > 0 and float(np.mean(point_history[-SOLVED_WINDOW:])) >= SOLVED_POINTS


# ----------------------------------------------------------------------------- plots

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
    points = checks.as_points("point_history", point_history)
    upper = len(points) if upper_limit is None else upper_limit
    checks.check_int("lower_limit", lower_limit, low=0)
    checks.check_int("upper_limit", upper, low=0)
    if not lower_limit < upper <= len(points):
        raise ValueError(f"need 0 <= lower_limit < upper_limit <= {len(points)} (episodes in point_history), "
                         f"got lower_limit={lower_limit}, upper_limit={upper}")
    window = max(1, (upper - lower_limit) // 10) if window_size is None else window_size
    checks.check_int("window_size", window, low=1)
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
    checks.check_int("window_size", window_size, low=1)
    if ax is None:
        figure, ax = plt.subplots(figsize=(10, 5), facecolor="white")
        plt.close(figure)  # shown once, as the returned Figure, not a second time by pyplot
    for label, histories in runs.items():
        if isinstance(histories, (str, bytes)) or not isinstance(histories, Sequence) or not histories:
            raise TypeError(f"runs[{label!r}] must be a non-empty list of point histories, one per seed")
        means = [pd.Series(checks.as_points(f"runs[{label!r}][{i}]", history)).rolling(window_size, min_periods=1)
                 .mean() for i, history in enumerate(histories)]
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


# ----------------------------------------------------------------------------- video

def create_video(filename, env, q_network, fps=30, seed=None, on_frame=None, show_q_values=False):
    """Play one greedy episode and write every rendered frame to the mp4 file filename, as it is drawn.

    seed fixes the episode's start; on_frame, when given, also receives each frame as written.
    show_q_values=True adds a panel below each frame (see QValuePanel): the Q-values of the state
    the action was chosen in, as bars, the action taken, the step, its reward and the points so
    far. Returns the episode's summary (see play_episode).
    """
    checks.check_path("filename", filename, (".mp4",))
    checks.check_int("fps", fps, low=1)
    checks.check_env(env)
    checks.check_function("on_frame", on_frame)
    checks.check_bool("show_q_values", show_q_values)
    policy_network = fast_network(q_network)

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
        return greedy_episode(env, policy_network, seed, MAX_EPISODE_STEPS, write_annotated_frame)


def embed_mp4(filename):
    """Return an HTML video player with the mp4 file inlined (base64), for display in a notebook."""
    checks.check_path("filename", filename, (".mp4",))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"No video at {filename!r}: make it with utils.create_video first")
    with open(filename, "rb") as video:
        encoded = base64.b64encode(video.read()).decode("ascii")
    # The data sits in the <video>'s own src: in a notebook JupyterLab does not trust (one reopened
    # from disk), it strips a <source> child's src. The text inside shows where no video can play.
    fallback = f"This page cannot play videos: the video is saved in {filename}."
    # 600 pixels wide, as the scene; the height follows the video (taller with show_q_values).
    return HTML(f'<video width="600" controls src="data:video/mp4;base64,{encoded}">'
                f'{html.escape(fallback)}</video>')
