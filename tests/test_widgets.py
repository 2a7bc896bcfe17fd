"""Section 10's widgets (lander/widgets.py), built in Python without a page: what they show is the network's.

The probe's bars against the network called on the same state, its policy map against one batch
call, and the flight's keys, steps and scores file. The page's side (the sliders dragged, the
keys pressed in Chromium) is tests/test_browser.py's. Fast: these run in make test-colab too.
"""
import csv

import numpy as np
import pytest
from conftest import small_network

import utils
from lander import widgets

# Five states set on the sliders: (x, y, x velocity, y velocity, angle, angular velocity, left leg, right leg).
from lander.environment import ACTION_NAMES
from lander.episodes import play_episode
from scripts.learner import play

SLIDER_POSITIONS = [(0.0, 0.8, 0.0, -0.4, 0.0, 0.0, False, False),
                    (-0.5, 1.2, 0.3, -0.8, 0.2, -0.1, False, False),
                    (0.6, 0.3, -0.5, -1.2, -0.4, 0.3, False, False),
                    (0.05, 0.02, 0.0, -0.1, 0.05, 0.0, True, True),
                    (-0.9, 0.1, 1.5, 0.5, 1.2, -1.0, True, False)]


@pytest.fixture(scope="module")
def shipped():
    return utils.load_model(str(play.SHIPPED_MODEL))


@pytest.fixture(scope="module")
def learners():
    """A network of the learner's own: Exercise 1's shape, its first random weights."""
    return small_network(seed=1)


def set_sliders(probe, position):
    for name, value in zip(widgets.STATE_SLIDERS, position[:6], strict=True):
        probe.sliders[name].value = value
    for name, value in zip(widgets.LEG_NAMES, position[6:], strict=True):
        probe.legs[name].value = value


@pytest.mark.parametrize("which", ["shipped", "learners"])
def test_the_bars_show_the_networks_q_values_for_the_sliders_state(which, request, capsys):
    network = request.getfixturevalue(which)
    probe = widgets.Probe(network)
    rows = []
    for number, position in enumerate(SLIDER_POSITIONS):
        state = np.array(position, dtype=np.float32)
        if number == 0:
            set_sliders(probe, position)  # each slider's own refresh
        else:
            probe.set_state(state)  # one refresh for all
        np.testing.assert_array_equal(probe.state(), state)
        expected = network(state[None]).numpy()[0]
        np.testing.assert_allclose(probe.q_values(), expected, rtol=1e-5, atol=1e-4)
        assert [readout.value for readout in probe.readouts] == [f"{value:.3f}" for value in probe.q_values()]
        greedy = int(np.argmax(expected))
        assert f"<b>{ACTION_NAMES[greedy]}</b>" in probe.greedy.value
        assert [bar.bar_style for bar in probe.bars] == ["warning" if i == greedy else "info" for i in range(4)]
        assert all(bar.min <= bar.value <= bar.max for bar in probe.bars)  # the scale covers them: none clipped
        rows.append((position, probe.q_values(), expected, ACTION_NAMES[greedy]))
    with capsys.disabled():
        print(f"\n{which} network: state | Q-values in the widget | network(state) | greedy")
        for position, shown, expected, greedy in rows:
            print(f"{position} | {' '.join(f'{v:8.3f}' for v in shown)} | "
                  f"{' '.join(f'{v:8.3f}' for v in expected)} | {greedy}")


def test_the_policy_map_is_the_greedy_action_over_the_chosen_slice(shipped):
    probe = widgets.Probe(shipped)
    set_sliders(probe, SLIDER_POSITIONS[1])
    probe.x_axis.value, probe.y_axis.value = "angle", "x velocity"
    grid = probe.policy_grid(probe.state())
    names = list(widgets.STATE_SLIDERS)
    row, column = 17, 60  # one cell of the grid, checked against the network on its own state
    state = probe.state().copy()
    state[names.index("angle")] = np.linspace(-1.5, 1.5, widgets.MAP_SIZE, dtype=np.float32)[column]
    state[names.index("x velocity")] = np.linspace(-2.0, 2.0, widgets.MAP_SIZE, dtype=np.float32)[row]
    assert grid[row, column] == int(np.argmax(shipped(state[None]).numpy()))
    assert len(np.unique(grid)) >= 2  # a slice where the greedy action changes
    assert probe.map.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert probe._image.axes.get_xlabel() == "angle" and probe._image.axes.get_ylabel() == "x velocity"


def test_set_state_takes_a_state_of_the_environment(shipped):
    probe = widgets.Probe(shipped)
    probe.set_state([0.1, 1.4, 0.2, -0.1, 0.0, 0.01, 0.0, 1.0])
    assert probe.state()[1] == np.float32(1.4) and probe.legs["right leg in contact"].value
    with pytest.raises(ValueError, match=r"state must have shape \(8,\), got shape \(6,\)"):
        probe.set_state([0.0] * 6)


