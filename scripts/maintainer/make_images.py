"""Make the figures in images/: the notebook's (a frame of the environment, the agent-environment
loop, the Deep Q-Learning algorithm in pseudo-code) and README's frame of the shipped network's
landing with its Q-values.

Usage: python -m scripts.maintainer.make_images
"""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from PIL import Image

import utils  # first, for its setting: frames drawn off-screen, no window, before gym loads pygame

# isort: split
import gym

from scripts import ROOT
from scripts.learner.demo import SEED as DEMO_SEED

IMAGES = ROOT / "images"
Q_VALUES_STEP = 100  # the frame shown: the lander above the pad, its main engine firing

ALGORITHM = [
    r"Initialise the replay memory $D$ with capacity $N$",
    r"Initialise the Q-network $Q$ with random weights $w$",
    r"Initialise the target network $\hat{Q}$ with weights $w^- = w$",
    r"for episode $i = 1$ to $M$ do",
    r"    Get the initial state $S_1$",
    r"    for $t = 1$ to $T$ do",
    r"        Choose the action $A_t$ $\epsilon$-greedily from $Q(S_t, a; w)$",
    r"        Take $A_t$; receive the reward $R_t$ and the next state $S_{t+1}$",
    r"        Store the experience $(S_t, A_t, R_t, S_{t+1})$ in $D$",
    r"        Every $C$ steps, learn:",
    r"            Draw a random mini-batch of experiences $(S_j, A_j, R_j, S_{j+1})$ from $D$",
    r"            $y_j = R_j$ if the episode ends at $j+1$, else "
    r"$R_j + \gamma\,\mathrm{max}_{a'}\,\hat{Q}(S_{j+1}, a'; w^-)$",
    r"            Take a gradient descent step on $(y_j - Q(S_j, A_j; w))^2$ with respect to $w$",
    r"            Soft-update the target network: $w^- \leftarrow \tau w + (1 - \tau) w^-$",
    r"    end",
    r"end",
]


def environment_frame(path):
    """Render the Lunar Lander a few steps after a reset, engines firing."""
    env = gym.make("LunarLander-v2")
    env.reset(seed=2)
    for action in [0] * 30 + [2] * 6:
        env.step(action)
    Image.fromarray(env.render(mode="rgb_array")).save(path, optimize=True)
    env.close()


def q_values_frame(path):
    """A frame of make demo's video with the Q-values: the shipped network's landing from its seed."""
    network = utils.load_model(str(ROOT / "models" / "lunar_lander_model.h5"))
    frames = []

    def keep(frame):
        if len(frames) <= Q_VALUES_STEP:
            frames.append(frame)
    with tempfile.TemporaryDirectory() as folder:
        utils.create_video(str(Path(folder) / "landing.mp4"), gym.make("LunarLander-v2"), network, seed=DEMO_SEED,
                           on_frame=keep, show_q_values=True)
    Image.fromarray(frames[Q_VALUES_STEP]).save(path, optimize=True)


def box(axes, x, y, text, color):
    axes.add_patch(FancyBboxPatch((x - 1.3, y - 0.45), 2.6, 0.9, boxstyle="round,pad=0.1",
                                  facecolor=color, edgecolor="#333333", linewidth=1.5))
    axes.text(x, y, text, ha="center", va="center", fontsize=16, fontweight="bold")


def arrow(axes, start, end, text, text_at, rad):
    axes.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                   mutation_scale=22, linewidth=2, color="#333333"))
    axes.text(*text_at, text, ha="center", va="center", fontsize=14)


def agent_environment_loop(path):
    """The agent sends A_t to the environment, which answers with R_t and S_t+1."""
    figure, axes = plt.subplots(figsize=(8, 4.2), facecolor="white")
    axes.set_xlim(-0.3, 10)
    axes.set_ylim(0, 5.2)
    axes.axis("off")
    box(axes, 5, 4.3, "Agent", "#cfe8ff")
    box(axes, 5, 0.9, "Environment", "#d9f2d0")
    arrow(axes, (6.4, 4.3), (6.4, 0.9), "action\n$A_t$", (8.3, 2.6), -0.6)
    arrow(axes, (3.6, 0.9), (3.6, 4.3), "reward $R_t$\nnext state $S_{t+1}$", (1.2, 2.6), -0.6)
    axes.text(5, 2.6, r"the policy $\pi$ picks $A_t$ from $S_t$", ha="center", va="center", fontsize=12,
              style="italic", color="#555555")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def algorithm(path):
    """The 16 numbered lines of Deep Q-Learning with experience replay, as rendered pseudo-code."""
    figure, axes = plt.subplots(figsize=(11, 6.4), facecolor="white")
    axes.axis("off")
    axes.text(0.0, 1.0, "Deep Q-Learning with Experience Replay", fontsize=15, fontweight="bold",
              transform=axes.transAxes, va="top")
    axes.plot([0, 1], [0.955, 0.955], color="#333333", linewidth=1, transform=axes.transAxes)
    for number, line in enumerate(ALGORITHM, start=1):
        indent = (len(line) - len(line.lstrip(" "))) // 4
        y = 0.92 - (number - 1) * 0.057
        axes.text(0.0, y, f"{number:>2}", fontsize=11, family="monospace", color="#888888",
                  transform=axes.transAxes, va="top")
        axes.text(0.05 + 0.04 * indent, y, line.strip(), fontsize=12, transform=axes.transAxes, va="top")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def main():
    IMAGES.mkdir(exist_ok=True)
    environment_frame(IMAGES / "lunar_lander.png")
    agent_environment_loop(IMAGES / "rl_loop.png")
    algorithm(IMAGES / "deep_q_algorithm.png")
    q_values_frame(IMAGES / "lunar_lander_q_values.png")
    print("Wrote", ", ".join(sorted(p.name for p in IMAGES.glob("*.png"))))


if __name__ == "__main__":
    main()
