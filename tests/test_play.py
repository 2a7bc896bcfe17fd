"""Fly it yourself (scripts/learner/play.py): the keys, the scores file, no display, and the real game under Xvfb."""
import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import pygame
import pytest
from conftest import LEARNER_ENV, ROOT
from PIL import Image

import utils
from lander import flying
from lander.environment import ACTION_NAMES
from lander.episodes import play_episode
from scripts.learner import play
from scripts.maintainer.play_under_xvfb import Game, fire, missing_tools, virtual_screen

SEED = 5


def first_steps(env, action, steps=15):
    """The state after steps of action from the start of SEED."""
    env.reset(seed=SEED)
    for _ in range(steps):
        state, *_ = env.step(action)
    return state


def test_each_arrow_key_moves_the_lander_the_way_it_points(env):
    still = first_steps(env, flying.DO_NOTHING)
    left = first_steps(env, play.KEY_ACTIONS[pygame.K_LEFT])
    right = first_steps(env, play.KEY_ACTIONS[pygame.K_RIGHT])
    up = first_steps(env, play.KEY_ACTIONS[pygame.K_UP])
    assert left[2] < still[2] - 0.1 and left[4] > still[4] + 0.1  # x velocity down, and it leans left
    assert right[2] > still[2] + 0.1 and right[4] < still[4] - 0.1
    assert up[3] > still[3] + 0.3  # falls slower
    assert ACTION_NAMES[play.KEY_ACTIONS[pygame.K_LEFT]] == "Fire right orientation engine"


def test_no_key_does_nothing_and_keys_held_together_take_turns():
    assert flying.action_for([], 7) == flying.DO_NOTHING
    assert [flying.action_for([flying.MAIN_ENGINE], step) for step in range(3)] == [flying.MAIN_ENGINE] * 3
    both = flying.held_actions({pygame.K_UP: True, pygame.K_LEFT: True, pygame.K_RIGHT: False}, play.KEY_ACTIONS)
    assert [flying.action_for(both, step) for step in range(4)] == [flying.MAIN_ENGINE, flying.PUSH_LEFT] * 2


def flight(points=-12.345, counts=(1, 2, 3, 4)):
    return {"total_points": points, "steps": sum(counts), "outcome": "crashed", "action_counts": list(counts)}


@pytest.mark.parametrize("before", [None, ""], ids=["no file", "an empty file"])
def test_scores_are_added_row_by_row_with_one_header(tmp_path, before):
    path = tmp_path / "build" / "play_scores.csv"
    if before is not None:
        path.parent.mkdir()
        path.write_text(before)
    flying.append_score(path, flying.score_row(3, flight(), {"total_points": 250.5}, None))
    flying.append_score(path, flying.score_row(4, flight(7.0), {"total_points": 240.0}, {"total_points": 99.0}))
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["seed"] for row in rows] == ["3", "4"] and rows[0]["points"] == "-12.35"
    assert rows[0]["steps_right_engine"] == "2" and rows[0]["steps_left_engine"] == "4"
    assert rows[0]["your_network_points"] == "" and rows[1]["your_network_points"] == "99.0"
    assert list(rows[0]) == flying.SCORE_COLUMNS and os.listdir(path.parent) == ["play_scores.csv"]


