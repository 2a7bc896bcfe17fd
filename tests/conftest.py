"""Shared set-up: no screen, a non-interactive plot backend, and fixtures used across the tests.

pyproject.toml puts the repository root on the path: utils, public_tests and scripts.* import.
"""
import importlib
import os
import signal
import sys
import warnings
from collections import namedtuple
from pathlib import Path

import matplotlib
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
# The environment a learner's programs start with, taken before the settings below. A kernel
# started under pytest would also see PYTEST_CURRENT_TEST, which turns off ipykernel's capture of
# native stderr (TensorFlow's C++ messages): LEARNER_ENV never has it.
LEARNER_ENV = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}

# subprocess can send SIGINT (Ctrl-C) to a child everywhere but on Windows, where it sends only SIGTERM.
sends_ctrl_c = pytest.mark.skipif(sys.platform == "win32", reason="subprocess cannot send Ctrl-C on Windows")


def takes_ctrl_c():
    """Popen's preexec_fn: the child takes Ctrl-C as a terminal's foreground program does.

    Where pytest itself runs with SIGINT ignored (a background job of a script: `make test &`),
    its children inherit that, and Python then never turns Ctrl-C into KeyboardInterrupt.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
matplotlib.use("Agg")

with warnings.catch_warnings():  # Box2D's SWIG bindings warn on import under Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("Box2D")


# The notebook's experience record, for tests that fill replay memories.
Experience = namedtuple("Experience", field_names=["state", "action", "reward", "next_state", "done"])


def make_experiences(count, seed=0):
    """count random experiences (about 30% of them ending an episode), the same for the same seed."""
    rng = np.random.default_rng(seed)
    return [Experience(rng.normal(size=8).astype(np.float32), int(rng.integers(4)), float(rng.normal()),
                       rng.normal(size=8).astype(np.float32), bool(rng.random() < 0.3)) for _ in range(count)]


def small_network(seed=0, hidden=64):
    """A Q-network of the lesson's shape (8 in, hidden-unit relu layers, 4 out), from a fixed seed."""
    import tensorflow as tf

    tf.random.set_seed(seed)
    return tf.keras.Sequential([tf.keras.Input(shape=(8,)), tf.keras.layers.Dense(hidden, activation="relu"),
                                tf.keras.layers.Dense(hidden, activation="relu"), tf.keras.layers.Dense(4)])


@pytest.fixture(scope="session")
def agent():
    """The notebook's own set-up code with the exercises answered from its hints (seed 0)."""
    from scripts.notebook_tools import agent_namespace
    return agent_namespace(seed=0)


@pytest.fixture()
def env():
    """A fresh LunarLander-v2 environment, closed afterwards."""
    import gym
    environment = gym.make("LunarLander-v2")
    yield environment
    environment.close()
