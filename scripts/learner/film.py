"""The film of learning: the lander flown by the Q-network as it learned, from untrained to solved.

Trains with the notebook's own training (its cells and the hints' answers, through
scripts.notebook_tools.train, as scripts.experimenter.compare does) and keeps the Q-network's weights before
the first episode, every --every episodes, and at the last episode: the one where the environment
is solved (training stops there, as in the notebook) or the --episodes-th. From each of these
snapshots it flies one greedy episode, all from the same start (the --seed), and writes the
flights in order: an mp4 (--out, default build/film/film.mp4) and beside it a GIF of at most
5 MB, for README. Each flight opens on a title card and keeps a caption: its episode, the rolling
mean of the points then (over the last 100 episodes, as the training cell prints it) and that
episode's points.

Memory stays flat: the snapshots are weights (about 20 KB each), and the frames go to the mp4 as
they are drawn; the GIF is made from the mp4 by ffmpeg, in two streamed passes. The training is
saved beside the film: the same command again reuses it, so an interruption while the film is
being written loses no training.

Usage: python -m scripts.learner.film [--seed S] [--every N] [--episodes E] [--out PATH]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import utils  # first: it sets TensorFlow's logging before TensorFlow loads

# isort: split
import gym
import imageio_ffmpeg
from PIL import Image, ImageDraw, ImageFont

from lander.environment import MAX_EPISODE_STEPS
from lander.episodes import play_episode
from lander.video import mp4_writer
from scripts import ROOT
from scripts.notebook_tools import agent_namespace, train

DEFAULT_OUT = ROOT / "build" / "film" / "film.mp4"
FPS = 30
CARD_FRAMES = 45  # each flight's title card stays 1.5 s
CAPTION_HEIGHT = 48
SCENE_SIZE = (400, 600)  # (height, width) of a LunarLander-v2 frame
BACKGROUND, TEXT, DIM, SOLVED = (30, 30, 40), (235, 235, 235), (150, 150, 160), (120, 220, 120)
GIF_LIMIT = 5_000_000  # bytes: small enough for a README
# (width in pixels, frames a second), largest first: the GIF takes the first that fits GIF_LIMIT.
GIF_SETTINGS = ((600, 10), (450, 10), (400, 8), (300, 8), (240, 6))


# ----------------------------------------------------------------------------- training

def snapshot(episode, q_network, points):
    """The Q-network's weights after episode (0: before training), with the points up to then."""
    window = points[-utils.SOLVED_WINDOW:]
    return {"episode": episode, "weights": [w.copy() for w in q_network.get_weights()],
            "mean": float(np.mean(window)) if window else None, "window": len(window),
            "points": points[-1] if points else None, "solved": utils.is_solved(points)}


def train_with_snapshots(seed, every, episodes):
    """The notebook's training from seed, keeping snapshots; returns (snapshots, points, solved_at, seconds).

    Snapshots: before the first episode, after every `every`-th, and after the last one (where it
    was solved, or the episodes-th).
    """
    snapshots, network = [], []

    def keep_untrained(agent):
        network.append(agent["q_network"])
        snapshots.append(snapshot(0, agent["q_network"], []))

    def keep_some(episode, points):
        if episode % every == 0 or episode == episodes or utils.is_solved(points):
            snapshots.append(snapshot(episode, network[0], points))
            print(f"Episode {episode}: {caption_lines(snapshots[-1])[1]}", flush=True)
    points, solved_at, seconds = train(seed, max_episodes=episodes, on_episode=keep_some, on_start=keep_untrained)
    return snapshots, points, solved_at, seconds