def test_an_interrupted_write_keeps_the_scores_already_there(tmp_path, monkeypatch):
    path = tmp_path / "play_scores.csv"
    flying.append_score(path, flying.score_row(3, flight(), {"total_points": 250.5}, None))
    before = path.read_bytes()

    def interrupted(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(play.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        flying.append_score(path, flying.score_row(4, flight(), {"total_points": 1.0}, None))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["play_scores.csv"]


def test_a_file_that_is_not_a_scores_file_is_left_alone_with_a_clear_error(tmp_path):
    path = tmp_path / "play_scores.csv"
    path.write_text("name,grade\nAda,A\n")
    with pytest.raises(SystemExit, match="not a scores file of scripts.learner.play"):
        flying.append_score(path, flying.score_row(3, flight(), {"total_points": 1.0}, None))
    assert path.read_text() == "name,grade\nAda,A\n"


@pytest.mark.parametrize("screen", [
    pytest.param({}, marks=pytest.mark.skipif(not sys.platform.startswith("linux"),
                                              reason="only on Linux does a window need DISPLAY or WAYLAND_DISPLAY"),
                 id="no DISPLAY"),
    pytest.param({"DISPLAY": ":0", "SDL_VIDEODRIVER": "dummy"}, id="SDL draws off-screen")])
def test_with_no_display_it_says_so_in_one_line(screen, tmp_path):
    environment = {name: value for name, value in LEARNER_ENV.items()
                   if name not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = subprocess.run([sys.executable, "-m", "scripts.learner.play", "--scores", str(tmp_path / "scores.csv")],
                            cwd=ROOT, env={**environment, **screen}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("No display")
    assert not (tmp_path / "scores.csv").exists()


@pytest.mark.slow
@pytest.mark.skipif(bool(missing_tools()), reason=f"needs {' and '.join(missing_tools())} "
                    "(apt-get install xvfb xdotool; .ci/run installs them)")
def test_a_player_flies_with_the_arrow_keys_under_xvfb(tmp_path, env):
    """The real game on a virtual screen, with real key presses; every wait is for something the game prints."""
    scores, yours = tmp_path / "play_scores.csv", tmp_path / "lunar_lander_model.h5"
    shutil.copy(play.SHIPPED_MODEL, yours)  # a network of the learner's: here the shipped one again
    with virtual_screen() as display:
        game = Game(display, "--seed", str(SEED), "--scores", str(scores), "--your-model", str(yours))
        try:
            assert game.wait_for("ready") == f"ready seed={SEED}"
            game.find_window()
            assert game.window_name() == play.TITLE
            for key, action in [("Up", flying.MAIN_ENGINE), ("Left", flying.PUSH_LEFT), ("Right", flying.PUSH_RIGHT)]:
                fired, after = fire(game, key)
                assert f" action {action} " in fired
                assert after.startswith("over") or f" action {flying.DO_NOTHING} " in after  # let go: nothing
            if game.state != "over":
                game.wait_for("over")
            game.screenshot(tmp_path / "over.png")  # what the window shows: the points side by side
            game.press("r")
            assert game.wait_for("ready") == f"ready seed={SEED}"  # R: the same start again
            game.key_down("Up")  # a second flight, to see N: a new start
            game.wait_for("step")
            game.key_up("Up")
            game.wait_for("over")
            game.press("n")
            assert game.wait_for("ready").startswith("ready seed=")
            game.press("Escape")
            assert game.wait_exit() == 0
            assert game.wait_for("closed") == "closed" and game.window_closed()
        finally:
            game.stop()
    with open(scores, newline="") as file:
        rows = list(csv.DictReader(file))
    flights = [line for line in game.lines if line.startswith("over")]
    assert len(rows) == len(flights) >= 2 and {row["seed"] for row in rows} == {str(SEED)}
    for column in ("steps_main_engine", "steps_right_engine", "steps_left_engine"):
        assert sum(int(row[column]) for row in rows) >= 1, column
    for row in rows:
        counts = [int(row[f"steps_{name}"]) for name in ("do_nothing", "right_engine", "main_engine", "left_engine")]
        assert sum(counts) == int(row["steps"]) and row["outcome"] in ("crashed", "landed", "flew off", "time limit")
    assert f"points={float(rows[-1]['points']):.2f}" in flights[-1]
    shipped = play_episode(env, utils.load_model(str(play.SHIPPED_MODEL)), seed=SEED)
    assert np.isclose(float(rows[0]["shipped_network_points"]), shipped["total_points"], atol=0.01)
    assert rows[0]["your_network_points"] == rows[0]["shipped_network_points"]
    shown = np.asarray(Image.open(tmp_path / "over.png").convert("RGB"))
    assert shown.shape == (play.WINDOW_SIZE[1], play.WINDOW_SIZE[0], 3)
    assert (shown[:play.SCENE_SIZE[1] // 2] == play.Painter.LIT).all(axis=-1).sum() > 100  # "You: ... points"
