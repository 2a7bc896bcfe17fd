"""Bad input gets a clear error from our code; saving never leaves a broken model behind.

Property-based tests (hypothesis) check the rules that hold for every input.
"""
import os
from collections import deque

import gym
import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, Experience, small_network
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import utils
from lander.video import write_video

STATE = np.zeros(8, np.float32)


def records(count, offset=0):
    return [Experience(np.full(8, offset + i, np.float32), i % 4, float(i), np.full(8, -i, np.float32), i % 7 == 0)
            for i in range(count)]


def network(hidden=64, seed=0):
    return small_network(seed, hidden)


# --------------------------------------------------------------------------- clear errors, before any work

@pytest.mark.parametrize("call, error, words", [
    (lambda: utils.get_experiences(None), TypeError, "memory_buffer must be a deque"),
    (lambda: utils.get_experiences("not a buffer"), TypeError, "memory_buffer must be a deque"),
    (lambda: utils.get_experiences(deque(records(10))), ValueError, "at least MINIBATCH_SIZE=64"),
    (lambda: utils.get_experiences(deque([(STATE, 0, 1.0)] * 80)), ValueError, "Experience(state, action"),
    (lambda: utils.get_experiences(deque([Experience(np.zeros(3), 0, 1.0, np.zeros(3), False)] * 80)),
     ValueError, "states of 8 numbers"),
    (lambda: utils.get_experiences(deque([Experience(STATE, 7, 1.0, STATE, False)] * 80)), ValueError,
     "every action in memory_buffer must be one of 0..3"),
    (lambda: utils.check_update_conditions(-1, 4, []), ValueError, "t must be at least 0"),
    (lambda: utils.check_update_conditions(1.5, 4, []), TypeError, "t must be an integer"),
    (lambda: utils.check_update_conditions(3, 0, []), ValueError, "num_steps_upd must be at least 1"),
    (lambda: utils.check_update_conditions(3, 4, None), TypeError, "memory_buffer"),
    (lambda: utils.get_new_eps(1.5), ValueError, "epsilon must be a finite number in [0.0, 1.0]"),
    (lambda: utils.get_new_eps(-0.1), ValueError, "epsilon"),
    (lambda: utils.get_new_eps(float("nan")), ValueError, "epsilon"),
    (lambda: utils.get_new_eps("0.5"), TypeError, "epsilon must be a number"),
    (lambda: utils.get_new_eps(True), TypeError, "epsilon must be a number"),
    (lambda: utils.get_action(None, 0.1), TypeError, "q_values is None"),
    (lambda: utils.get_action(tf.zeros(4), 0.1), ValueError, "q_values must have shape (1, 4)"),
    (lambda: utils.get_action(np.zeros((2, 4)), 0.1), ValueError, "got shape (2, 4)"),
    (lambda: utils.get_action([[1, 2, 3]], 0.1), ValueError, "shape (1, 4)"),
    (lambda: utils.get_action([[1, 2, np.nan, 3]], 0.1), ValueError, "finite"),
    (lambda: utils.get_action("abcd", 0.1), TypeError, "q_values must be a tensor or array"),
    (lambda: utils.get_action(np.zeros((1, 4)), 2.0), ValueError, "epsilon"),
    (lambda: utils.choose_action(STATE, 0.0, None), TypeError, "policy_network must be callable"),
    (lambda: utils.update_target_network(None, network()), TypeError, "q_network is None"),
    (lambda: utils.update_target_network(network(), "target"), TypeError, "target_q_network must be a Keras"),
    (lambda: utils.update_target_network(network(64), network(32)), ValueError, "same architecture"),
    (lambda: utils.update_target_network(network(), tf.keras.Sequential([])), ValueError, "has no weights"),
    (lambda: utils.ReplayMemory(10), ValueError, "maxlen must be at least 64"),
    (lambda: utils.ReplayMemory(100).append((STATE, 0, 1.0)), TypeError, "Experience(state, action"),
    (lambda: utils.ReplayMemory(100).append(Experience(np.zeros(5), 0, 1.0, STATE, False)), ValueError,
     "states of 8 numbers"),
    (lambda: utils.ReplayMemory(100).append(Experience(STATE, 4, 1.0, STATE, False)), ValueError,
     "action in 0..3"),
    (lambda: utils.ReplayMemory(100).append(Experience(STATE, 1.0, 1.0, STATE, False)), TypeError,
     "integer action"),
    (lambda: utils.ReplayMemory(100)[0], IndexError, "out of range"),
    (lambda: utils.plot_history([]), ValueError, "point_history is empty"),
    (lambda: utils.plot_history(None), TypeError, "point_history must be a list"),
    (lambda: utils.plot_history([[1, 2], [3, 4]]), ValueError, "flat list"),
    (lambda: utils.plot_history([1, None, 3]), ValueError, "point_history must hold finite numbers"),
    (lambda: utils.plot_history(["a", "b"]), TypeError, "point_history must be a list of numbers"),
    (lambda: utils.plot_history([1, 2, 3], lower_limit=2, upper_limit=1), ValueError, "lower_limit < upper_limit"),
    (lambda: utils.plot_history([1, 2, 3], upper_limit=10), ValueError, "<= 3"),
    (lambda: utils.plot_history([1, 2, 3], window_size=0), ValueError, "window_size must be at least 1"),
    (lambda: utils.plot_history([1, 2], plot_data_only=True, plot_rolling_mean_only=True), ValueError,
     "cannot both"),
    (lambda: utils.display_table(np.zeros(6), 0, STATE, 1.0, False), ValueError, "initial_state must have shape (8,)"),
    (lambda: utils.display_table(STATE, 5, STATE, 1.0, False), ValueError, "action must be an action in 0..3"),
    (lambda: utils.display_table(STATE, 0, STATE, "big", False), TypeError, "reward must be a number"),
    (lambda: utils.display_table(STATE, 0, STATE, 1.0, "no"), TypeError, "done must be True or False"),
    (lambda: utils.embed_mp4("missing.mp4"), FileNotFoundError, "No video at 'missing.mp4'"),
    (lambda: utils.embed_mp4("clip.avi"), ValueError, "filename must end with .mp4"),
    (lambda: utils.embed_mp4(None), TypeError, "filename must be a path"),
    (lambda: utils.create_video("video.mp4", None, network()), TypeError, "env must be a gym environment"),
    (lambda: utils.create_video("video.gif", gym.make("LunarLander-v2"), network()), ValueError, ".mp4"),
    (lambda: utils.create_video("video.mp4", gym.make("LunarLander-v2"), network(), fps=0), ValueError, "fps"),
    (lambda: utils.create_video("video.mp4", gym.make("LunarLander-v2"), None), TypeError, "q_network is None"),
    (lambda: utils.create_video("video.mp4", gym.make("LunarLander-v2"), network(), show_q_values="yes"), TypeError,
     "show_q_values must be True or False"),
    (lambda: utils.create_video("video.mp4", gym.make("LunarLander-v2"), network(), on_frame=3), TypeError,
     "on_frame must be a function"),
    (lambda: utils.evaluate(gym.make("LunarLander-v2"), network(), []), ValueError, "seeds must be a non-empty"),
    (lambda: utils.evaluate(gym.make("LunarLander-v2"), network(), [1, -2]), ValueError, "each seed"),
    (lambda: utils.limit_exhaust_particles(gym.make("CartPole-v1")), TypeError, "LunarLander"),
    (lambda: write_video("out.mp4", []), ValueError, "frames is empty"),
    (lambda: utils.load_model("nowhere.h5"), FileNotFoundError, "No model file at 'nowhere.h5'"),
    (lambda: utils.load_model("model.pkl"), ValueError, "filename must end with .h5 or .keras"),
    (lambda: utils.save_model(None, "model.h5"), TypeError, "model is None"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as raised:
        call()
    assert words in str(raised.value)
    ours = ROOT / "utils.py", ROOT / "public_tests.py", ROOT / "lander"
    assert any(raised.traceback[-1].path.is_relative_to(path) for path in ours)  # raised by our code


def test_running_training_before_the_exercises_says_so(agent):
    blank = tf.keras.Sequential([])
    with pytest.raises(RuntimeError, match="Exercise 1 is not done yet: q_network has no layers"):
        utils.check_exercises_done(blank, blank, None, None)
    with pytest.raises(RuntimeError, match="Exercise 1 is not done yet: optimizer is None, not an optimizer"):
        utils.check_exercises_done(agent["q_network"], agent["target_q_network"], None, None)
    with pytest.raises(RuntimeError, match="Exercise 2 is not done yet: compute_loss returns None"):
        utils.check_exercises_done(agent["q_network"], agent["target_q_network"], agent["optimizer"],
                                   lambda *args: None)
    utils.check_exercises_done(agent["q_network"], agent["target_q_network"], agent["optimizer"],
                               agent["compute_loss"])


# --------------------------------------------------------------------------- saving and loading models

def test_save_and_load_round_trip(tmp_path):
    model = network(seed=3)
    path = tmp_path / "sub" / "model.h5"
    utils.save_model(model, str(path))
    loaded = utils.load_model(str(path))
    for got, want in zip(loaded.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(got, want)
    assert [p.name for p in path.parent.iterdir()] == ["model.h5"]  # no temporary file left


def test_a_failed_save_keeps_the_previous_model(tmp_path, monkeypatch):
    path = tmp_path / "model.h5"
    good = network(seed=1)
    utils.save_model(good, str(path))
    before = path.read_bytes()

    def crash_mid_write(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"half a model")
        raise KeyboardInterrupt  # as if Ctrl-C landed mid-save

    monkeypatch.setattr(tf.keras.Model, "save", crash_mid_write)
    with pytest.raises(KeyboardInterrupt):
        utils.save_model(network(seed=2), str(path))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.h5"]
    monkeypatch.undo()
    loaded = utils.load_model(str(path))
    assert np.array_equal(loaded.get_weights()[0], good.get_weights()[0])


@pytest.mark.parametrize("content", [b"", b"not an hdf5 file at all", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64])
def test_a_corrupt_model_file_is_reported_in_plain_words(tmp_path, content):
    path = tmp_path / "lunar_lander_model.h5"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is damaged or not a Keras model"):
        utils.load_model(str(path))


# --------------------------------------------------------------------------- properties

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(64, 400), seed=st.integers(0, 2**32 - 1), use_memory=st.booleans())
def test_get_experiences_always_returns_distinct_records_of_the_buffer(size, seed, use_memory):
    import random
    random.seed(seed)
    stored = records(size)
    buffer = deque(stored)
    if use_memory:
        buffer = utils.ReplayMemory(maxlen=max(size, 64))
        for record in stored:
            buffer.append(record)
    states, actions, rewards, _, dones = (x.numpy() for x in utils.get_experiences(buffer))
    indices = states[:, 0].astype(int)
    assert len(set(indices)) == 64 and indices.min() >= 0 and indices.max() < size
    assert np.array_equal(actions, indices % 4) and np.array_equal(rewards, indices.astype(np.float32))
    assert np.array_equal(dones, (indices % 7 == 0).astype(np.float32))


@given(st.floats(0.0, 1.0))
def test_get_new_eps_never_leaves_its_range(epsilon):
    new = utils.get_new_eps(epsilon)
    assert utils.E_MIN <= new <= 1.0 and new <= max(epsilon, utils.E_MIN)


@given(t=st.integers(0, 10_000), every=st.integers(1, 50), size=st.integers(0, 200))
def test_check_update_conditions_rule(t, every, size):
    assert utils.check_update_conditions(t, every, range(size)) == ((t + 1) % every == 0 and size > 64)


@given(st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=4), st.floats(0.0, 1.0))
def test_get_action_always_a_valid_action_and_greedy_at_zero(values, epsilon):
    assert utils.get_action(np.array([values]), epsilon) in range(4)
    assert utils.get_action(np.array([values]), 0.0) == int(np.argmax(values))


@settings(max_examples=40, deadline=None)
@given(maxlen=st.integers(64, 120), count=st.integers(0, 400))
def test_replay_memory_keeps_the_newest_like_a_deque(maxlen, count):
    memory, reference = utils.ReplayMemory(maxlen), deque(maxlen=maxlen)
    for record in records(count):
        memory.append(record)
        reference.append(record)
    assert len(memory) == len(reference)
    assert [memory[i][1:3] for i in range(len(memory))] == [(r.action, r.reward) for r in reference]


def test_plot_history_names_an_unknown_option():
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        utils.plot_history([1, 2, 3], colour="red")
