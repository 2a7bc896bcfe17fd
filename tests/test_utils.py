"""utils.py: every constant and function, by behaviour."""
import base64
import random
import re
import tracemalloc
from collections import deque

import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from conftest import ROOT, make_experiences, small_network

import utils
from lander.environment import ACTION_LABELS
from lander.video import PANEL_COLOURS, PANEL_HEIGHT, PANEL_ROWS, QValuePanel


def test_constants():
    assert (utils.SEED, utils.MINIBATCH_SIZE, utils.TAU, utils.E_DECAY, utils.E_MIN) == (0, 64, 1e-3, 0.995, 0.01)


# --------------------------------------------------------------------------- get_experiences

@pytest.mark.parametrize("store", ["deque", "replay memory"])
def test_get_experiences_shapes_and_dtypes(store):
    records = make_experiences(200)
    memory = deque(records, maxlen=1000) if store == "deque" else utils.ReplayMemory(1000)
    if store == "replay memory":
        for record in records:
            memory.append(record)
    batch = utils.get_experiences(memory)
    assert [tuple(x.shape) for x in batch] == [(64, 8), (64,), (64,), (64, 8), (64,)]
    assert all(isinstance(x, tf.Tensor) and x.dtype == tf.float32 for x in batch)
    assert set(np.unique(batch[4].numpy())) <= {0.0, 1.0}


@pytest.mark.parametrize("store", ["deque", "replay memory"])
def test_get_experiences_draws_distinct_records_of_the_buffer(store):
    records = make_experiences(100)
    memory = deque(records) if store == "deque" else utils.ReplayMemory(100)
    if store == "replay memory":
        for record in records:
            memory.append(record)
    states, actions, rewards, next_states, dones = (x.numpy() for x in utils.get_experiences(memory))
    known = {tuple(r.state): r for r in records}
    assert len({tuple(s) for s in states}) == 64  # without replacement
    for state, action, reward, next_state, done in zip(states, actions, rewards, next_states, dones, strict=True):
        record = known[tuple(state)]  # every row is one whole record of the buffer
        assert (action, done) == (record.action, float(record.done))
        assert reward == pytest.approx(record.reward, rel=1e-6)
        assert np.array_equal(next_state, record.next_state)


def test_get_experiences_covers_the_whole_buffer():
    memory = deque(make_experiences(128))
    seen = set()
    for _ in range(50):
        seen.update(tuple(s) for s in utils.get_experiences(memory)[0].numpy())
    assert len(seen) == 128


def test_replay_memory_behaves_like_a_bounded_deque():
    records = make_experiences(150)
    memory, reference = utils.ReplayMemory(maxlen=100), deque(maxlen=100)
    for record in records:
        memory.append(record)
        reference.append(record)
    assert len(memory) == len(reference) == 100
    for index in (0, 1, 50, 99, -1):
        got, want = memory[index], reference[index]
        assert np.array_equal(got[0], want.state) and got[1:3] == (want.action, pytest.approx(want.reward))
        assert np.array_equal(got[3], want.next_state) and got[4] == want.done


# --------------------------------------------------------------------------- check_update_conditions

@pytest.mark.parametrize("t, size, expected", [
    (3, 65, True), (7, 1000, True), (2, 1000, False), (4, 1000, False),
    (3, 64, False), (3, 63, False), (0, 1000, False), (99, 65, True)])
def test_check_update_conditions_boundaries(t, size, expected):
    assert utils.check_update_conditions(t, 4, range(size)) is expected


def test_check_update_conditions_every_step_when_num_steps_is_one():
    assert all(utils.check_update_conditions(t, 1, range(65)) for t in range(10))


# --------------------------------------------------------------------------- get_new_eps

def test_get_new_eps_decays_then_floors():
    assert utils.get_new_eps(1.0) == pytest.approx(0.995)
    assert utils.get_new_eps(0.01) == 0.01
    assert utils.get_new_eps(0.0100001) == 0.01
    epsilon = 1.0
    for _ in range(2000):
        epsilon = utils.get_new_eps(epsilon)
    assert epsilon == utils.E_MIN


# --------------------------------------------------------------------------- get_action / choose_action

