"""Watch the shipped lander, no training: a landing video (mp4), an animated GIF and an evaluation table.

Loads models/lunar_lander_model.h5, plays one greedy landing and writes build/lunar_lander.mp4,
build/lunar_lander.gif and build/lunar_lander_q_values.mp4 (the same landing with the network's
Q-values below it), then evaluates the network on 20 fixed seeds (or the ones you choose).

Usage: python -m scripts.learner.demo [--model PATH] [--build DIR] [--seed N] [--episodes N] [--first-seed N]
"""
import argparse
import itertools
import os
import time
from pathlib import Path

import gym
import pandas as pd

import utils
from lander.video import write_video
from scripts import ROOT

SEED = 7  # the start of the landing shown


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "lunar_lander_model.h5")
    parser.add_argument("--build", type=Path, default=ROOT / "build")
    parser.add_argument("--seed", type=int, default=SEED, help=f"start of the landing shown (default {SEED})")
    parser.add_argument("--episodes", type=int, default=20, help="episodes of the evaluation (default 20)")
    parser.add_argument("--first-seed", type=int, default=10_000, help="seed of the first of them (default 10000)")
    args = parser.parse_args()
    started = time.time()

    q_network = utils.load_model(str(args.model))
    env = gym.make("LunarLander-v2")
    video, gif = args.build / "lunar_lander.mp4", args.build / "lunar_lander.gif"
    gif_frames, frame_numbers = [], itertools.count()

    def keep_for_gif(frame):
        """Every other frame at half the size: a small GIF for a README."""
        if next(frame_numbers) % 2 == 0:
            gif_frames.append(frame[::2, ::2])
    landing = utils.create_video(str(video), env, q_network, seed=args.seed, on_frame=keep_for_gif)
    write_video(str(gif), gif_frames, fps=15)
    annotated = args.build / "lunar_lander_q_values.mp4"
    utils.create_video(str(annotated), env, q_network, seed=args.seed, show_q_values=True)
    print(f"Landing (seed {args.seed}): {landing['total_points']:.1f} points in {landing['steps']} steps, "
          f"{landing['outcome']}.")
    print(f"  video {os.path.relpath(video)}\n  GIF   {os.path.relpath(gif)}\n"
          f"  video with the Q-values {os.path.relpath(annotated)}")

    seeds = range(args.first_seed, args.first_seed + args.episodes)
    table = utils.evaluate(env, q_network, seeds)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"\nEvaluation of {os.path.relpath(args.model)}, greedy, seeds {seeds.start}..{seeds.stop - 1}:")
        print(table.to_string(index=False))
    print(f"\nDone in {time.time() - started:.0f} s.")


if __name__ == "__main__":
    main()
