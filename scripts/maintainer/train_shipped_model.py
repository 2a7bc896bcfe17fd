"""Train the Q-network shipped in models/, with the notebook's own code and algorithm.

The notebook's training loop (its answered exercises, agent_learn and hyperparameters), run
past "solved": from the first time the last 100 episodes average 200 points, the greedy
policy is evaluated every --every episodes on 50 selection seeds, and the best networks so
far are kept as candidates. At the end, the candidates are evaluated again on 200 more
selection seeds and the best is kept; it is then evaluated on 100 held-out seeds that played
no part in choosing it, and the files are written:
  models/lunar_lander_model.h5          the network
  models/lunar_lander_model.json        how it was made and how it scored
  models/learning_curve.png             its learning curve

Usage: python -m scripts.maintainer.train_shipped_model [--seed 0] [--episodes 1500] [--out models]
"""
import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

import utils  # first: it sets TensorFlow's logging before TensorFlow loads

# isort: split
import gym

from scripts import ROOT
from scripts.notebook_tools import new_training

SELECTION_SEEDS = range(1_000_000, 1_000_050)
FINAL_SELECTION_SEEDS = range(1_500_000, 1_500_200)
HELD_OUT_SEEDS = range(2_000_000, 2_000_100)
CANDIDATES = 8


def score(table):
    """Rank evaluations: the share landed at rest first, then the mean return."""
    row = table.iloc[0]
    return float(row["landed at rest"]), float(row["mean return"])


def train(seed, episodes, every, out):
    """Train, keep the best network by evaluation on the selection seeds; return the run's record."""
    agent, env, memory_buffer, policy_network = new_training(seed)
    q_network = agent["q_network"]
    evaluation_env = gym.make("LunarLander-v2")
    epsilon, points, solved_at, candidates, started = 1.0, [], None, [], time.time()
    for episode in range(1, episodes + 1):
        points.append(agent["episode"](env, epsilon, memory_buffer, policy_network))
        epsilon = utils.get_new_eps(epsilon)
        average = float(np.mean(points[-utils.SOLVED_WINDOW:]))
        if solved_at is None and utils.is_solved(points):
            solved_at = episode
            print(f"\nSolved in {episode} episodes ({time.time() - started:.0f} s); selecting from here on.")
        if solved_at is not None and episode % every == 0:
            found = score(utils.evaluate(evaluation_env, q_network, SELECTION_SEEDS))
            candidates = sorted(candidates + [(found, episode, q_network.get_weights())],
                                key=lambda c: c[0], reverse=True)[:CANDIDATES]
            print(f"\rEpisode {episode}: average {average:.1f}; selection seeds: mean {found[1]:.1f}, "
                  f"landed {found[0]:.0%}")
        else:
            print(f"\rEpisode {episode} | average of the last 100: {average:.2f}", end="", flush=True)
    if not candidates:
        return None
    print(f"\nFinal selection among episodes {sorted(c[1] for c in candidates)}:")
    finals = []
    for _, episode, weights in candidates:
        q_network.set_weights(weights)
        found = score(utils.evaluate(evaluation_env, q_network, FINAL_SELECTION_SEEDS))
        print(f"  episode {episode}: landed {found[0]:.1%}, mean {found[1]:.1f}")
        finals.append((found, episode, weights))
    best_score, best_episode, best_weights = max(finals, key=lambda c: c[0])
    q_network.set_weights(best_weights)
    utils.save_model(q_network, str(out / "lunar_lander_model.h5"))
    return {"seed": seed, "episodes_trained": episodes, "solved_in_episodes": solved_at,
            "hyperparameters": hyperparameters(agent), "versions": versions(),
            "kept_episode": best_episode, "seconds": round(time.time() - started),
            "selection": {"seeds": f"{SELECTION_SEEDS.start}..{SELECTION_SEEDS.stop - 1}, then "
                                   f"{FINAL_SELECTION_SEEDS.start}..{FINAL_SELECTION_SEEDS.stop - 1}",
                          "landed_at_rest": best_score[0], "mean_return": best_score[1]},
            "point_history": [round(p, 2) for p in points]}


def hyperparameters(agent):
    """Every setting that shaped the training: the notebook's hyperparameters and utils' constants."""
    return {**{name: agent[name] for name in ("MEMORY_SIZE", "GAMMA", "ALPHA", "NUM_STEPS_FOR_UPDATE")},
            **{name: getattr(utils, name) for name in ("MINIBATCH_SIZE", "TAU", "E_DECAY", "E_MIN", "SEED")},
            "epsilon_start": agent["epsilon"], "max_num_timesteps": agent["max_num_timesteps"]}


def versions():
    """The versions of Python and of the libraries that trained the network."""
    import Box2D
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "gym": gym.__version__, "numpy": np.__version__, "Box2D": Box2D.__version__}


def plot_curve(record, path):
    """The learning curve of the run (utils.plot_history), with the solved and kept episodes marked."""
    figure = utils.plot_history(record["point_history"], window_size=utils.SOLVED_WINDOW)
    axes = figure.axes[0]
    for episode, label, style in ((record["solved_in_episodes"], "solved", ":"),
                                  (record["kept_episode"], "network kept", "--")):
        if episode:
            axes.axvline(episode, color="#444444", linestyle=style, label=f"{label} (episode {episode})")
    axes.axhline(utils.SOLVED_POINTS, color="#999999", linewidth=0.8)
    axes.set_title(f"Training of the shipped model (seed {record['seed']})")
    axes.legend(loc="lower right")
    figure.savefig(path, dpi=80, bbox_inches="tight")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=1500, help="episodes to train in all (default 1500)")
    parser.add_argument("--every", type=int, default=10, help="evaluate every N episodes once solved")
    parser.add_argument("--out", type=Path, default=ROOT / "models", help="where the model goes (default models/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    record = train(args.seed, args.episodes, args.every, args.out)
    if record is None:
        sys.exit("Not solved: no model written.")
    model = utils.load_model(str(args.out / "lunar_lander_model.h5"))
    held_out = utils.evaluate(gym.make("LunarLander-v2"), model, HELD_OUT_SEEDS).iloc[0]
    record["held_out"] = {"seeds": f"{HELD_OUT_SEEDS.start}..{HELD_OUT_SEEDS.stop - 1}",
                          **{key: float(value) for key, value in held_out.items()}}
    (args.out / "lunar_lander_model.json").write_text(json.dumps(record, indent=1) + "\n")
    plot_curve(record, args.out / "learning_curve.png")
    print("\nHeld-out evaluation:\n" + held_out.to_string())


if __name__ == "__main__":
    main()
