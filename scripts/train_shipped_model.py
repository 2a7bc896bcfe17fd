"""Train the Q-network shipped in models/, with the notebook's own code and algorithm.

The notebook's training loop (its answered exercises, agent_learn and hyperparameters), run
past "solved": from the first time the last 100 episodes average 200 points, the greedy
policy is evaluated every --every episodes on the selection seeds, and the best network so
far is kept. At the end, the kept network is evaluated on held-out seeds that played no part
in choosing it, and the files are written:
  models/lunar_lander_model.h5          the network
  models/lunar_lander_model.json        how it was made and how it scored
  models/learning_curve.png             its learning curve

Usage: python scripts/train_shipped_model.py [--seed 0] [--episodes 1500] [--out models]
"""
import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]
import utils  # noqa: E402  (first: it quiets TensorFlow's start-up log)
from notebook_tools import ROOT, agent_namespace  # noqa: E402

import gym  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SELECTION_SEEDS = range(1_000_000, 1_000_050)
HELD_OUT_SEEDS = range(2_000_000, 2_000_100)


def train(seed, episodes, every, out):
    """Train, keep the best network by evaluation on the selection seeds; return the run's record."""
    random.seed(seed)
    agent = agent_namespace(seed=seed)
    q_network, target_q_network = agent["q_network"], agent["target_q_network"]
    agent_learn, experience = agent["agent_learn"], agent["experience"]
    target_q_network.set_weights(q_network.get_weights())
    env = utils.limit_exhaust_particles(gym.make("LunarLander-v2"))
    env.reset(seed=seed)
    evaluation_env = gym.make("LunarLander-v2")
    memory_buffer = utils.ReplayMemory(maxlen=agent["MEMORY_SIZE"])
    policy_network = utils.NumpyQNetwork(q_network)
    epsilon, points, solved_at, best, started = 1.0, [], None, None, time.time()
    model_path = out / "lunar_lander_model.h5"
    for episode in range(1, episodes + 1):
        state, total_points = env.reset(), 0.0
        for t in range(1000):
            action = utils.choose_action(state, epsilon, policy_network)
            next_state, reward, done, _ = env.step(action)
            memory_buffer.append(experience(state, action, reward, next_state, done))
            if utils.check_update_conditions(t, agent["NUM_STEPS_FOR_UPDATE"], memory_buffer):
                agent_learn(utils.get_experiences(memory_buffer), agent["GAMMA"])
                policy_network.weights_changed()
            state = next_state.copy()
            total_points += reward
            if done:
                break
        points.append(total_points)
        epsilon = utils.get_new_eps(epsilon)
        average = float(np.mean(points[-100:]))
        if solved_at is None and average >= 200.0:
            solved_at = episode
            print(f"\nSolved in {episode} episodes ({time.time() - started:.0f} s); selecting from here on.")
        if solved_at is not None and episode % every == 0:
            scores = utils.evaluate(evaluation_env, q_network, SELECTION_SEEDS).iloc[0]
            score = (float(scores["landed at rest"]), float(scores["mean return"]))
            better = best is None or score > best["score"]
            print(f"\rEpisode {episode}: average {average:.1f}; selection seeds: mean {score[1]:.1f}, "
                  f"landed {score[0]:.0%}" + ("  <- kept" if better else ""))
            if better:
                best = {"score": score, "episode": episode}
                utils.save_model(q_network, str(model_path))
        else:
            print(f"\rEpisode {episode} | average of the last 100: {average:.2f}", end="", flush=True)
    return {"seed": seed, "episodes_trained": episodes, "solved_in_episodes": solved_at,
            "kept_episode": best and best["episode"], "seconds": round(time.time() - started),
            "selection": {"seeds": f"{SELECTION_SEEDS.start}..{SELECTION_SEEDS.stop - 1}",
                          "landed_at_rest": best and best["score"][0], "mean_return": best and best["score"][1]},
            "point_history": [round(p, 2) for p in points]}


def plot_curve(record, path):
    """The learning curve of the run, with the solved and kept episodes marked."""
    points = np.array(record["point_history"])
    mean = np.convolve(points, np.ones(100) / 100, mode="valid")
    figure, axes = plt.subplots(figsize=(10, 5), facecolor="white")
    axes.plot(np.arange(1, len(points) + 1), points, color="cyan", linewidth=0.8, label="Points per episode")
    axes.plot(np.arange(100, len(points) + 1), mean, color="magenta", linewidth=2, label="Mean of the last 100")
    for episode, label, style in ((record["solved_in_episodes"], "solved", ":"),
                                  (record["kept_episode"], "network kept", "--")):
        if episode:
            axes.axvline(episode, color="#444444", linestyle=style, label=f"{label} (episode {episode})")
    axes.axhline(200, color="#999999", linewidth=0.8)
    axes.set_xlabel("Episode")
    axes.set_ylabel("Total Points")
    axes.set_title(f"Training of the shipped model (seed {record['seed']})")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=1500, help="episodes to train in all (default 1500)")
    parser.add_argument("--every", type=int, default=10, help="evaluate every N episodes once solved")
    parser.add_argument("--out", type=Path, default=ROOT / "models", help="where the model goes (default models/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    record = train(args.seed, args.episodes, args.every, args.out)
    if record["kept_episode"] is None:
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
