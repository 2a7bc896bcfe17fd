"""The cost of the Q-values panel: utils.create_video with show_q_values=True against without, in one run.

Both write the same greedy landing of the shipped network (models/lunar_lander_model.h5, make demo's
start) to an mp4, in turn, for --rounds rounds; next to them, the panel alone (QValuePanel.draw on
that landing's frames). Prints milliseconds per frame (the median of the rounds) and the ratio.
The last line printed is one JSON object with the figures.

Usage: python -m scripts.maintainer.benchmarks.video_panel [--rounds K]
"""
import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import utils  # first: it sets TensorFlow's logging before TensorFlow loads

# isort: split
import gym
import numpy as np

from lander.episodes import play_episode
from lander.video import QValuePanel
from scripts import ROOT
from scripts.learner.demo import SEED


def time_video(env, network, path, show_q_values):
    """Seconds per frame of one create_video call, and its frame count."""
    started = time.perf_counter()
    episode = utils.create_video(str(path), env, network, seed=SEED, show_q_values=show_q_values)
    return (time.perf_counter() - started) / (episode["steps"] + 1), episode["steps"] + 1


def time_panel(env, network):
    """Seconds per frame of QValuePanel.draw alone, on the landing's frames (Q-values rising by 0.1 a frame)."""
    frames = []
    play_episode(env, network, seed=SEED, on_frame=frames.append)
    panel, values = QValuePanel(), np.array([90.0, 92.5, 91.0, 93.5])
    started = time.perf_counter()
    for step, frame in enumerate(frames):
        panel.draw(frame, step, values + 0.1 * step, step % 4, 1.0, 10.0)
    return (time.perf_counter() - started) / len(frames)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each (default 5)")
    arguments = parser.parse_args(argv)
    network = utils.load_model(str(ROOT / "models" / "lunar_lander_model.h5"))
    env = gym.make("LunarLander-v2")
    plain, annotated, panel = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(arguments.rounds):
            seconds, frames = time_video(env, network, Path(folder) / "plain.mp4", False)
            plain.append(seconds)
            annotated.append(time_video(env, network, Path(folder) / "annotated.mp4", True)[0])
            panel.append(time_panel(env, network))
    figures = {"frames": frames, "rounds": arguments.rounds,
               "plain_ms_per_frame": round(1000 * statistics.median(plain), 2),
               "annotated_ms_per_frame": round(1000 * statistics.median(annotated), 2),
               "panel_ms_per_frame": round(1000 * statistics.median(panel), 2),
               "python": platform.python_version(), "machine": platform.machine()}
    figures["annotated_over_plain"] = round(figures["annotated_ms_per_frame"] / figures["plain_ms_per_frame"], 2)
    print(f"A landing of {frames} frames, median of {arguments.rounds} rounds:")
    print(f"  create_video                      {figures['plain_ms_per_frame']:6.2f} ms a frame")
    print(f"  create_video, show_q_values=True  {figures['annotated_ms_per_frame']:6.2f} ms a frame "
          f"({figures['annotated_over_plain']:.2f} times)")
    print(f"  the panel alone (QValuePanel.draw) {figures['panel_ms_per_frame']:5.2f} ms a frame")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