def save_training(path, settings, snapshots, points, solved_at, seconds):
    """Write the snapshots and points to path (.npz) through a temporary file: all of it or nothing."""
    arrays = {f"snapshot{i}_weights{j}": w for i, s in enumerate(snapshots) for j, w in enumerate(s["weights"])}
    record = {"settings": settings, "points": points, "solved_at": solved_at, "seconds": seconds,
              "weights_per_snapshot": len(snapshots[0]["weights"]),
              "snapshots": [{k: v for k, v in s.items() if k != "weights"} for s in snapshots]}
    temporary = path.with_name(f".{path.name}.tmp.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(temporary, record=np.array(json.dumps(record)), **arrays)
    os.replace(temporary, path)


def load_training(path, settings):
    """(snapshots, points, solved_at, seconds) saved at path with the same settings, or None."""
    try:
        with np.load(path) as saved:
            record = json.loads(str(saved["record"]))
            if record["settings"] != settings:
                return None
            count = record["weights_per_snapshot"]
            snapshots = [{**s, "weights": [saved[f"snapshot{i}_weights{j}"] for j in range(count)]}
                         for i, s in enumerate(record["snapshots"])]
    except (OSError, ValueError, KeyError):
        return None
    return snapshots, record["points"], record["solved_at"], record["seconds"]


# ----------------------------------------------------------------------------- the film

def caption_lines(snap):
    """What a flight's title card and caption say: its episode, then the training's points then."""
    if snap["episode"] == 0:
        return ["Episode 0: untrained", "the network's first weights, at random"]
    title = f"Episode {snap['episode']}" + (": solved" if snap["solved"] else "")
    episodes = "the first episode" if snap["window"] == 1 else f"the last {snap['window']} episodes"
    return [title, f"in training, mean of {episodes}: {snap['mean']:.1f}; this episode: {snap['points']:.1f}"]


def _font(size):
    return ImageFont.load_default(size=size)


def title_card(lines, size, solved):
    """A still frame of size (height, width) with the caption's lines in large type, centred."""
    height, width = size
    card = Image.new("RGB", (width, height), BACKGROUND)
    pen = ImageDraw.Draw(card)
    pen.text((width / 2, height / 2 - 24), lines[0], font=_font(40), fill=SOLVED if solved else TEXT, anchor="mm")
    pen.text((width / 2, height / 2 + 24), lines[1], font=_font(16), fill=DIM, anchor="mm")
    return np.asarray(card)


def caption_strip(lines, width, seed, solved):
    """The band above each frame of a flight: its episode and the training's points then."""
    strip = Image.new("RGB", (width, CAPTION_HEIGHT), BACKGROUND)
    pen = ImageDraw.Draw(strip)
    pen.text((12, 4), lines[0], font=_font(18), fill=SOLVED if solved else TEXT)
    pen.text((12, 26), lines[1], font=_font(15), fill=DIM)
    pen.text((width - 12, 6), f"this flight: greedy, start {seed}", font=_font(14), fill=DIM, anchor="ra")
    return np.asarray(strip)


def write_film(snapshots, q_network, path, seed, max_steps=MAX_EPISODE_STEPS):
    """Fly one greedy episode from each snapshot (from seed's start) into the mp4 at path, in order;
    return the flights' summaries (see play_episode)."""
    env = gym.make("LunarLander-v2")
    policy_network = utils.NumpyQNetwork(q_network)
    height, width = SCENE_SIZE
    flights = []
    try:
        with mp4_writer(str(path), FPS) as writer:
            for snap in snapshots:
                q_network.set_weights(snap["weights"])
                policy_network.weights_changed()
                lines = caption_lines(snap)
                card = title_card(lines, (CAPTION_HEIGHT + height, width), snap["solved"])
                for _ in range(CARD_FRAMES):
                    writer.append_data(card)
                strip = caption_strip(lines, width, seed, snap["solved"])
                flights.append(play_episode(
                    env, policy_network, seed=seed, max_steps=max_steps,
                    on_frame=lambda frame, strip=strip: writer.append_data(np.concatenate((strip, frame)))))
    finally:
        env.close()
    return flights


class GifTooLong(RuntimeError):
    """No setting of GIF_SETTINGS makes a GIF under GIF_LIMIT."""


def write_gif(mp4, gif):
    """Make gif from the mp4 with ffmpeg (a palette pass, then the GIF): the largest setting of
    GIF_SETTINGS under GIF_LIMIT; return (width, fps). Both passes stream the video."""
    ffmpeg, palette = imageio_ffmpeg.get_ffmpeg_exe(), gif.with_name(f".{gif.stem}.palette.png")
    temporary = gif.with_name(f".{gif.name}.tmp.gif")
    try:
        for width, fps in GIF_SETTINGS:
            scale = f"fps={fps},scale={width}:-2:flags=lanczos"
            subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(mp4), "-vf",
                            f"{scale},palettegen=stats_mode=diff", str(palette)], check=True)
            subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(mp4), "-i", str(palette), "-lavfi",
                            f"{scale}[x];[x][1:v]paletteuse=diff_mode=rectangle", str(temporary)], check=True)
            if temporary.stat().st_size <= GIF_LIMIT:
                os.replace(temporary, gif)
                return width, fps
        raise GifTooLong(f"it is too long for a GIF under {GIF_LIMIT / 1e6:.0f} MB even at {width} pixels "
                         f"wide and {fps} frames a second: keep fewer snapshots (a larger --every)")
    finally:
        for leftover in (palette, temporary):
            leftover.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- the command

