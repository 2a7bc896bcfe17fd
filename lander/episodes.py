"""Evaluation: greedy episodes of a Q-network, how each ended, and a table of many."""
from collections.abc import Sequence

from lander import startup  # noqa: F401  first: TensorFlow's and gym's start-up settings

# isort: split
import gym
import numpy as np
import pandas as pd

from lander.checks import check_env, check_function, check_int
from lander.environment import MAX_EPISODE_STEPS, limit_exhaust_particles
from lander.numpy_network import NumpyQNetwork, fast_network


def play_episode(env, q_network, seed=None, on_frame=None, max_steps=MAX_EPISODE_STEPS):
    """Play one greedy episode.

    on_frame, when given, is called with each rendered frame (uint8 array (400, 600, 3)) as it
    is drawn, the first state's included; nothing keeps the frames, so memory stays flat.
    Returns:
        dict with total_points (float), steps (int) and outcome ('landed', 'crashed', 'flew off',
        'time limit' or 'other').
    """
    check_env(env)
    check_function("on_frame", on_frame)
    policy_network = fast_network(q_network)
    on_step = (lambda *_: on_frame(env.render(mode="rgb_array"))) if on_frame else None
    return greedy_episode(env, policy_network, seed, max_steps, on_step)


def greedy_episode(env, policy_network, seed, max_steps, on_step=None):
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
    return {"total_points": total_points, "steps": steps, "outcome": episode_outcome(env, state, done, info)}


def episode_outcome(env, state, done, info):
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
    check_env(env)
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, range, np.ndarray)) or len(seeds) == 0:
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        check_int("each seed", seed, low=0)
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