def test_get_action_greedy_takes_the_argmax():
    for values in ([[1.0, 5.0, 2.0, 3.0]], [[-1.0, -2.0, -0.5, -3.0]], np.array([[0.0, 0.0, 0.0, 9.0]])):
        assert utils.get_action(tf.constant(values), 0.0) == int(np.argmax(values))


def test_get_action_frequencies():
    random.seed(1)
    q_values = tf.constant([[0.0, 0.0, 1.0, 0.0]])
    counts = np.bincount([utils.get_action(q_values, 0.4) for _ in range(20_000)], minlength=4) / 20_000
    # Greedy 60% of the time, plus a quarter of the 40% random choices.
    assert counts == pytest.approx([0.1, 0.1, 0.7, 0.1], abs=0.015)
    counts = np.bincount([utils.get_action(q_values, 1.0) for _ in range(20_000)], minlength=4) / 20_000
    assert counts == pytest.approx([0.25] * 4, abs=0.015)


def test_choose_action_matches_get_action_draw_for_draw(agent):
    policy_network = utils.NumpyQNetwork(agent["q_network"])
    states = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    for epsilon in (0.0, 0.3, 1.0):
        random.seed(7)
        fast = [utils.choose_action(s, epsilon, policy_network) for s in states]
        random.seed(7)
        course = [utils.get_action(agent["q_network"](s[None, :]), epsilon) for s in states]
        assert fast == course