def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m scripts.learner.film", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=utils.SEED,
                        help=f"seed of the training and start of every flight (default {utils.SEED})")
    parser.add_argument("--every", type=int, default=100, help="keep the weights every N episodes (default 100)")
    parser.add_argument("--episodes", type=int, default=2000,
                        help="train at most this many episodes, stopping when solved (default 2000)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the film, .mp4 (default build/film/film.mp4)")
    arguments = parser.parse_args(argv)
    if arguments.seed < 0 or arguments.every < 1 or arguments.episodes < 1:
        parser.error("--seed must be at least 0, and --every and --episodes at least 1")
    if arguments.out.suffix.lower() != ".mp4":
        parser.error(f"--out must be a path ending in .mp4, got {str(arguments.out)!r}")
    return arguments


def megabytes(path):
    return f"{path.stat().st_size / 1e6:.2f} MB"


def main(argv=None):
    arguments = parse_arguments(argv)
    out, gif = arguments.out, arguments.out.with_suffix(".gif")
    settings = {"seed": arguments.seed, "every": arguments.every, "episodes": arguments.episodes}
    saved = out.with_name(f"{out.stem}-training-seed{arguments.seed}-every{arguments.every}"
                          f"-episodes{arguments.episodes}.npz")
    training = load_training(saved, settings)
    try:
        if training is None:
            print(f"Training from seed {arguments.seed}, at most {arguments.episodes} episodes, "
                  f"keeping the weights every {arguments.every}...", flush=True)
            training = train_with_snapshots(arguments.seed, arguments.every, arguments.episodes)
            save_training(saved, settings, *training)
        else:
            print(f"Reusing the training saved in {os.path.relpath(saved)} (delete it to train again).")
        snapshots, points, solved_at, seconds = training
        outcome = f"Solved in {solved_at} episodes" if solved_at else f"Not solved in {len(points)} episodes"
        print(f"{outcome}; training took {seconds:.0f} s. Flying {len(snapshots)} snapshots...", flush=True)
        started = time.perf_counter()
        flights = write_film(snapshots, agent_namespace(seed=arguments.seed)["q_network"], out, arguments.seed)
        width, fps = write_gif(out, gif)
    except GifTooLong as error:
        print(f"The film is in {os.path.relpath(out)}, but {error}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        kept = f"the training is saved in {os.path.relpath(saved)}" if saved.exists() else "no training was kept"
        print(f"\nInterrupted: {kept}; the same command again goes on from there.", file=sys.stderr)
        return 130
    for snap, flight in zip(snapshots, flights, strict=True):
        print(f"  episode {snap['episode']:>4}: flight of {flight['steps']} steps, {flight['total_points']:.1f} "
              f"points, {flight['outcome']}")
    print(f"Film: {os.path.relpath(out)} ({megabytes(out)}); GIF: {os.path.relpath(gif)} ({megabytes(gif)}, "
          f"{width} pixels wide, {fps} frames a second); written in {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