def test_one_number_on_both_axes_swaps_them(shipped):
    probe = widgets.Probe(shipped)
    assert (probe.x_axis.value, probe.y_axis.value) == ("x position", "y position")
    probe.y_axis.value = "x position"
    assert (probe.x_axis.value, probe.y_axis.value) == ("y position", "x position")


def test_without_a_page_each_widget_prints_where_to_try_it(shipped, capsys):
    assert widgets.probe(shipped) is None
    assert widgets.fly(shipped) is None
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{what} needs a notebook open in a page (not in a Jupyter kernel): open it in JupyterLab or "
                     "Colab and run this cell." for what in ("Probing the network", "Flying the lander")]


def test_where_a_page_cannot_draw_them_their_text_says_where_to_try(shipped, tmp_path):
    """An HTML export or a console shows a widget's text/plain: one sentence, not the widget's state."""
    for widget in (widgets.Probe(shipped), widgets.Fly(shipped, scores=tmp_path / "scores.csv")):
        bundle = widget._repr_mimebundle_()
        text = (bundle[0] if isinstance(bundle, tuple) else bundle)["text/plain"]  # anywidget's: (data, metadata)
        assert text.endswith("open this notebook in JupyterLab or Colab to use it.") or text.endswith("to fly it.")
        assert len(text) <= 110  # ipywidgets cuts longer texts


def press(widget, key, event="down"):
    widget._on_message(widget, {"event": event, "key": key}, [])


def heights(widget, frames):
    """The lander's y after each of frames ticks."""
    found = []
    for _ in range(frames):
        widget.tick()
        found.append(float(widget.state[1]))
    return found


def test_holding_up_fires_the_main_engine_and_the_lander_rises(shipped, tmp_path):
    widget = widgets.Fly(shipped, seed=3, scores=tmp_path / "scores.csv")
    assert widget.phase == "ready" and widget.frame[:2] == b"\xff\xd8"  # the first frame, as JPEG
    start = float(widget.state[1])
    assert heights(widget, 5) == [start] * 5  # the lander waits for the first arrow key
    press(widget, "up")
    rising = heights(widget, 40)
    assert widget.phase == "flying" and rising[-1] > rising[10] > start
    assert widget.status.endswith("firing: main engine") and f"y {rising[-1]:+.3f}" in widget.status
    assert widget.flight["action_counts"] == [0, 0, 40, 0]
    press(widget, "up", "up")
    press(widget, "left")
    press(widget, "right")
    widget.tick()
    widget.tick()
    assert widget.flight["action_counts"] == [0, 1, 40, 1]  # two held take turns, as in make play
    widget._on_message(widget, {"event": "release"}, [])  # the canvas lost focus: no key stays held
    widget.tick()
    assert widget.status.endswith("firing: nothing")


def test_a_finished_flight_is_scored_beside_the_networks_from_the_same_start(shipped, learners, tmp_path):
    scores = tmp_path / "build" / "play_scores.csv"
    widget = widgets.Fly(shipped, learners, seed=5, scores=scores)
    press(widget, "left")
    while widget.phase != "over":
        widget.tick()
    (row,) = list(csv.DictReader(scores.open()))
    expected = play_episode(widget.judge_env, shipped, seed=5)
    assert row["seed"] == "5" and row["shipped_network_points"] == str(round(expected["total_points"], 2))
    assert row["your_network_points"] == str(round(play_episode(widget.judge_env, learners, seed=5)
                                                   ["total_points"], 2))
    assert row["points"] == str(round(widget.flight["total_points"], 2)) and row["outcome"] == widget.flight["outcome"]
    assert int(row["steps"]) == widget.flight["steps"] == int(row["steps_right_engine"]) + int(row["steps_do_nothing"])
    assert widget.message[0][0].startswith("You: ") and widget.message[-1][0].startswith("R: this start again")

    press(widget, "r")
    widget.tick()
    assert widget.phase == "ready" and widget.seed == 5 and widget.flight["steps"] == 0
    press(widget, "right")
    while widget.phase != "over":
        widget.tick()
    press(widget, "n")
    widget.tick()
    assert widget.phase == "ready" and widget.seed != 5
    assert [row["seed"] for row in csv.DictReader(scores.open())] == ["5", "5"]


def test_esc_stops_the_clock(shipped, tmp_path):
    widget = widgets.Fly(shipped, seed=1, scores=tmp_path / "scores.csv", fps=200).start()
    press(widget, "up")
    press(widget, "escape")
    widget._thread.join(timeout=10)
    assert not widget._thread.is_alive() and widget.phase == "stopped"
    assert widget.message == [["Stopped: run the cell again to fly again", "text"]]
    assert not (tmp_path / "scores.csv").exists()  # as in make play: a flight left by Esc is not scored