def test_numpy_q_network_matches_keras_and_follows_learning(agent):
    network = small_network(3)
    policy_network = utils.NumpyQNetwork(network)
    states = np.random.default_rng(1).normal(size=(20, 8)).astype(np.float32)
    for state in states:
        np.testing.assert_allclose(policy_network(state), network(state[None, :]).numpy(), rtol=1e-5, atol=1e-5)
    network.set_weights([w + 0.5 for w in network.get_weights()])
    stale = policy_network(states[0])
    policy_network.weights_changed()
    fresh = policy_network(states[0])
    assert not np.allclose(stale, fresh)
    np.testing.assert_allclose(fresh, network(states[:1]).numpy(), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- update_target_network

def soft_update_expected(q_network, target):
    pairs = zip(q_network.get_weights(), target.get_weights(), strict=True)
    return [utils.TAU * w + (1 - utils.TAU) * t for w, t in pairs]


def test_update_target_network_arithmetic_eagerly():
    q_network, target = small_network(1), small_network(2)
    expected = soft_update_expected(q_network, target)
    before = q_network.get_weights()
    utils.update_target_network(q_network, target)
    for got, want in zip(target.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    for got, want in zip(q_network.get_weights(), before, strict=True):
        assert np.array_equal(got, want)  # the Q-network is left as it was


def test_update_target_network_inside_tf_function():
    q_network, target = small_network(1), small_network(2)
    expected = soft_update_expected(q_network, target)
    tf.function(lambda: utils.update_target_network(q_network, target))()
    for got, want in zip(target.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_update_target_network_converges_to_the_q_network():
    q_network, target = small_network(1), small_network(2)

    def gap():
        return max(np.abs(w - t).max() for w, t in zip(q_network.get_weights(), target.get_weights(), strict=True))

    initial_gap = gap()
    update = tf.function(lambda: utils.update_target_network(q_network, target))
    for _ in range(500):
        update()
    # Each update shrinks the gap by the factor (1 - TAU). Each also rounds the target's weights to
    # float32, about 6e-8 of their size: 500 updates keep that far below the 1e-3 allowed (after 5000,
    # the gap is 150 times smaller and the rounding, which differs between processors, is not).
    assert gap() == pytest.approx(initial_gap * (1 - utils.TAU) ** 500, rel=1e-3)


# --------------------------------------------------------------------------- plot_history

def lines_of(figure):
    return {line.get_label(): line for line in figure.axes[0].get_lines()}


def test_plot_history_draws_points_and_rolling_mean():
    points = list(np.arange(200, dtype=float))
    figure = utils.plot_history(points)
    assert not plt.get_fignums()  # a notebook shows it once, as the returned Figure
    lines = lines_of(figure)
    assert set(lines) == {"Points per episode", "Rolling mean (20 episodes)"}
    assert np.array_equal(lines["Points per episode"].get_ydata(), points)
    mean = lines["Rolling mean (20 episodes)"].get_ydata()
    assert mean[-1] == pytest.approx(np.mean(points[-20:])) and mean[0] == 0.0
    axes = figure.axes[0]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("Episode", "Total Points")


def test_plot_history_options():
    points = list(range(100))
    figure = utils.plot_history(points, lower_limit=10, upper_limit=60, window_size=5, plot_rolling_mean_only=True)
    lines = lines_of(figure)
    assert list(lines) == ["Rolling mean (5 episodes)"]
    line = lines["Rolling mean (5 episodes)"]
    assert line.get_xdata()[0] == 11 and line.get_xdata()[-1] == 60  # episodes are numbered from 1
    assert line.get_ydata()[-1] == pytest.approx(np.mean(range(55, 60)))
    assert list(lines_of(utils.plot_history(points, plot_data_only=True))) == ["Points per episode"]


def test_plot_history_draws_into_given_axes():
    figure, (left, right) = plt.subplots(1, 2)
    assert utils.plot_history([1.0, 2.0, 3.0], ax=right) is figure
    assert not left.get_lines() and len(right.get_lines()) == 2
    plt.close(figure)


# --------------------------------------------------------------------------- display_table

def test_display_table_contents():
    initial = np.array([0.0012, 1.4, 0.2, -0.1, 0.003, -0.04, 0.0, 1.0], np.float32)
    following = np.array([0.0034, 1.39, 0.21, -0.12, 0.004, -0.05, 1.0, 1.0], np.float32)
    table = utils.display_table(initial, 2, following, -1.2345, False)
    assert list(table.columns) == ["Initial State", "Next State"]
    assert table.loc["x position", "Initial State"] == "0.001"
    assert table.loc["right leg in contact", "Next State"] == "1.000"
    assert table.loc["Action", "Initial State"] == "2: Fire main engine"
    assert table.loc["Reward", "Next State"] == "-1.234" or table.loc["Reward", "Next State"] == "-1.235"
    assert table.loc["Episode terminated", "Next State"] == "False"
    assert len(table) == 11


# --------------------------------------------------------------------------- videos

def test_create_video_writes_a_readable_mp4(tmp_path, env, agent):
    filename = tmp_path / "new_folder" / "landing.mp4"
    env.reset(seed=4)
    utils.create_video(str(filename), env, agent["q_network"], fps=30)
    reader = imageio.get_reader(str(filename))
    frames = [frame for frame in reader]
    assert reader.get_meta_data()["codec"] == "h264"
    assert reader.get_meta_data()["fps"] == 30
    assert frames[0].shape == (400, 600, 3)
    # One frame for the start and one per step: an untrained agent's episode lasts a few dozen steps or more.
    assert len(frames) >= 20


def hovering_network():
    """A hand-made Q-network that hovers: the main engine when low or falling, side engines against drift.

    From seeds 0 to 5 its episodes all run to the 1000-step time limit.
    """
    weights, bias = np.zeros((8, 4), np.float32), np.zeros(4, np.float32)
    weights[1, 2], weights[3, 2], bias[2] = -10.0, -20.0, 8.0  # y, y velocity -> main engine
    weights[[2, 4, 5], 1] = 5.0, -10.0, -10.0                  # x velocity, angle, spin -> one side engine
    weights[[2, 4, 5], 3] = -5.0, 10.0, 10.0                   # ... and the other
    network = tf.keras.Sequential([tf.keras.Input(shape=(8,)), tf.keras.layers.Dense(4)])
    network.set_weights([weights, bias])
    return network


@pytest.mark.parametrize("show_q_values", [False, True])
def test_create_video_streams_a_long_episode_in_little_memory(tmp_path, env, show_q_values):
    """1001 frames of 0.72 MB (1 MB with the Q-values) would take 720 MB if kept; written as drawn,
    the peak stays small."""
    tracemalloc.start()
    try:
        probe = np.ones(50_000_000, np.uint8)  # the tracer sees numpy's memory (else this test proves nothing)
        assert tracemalloc.get_traced_memory()[1] >= 50_000_000
        del probe
        tracemalloc.reset_peak()
        episode = utils.create_video(str(tmp_path / "hover.mp4"), env, hovering_network(), seed=0,
                                     show_q_values=show_q_values)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert episode["steps"] == 1000 and episode["outcome"] == "time limit"
    assert peak < 80e6, f"create_video's peak memory grew by {peak / 1e6:.0f} MB"
    assert imageio.get_reader(str(tmp_path / "hover.mp4")).count_frames() == 1001


def test_action_labels_follow_the_action_numbers():
    assert ACTION_LABELS == ("do nothing", "right engine", "main engine", "left engine")


def test_q_value_scale_is_steady_and_only_widens():
    panel = QValuePanel()
    low, high = panel.widen([90.7, 92.4, 93.9, 94.3])
    assert low <= 90.7 and high >= 94.3 and high - low <= 40
    assert panel.widen([91.0, 92.0, 93.0, 99.0]) == (low, high)  # inside the scale: unchanged
    wider = panel.widen([95.0, 96.0, 97.0, high + 5])
    assert wider[0] == low and wider[1] >= high + 5 + (high - low) / 2  # widened by half its span at once
    assert panel.widen([low + 1] * 4) == wider  # never narrows again
    lowest = panel.widen([low - 50, 0.5, 1.0, 2.0])
    assert lowest[0] <= low - 50 and lowest[1] == wider[1]


def bar_lengths(frame, height=400):
    """Pixels of bar in each of the panel's four rows: any colour but the background, between the labels
    and the numbers."""
    first, step = PANEL_ROWS
    rows = [frame[height + first + step * number + 10, 130:520] for number in range(4)]
    background = np.array(PANEL_COLOURS["background"])
    return [int((np.abs(row.astype(int) - background).sum(axis=1) > 30).sum()) for row in rows]


def chosen_rows(frame, height=400):
    """The rows of the panel where the chosen action's colour shows."""
    chosen = np.array(PANEL_COLOURS["chosen"])
    return [number for number in range(4)
            if (np.abs(row_of(frame, height, number).astype(int) - chosen).sum(axis=2) < 30).sum() > 50]


def row_of(frame, height, number):
    """The pixels of the panel's row of action number."""
    first, step = PANEL_ROWS
    return frame[height + first + step * number:height + first + step * (number + 1)]


def test_q_value_panel_shows_the_values_and_marks_the_action():
    scene = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    panel = QValuePanel()
    frame = panel.draw(scene, 12, [10.0, 40.0, 25.0, 5.0], 2, -1.5, 30.0)
    assert frame.shape == (400 + PANEL_HEIGHT, 600, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame[:400], scene)  # the scene itself untouched
    lengths = bar_lengths(frame)
    assert lengths[1] > lengths[2] > lengths[0] > lengths[3] > 0  # longer bars for larger values
    assert chosen_rows(frame) == [2]
    start = QValuePanel().draw(scene, 0, [10.0, 40.0, 25.0, 5.0], None, 0.0, 0.0)
    assert chosen_rows(start) == []  # before the first step, no action is marked
    negative = QValuePanel().draw(scene, 3, [-20.0, -5.0, -10.0, -40.0], 1, 0.0, 0.0)
    lengths = bar_lengths(negative)  # below 0, bars grow leftwards from the scale's top end
    assert lengths[3] > lengths[0] > lengths[2] > lengths[1]


def test_create_video_with_q_values_streams_an_annotated_mp4(tmp_path, env):
    shipped = utils.load_model(str(ROOT / "models" / "lunar_lander_model.h5"))
    plain = utils.create_video(str(tmp_path / "plain.mp4"), env, shipped, seed=7)
    kept = []
    annotated = utils.create_video(str(tmp_path / "annotated.mp4"), env, shipped, seed=7, show_q_values=True,
                                   on_frame=kept.append)
    assert annotated == plain  # the same episode, only drawn with its Q-values
    assert len(kept) == plain["steps"] + 1 and kept[0].shape == (400 + PANEL_HEIGHT, 600, 3)
    reader = imageio.get_reader(str(tmp_path / "annotated.mp4"))
    meta = reader.get_meta_data()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["size"] == (600, 400 + PANEL_HEIGHT)
    frames = [frame for frame in reader]
    assert len(frames) == plain["steps"] + 1
    plain_frames = imageio.get_reader(str(tmp_path / "plain.mp4"))
    for number, (frame, scene) in enumerate(zip(frames, plain_frames, strict=False)):
        # Above the panel, the same scene as the plain video (up to the codec's small differences).
        assert np.abs(frame[:400].astype(int) - scene.astype(int)).mean() < 3, number
    assert chosen_rows(kept[0]) == [] and all(len(chosen_rows(frame)) == 1 for frame in kept[1:])
    assert chosen_rows(kept[-1]) == [0]  # at rest on the pad, it fires nothing


def test_embed_mp4_inlines_the_file(tmp_path):
    filename = tmp_path / "clip.mp4"
    filename.write_bytes(b"\x00\x00\x00\x18ftypmp42 fake video bytes")
    html = utils.embed_mp4(str(filename)).data
    assert "<video" in html and "controls" in html
    encoded = re.search(r'src="data:video/mp4;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(encoded) == filename.read_bytes()


def test_evaluate_summarises_greedy_episodes(env, agent):
    table = utils.evaluate(env, agent["q_network"], range(3))
    row = table.iloc[0]
    assert row["episodes"] == 3
    shares = row[["landed at rest", "crashed or flew off", "time limit"]]
    assert all(0 <= share <= 1 for share in shares) and shares.sum() <= 1.0 + 1e-9
    again = utils.evaluate(env, agent["q_network"], range(3))
    assert again.equals(table)  # fixed seeds, greedy policy: the same table


def test_evaluation_does_not_depend_on_what_was_played_before(tmp_path):
    """The notebook plays its video on env right before the table: the table must not feel it."""
    import gym

    shipped, seeds = utils.load_model(str(ROOT / "models" / "lunar_lander_model.h5")), range(10_000, 10_020)
    fresh = utils.evaluate(gym.make("LunarLander-v2"), shipped, seeds)
    played = gym.make("LunarLander-v2")
    utils.create_video(str(tmp_path / "unrelated.mp4"), played, shipped)
    played.reset(seed=5)
    for _ in range(300):
        played.step(2)
    after = utils.evaluate(played, shipped, seeds)
    pd.testing.assert_frame_equal(after, fresh, check_exact=True)


# --------------------------------------------------------------------------- limit_exhaust_particles

def engine_heavy_run(env, seed, steps=1500):
    """States and rewards of a run that fires the main engine often (particles pile up)."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    trace, most_particles = [], 0
    for _ in range(steps):
        action = 2 if rng.random() < 0.7 else int(rng.integers(4))
        state, reward, done, _ = env.step(action)
        trace.append(np.append(state, reward))
        most_particles = max(most_particles, len(env.unwrapped.particles))
        if done:
            env.reset()
    return np.array(trace), most_particles


def test_limit_exhaust_particles_keeps_the_dynamics_and_bounds_the_world():
    import gym
    plain, limited = gym.make("LunarLander-v2"), utils.limit_exhaust_particles(gym.make("LunarLander-v2"))
    expected, plain_most = engine_heavy_run(plain, seed=11)
    found, limited_most = engine_heavy_run(limited, seed=11)
    assert np.array_equal(found, expected)  # bit for bit: particles never touch the lander
    assert plain_most > 100 and limited_most <= 30
    assert utils.limit_exhaust_particles(limited) is limited  # calling again changes nothing
    assert engine_heavy_run(limited, seed=11)[1] <= 30


def test_agent_learn_is_traced_once(agent):
    memory = utils.ReplayMemory(maxlen=200)
    for record in make_experiences(200):
        memory.append(record)
    agent["agent_learn"](utils.get_experiences(memory), agent["GAMMA"])  # the first call builds Adam's slots
    traced = agent["agent_learn"].experimental_get_tracing_count()
    for batch_source in (memory, deque(make_experiences(100)), memory):
        agent["agent_learn"](utils.get_experiences(batch_source), agent["GAMMA"])
    assert agent["agent_learn"].experimental_get_tracing_count() == traced  # fixed shapes and dtypes
