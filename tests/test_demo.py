"""make demo's script and the shipped model: video, GIF and evaluation with no training."""
import json
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest
from conftest import ROOT

import utils
from lander.video import PANEL_HEIGHT

MODEL = ROOT / "models" / "lunar_lander_model.h5"


def test_shipped_model_has_the_exercise_architecture():
    import public_tests
    public_tests.test_network(utils.load_model(str(MODEL)))


def test_shipped_model_lands(env):
    table = utils.evaluate(env, utils.load_model(str(MODEL)), range(500, 520)).iloc[0]
    assert table["mean return"] >= 200 and table["landed at rest"] >= 0.9


def test_shipped_model_record_matches_the_claim():
    record = json.loads((ROOT / "models" / "lunar_lander_model.json").read_text())
    assert record["held_out"]["episodes"] == 100
    assert record["held_out"]["mean return"] >= 240 and record["held_out"]["landed at rest"] >= 0.95
    assert (ROOT / "models" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_demo_writes_video_gif_and_table(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scripts.learner.demo", "--build", str(tmp_path),
                             "--episodes", "3"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    video = imageio.get_reader(str(tmp_path / "lunar_lander.mp4"))
    frames = [frame for frame in video]
    assert video.get_meta_data()["codec"] == "h264" and len(frames) >= 100
    gif = imageio.mimread(str(tmp_path / "lunar_lander.gif"))
    assert len(gif) >= 50 and gif[0].shape[:2] == (200, 300)
    annotated = imageio.get_reader(str(tmp_path / "lunar_lander_q_values.mp4"))
    assert annotated.get_meta_data()["size"] == (600, 400 + PANEL_HEIGHT)
    assert annotated.count_frames() == len(frames)  # the same landing, with its Q-values
    assert "mean return" in result.stdout and "landed at rest" in result.stdout


def test_a_shipped_model_records_how_it_was_made(agent):
    """train_shipped_model writes every setting of the training and the library versions beside the model."""
    import gym
    import tensorflow as tf

    from scripts.maintainer.train_shipped_model import hyperparameters, versions
    settings = hyperparameters(agent)
    assert settings["GAMMA"] == 0.995 and settings["ALPHA"] == 1e-3 and settings["MEMORY_SIZE"] == 100_000
    assert settings["TAU"] == utils.TAU and settings["E_MIN"] == utils.E_MIN and settings["max_num_timesteps"] == 1000
    found = versions()
    assert found["tensorflow"] == tf.__version__ and found["gym"] == gym.__version__ and "Box2D" in found


def test_what_section_10_says_about_the_q_values_holds_for_the_shipped_network(env):
    """Over 20 greedy landings: in flight the four Q-values stay within a few points and the action taken
    leads by less than one point on most steps; once both legs are down, all four fall to about 85."""
    network = utils.NumpyQNetwork(utils.load_model(str(MODEL)))
    spreads, leads, at_rest = [], [], []
    for seed in range(20):
        state, done = env.reset(seed=seed), False
        while not done:
            values = np.sort(network(state)[0])
            if not (state[6] and state[7]):  # in flight: not both legs on the ground
                spreads.append(values[-1] - values[0])
                leads.append(values[-1] - values[-2])
            state, _, done, _ = env.step(int(np.argmax(network(state)[0])))
        at_rest.append(network(state)[0].max())
    assert np.median(spreads) < 3 and np.quantile(spreads, 0.9) < 5
    assert np.mean(np.array(leads) < 1) > 0.9
    assert sum(80 <= value <= 90 for value in at_rest) >= 18
