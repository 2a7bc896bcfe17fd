"""LunarLander-v2 as the lesson meets it: the sizes and names of its states and actions, the
checks of a state, an action and the Q-values of a state, and the bound on its exhaust particles."""
import numbers

import numpy as np

from lander.checks import check_env, check_int

MAX_EPISODE_STEPS = 1000  # gym cuts a LunarLander-v2 episode after this many steps

STATE_SIZE = 8
NUM_ACTIONS = 4
STATE_NAMES = ("x position", "y position", "x velocity", "y velocity", "angle",
               "angular velocity", "left leg in contact", "right leg in contact")
ACTION_NAMES = ("Do nothing", "Fire right orientation engine", "Fire main engine",
                "Fire left orientation engine")
# Short names for a video's labels: do nothing, right engine, main engine, left engine.
ACTION_LABELS = tuple(name.lower().removeprefix("fire ").replace(" orientation", "") for name in ACTION_NAMES)


def as_state(name, state):
    """Return state as a float32 vector of 8, or raise."""
    try:
        array = np.asarray(state, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a vector of {STATE_SIZE} numbers, got {type(state).__name__}") from None
    if array.shape != (STATE_SIZE,):
        raise ValueError(f"{name} must have shape ({STATE_SIZE},), got shape {array.shape}")
    return array


def check_action(name, action):
    """Raise unless action is one of 0, 1, 2, 3."""
    if isinstance(action, bool) or not isinstance(action, numbers.Integral):
        raise TypeError(f"{name} must be an integer action 0..{NUM_ACTIONS - 1}, "
                        f"got {type(action).__name__} {action!r}")
    if not 0 <= action < NUM_ACTIONS:
        raise ValueError(f"{name} must be an action in 0..{NUM_ACTIONS - 1}, got {action}")


def as_q_values(q_values):
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


def limit_exhaust_particles(env, max_particles=30):
    """Keep at most max_particles of the engines' exhaust particles in a LunarLander's physics world.

    The particles are decoration: they collide with the ground only, never with the lander.
    gym 0.24 ages them only when a frame is rendered, so when nothing is drawn (training) they
    pile up over an episode and every step gets slower. Dropping the oldest leaves the lander's
    states and rewards exactly as they were; rendered every step, at most about 8 are alive, so
    videos are unchanged. Returns env, changed in place (calling it again changes nothing).
    """
    check_env(env)
    check_int("max_particles", max_particles, low=1)
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
