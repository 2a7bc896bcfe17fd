"""LunarLander-v2 on this stack: gym 0.24's API, the shapes the lesson relies on."""
import numpy as np


def test_spaces(env):
    assert env.observation_space.shape == (8,)
    assert env.action_space.n == 4


def test_reset_step_render(env):
    state = env.reset(seed=3)
    assert state.shape == (8,) and state.dtype == np.float32
    result = env.step(0)
    assert len(result) == 4
    next_state, reward, done, info = result
    assert next_state.shape == (8,) and isinstance(reward, float) and np.isfinite(reward)
    assert isinstance(done, bool) and isinstance(info, dict)
    frame = env.render(mode="rgb_array")
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8


def test_episode_cut_at_1000_steps(env):
    assert env.spec.max_episode_steps == 1000


def test_reset_with_seed_is_reproducible(env):
    assert np.array_equal(env.reset(seed=5), env.reset(seed=5))
