"""Shared set-up: the project and its scripts on the path, no screen, a non-interactive plot backend."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
# The environment a learner's programs start with, taken before the settings below. A kernel
# started under pytest would also see PYTEST_CURRENT_TEST, which turns off ipykernel's capture of
# native stderr (TensorFlow's C++ messages): LEARNER_ENV never has it.
LEARNER_ENV = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings  # noqa: E402

import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")

with warnings.catch_warnings():  # Box2D's SWIG bindings warn on import under Python 3.11+
    warnings.simplefilter("ignore", DeprecationWarning)
    import Box2D  # noqa: E402,F401


@pytest.fixture(scope="session")
def agent():
    """The notebook's own set-up code with the exercises answered from its hints (seed 0)."""
    from notebook_tools import agent_namespace
    return agent_namespace(seed=0)


@pytest.fixture()
def env():
    """A fresh LunarLander-v2 environment, closed afterwards."""
    import gym
    environment = gym.make("LunarLander-v2")
    yield environment
    environment.close()
