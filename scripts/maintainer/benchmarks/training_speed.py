"""Training speed: the course's loop against the notebook's loop, in the same run.

Both loops run the same algorithm (the notebook's own networks, compute_loss and agent_learn)
from the same seed for the same episodes, epsilon starting at 1 and decaying after each
episode as in training:
- the course loop calls the Keras Q-network eagerly on every step, picks the action with
  utils.get_action, keeps experiences in a deque and draws mini-batches object by object;
- the notebook loop is the notebook's training cell itself (its episode, taken from the cell by
  scripts.notebook_tools): utils.ReplayMemory, utils.NumpyQNetwork, utils.choose_action and
  utils.limit_exhaust_particles.
The two loops run in turn for --rounds rounds, next to the notebook loop's floor (its
environment and learning steps alone). It also measures the greedy phase, the @tf.function
decorator's effect and the parts, and with --solve trains until solved for 3 seeds.

The last line printed is one JSON object with the figures.

Usage: python -m scripts.maintainer.benchmarks.training_speed [--steps N] [--rounds K] [--solve] [--seeds 0 1 2]
"""
import argparse
import json
import platform
import random
import time
from collections import deque

import numpy as np

import utils  # first: it sets TensorFlow's logging before TensorFlow loads

# isort: split
import gym
import tensorflow as tf

from lander.environment import MAX_EPISODE_STEPS
from scripts.notebook_tools import agent_namespace, train, training_episode_function

DEFAULT_STEPS = 6000  # environment steps of each loop


def course_get_experiences(memory_buffer):
    """The course's sampler: 64 records drawn one by one, each column gathered in Python."""
    experiences = random.sample(memory_buffer, k=utils.MINIBATCH_SIZE)
    columns = [np.array([getattr(e, field) for e in experiences if e is not None])
               for field in ("state", "action", "reward", "next_state")]
    dones = np.array([e.done for e in experiences if e is not None]).astype(np.uint8)
    return tuple(tf.convert_to_tensor(column, dtype=tf.float32) for column in (*columns, dones))


def make_env(seed):
    """A LunarLander-v2 environment seeded with seed."""
    env = gym.make("LunarLander-v2")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def setup(seed, eager):
    """The notebook's agent from a seed, its target network equal to its Q-network; eager: no @tf.function."""
    random.seed(seed)
    agent = agent_namespace(seed=seed)
    agent["target_q_network"].set_weights(agent["q_network"].get_weights())
    warm_up(agent["agent_learn"], agent["experience"], agent["GAMMA"])
    if eager:
        agent["agent_learn"] = agent["agent_learn"].python_function
        agent["episode"] = training_episode_function(agent)
    return agent


def course_episode(env, epsilon, memory_buffer, agent):
    """One episode of the course's loop: an eager Keras call for every action, a deque, its sampler."""
    q_network, experience = agent["q_network"], agent["experience"]
    state, total_points = env.reset(), 0.0
    for t in range(MAX_EPISODE_STEPS):
        q_values = q_network(np.expand_dims(state, axis=0))
        action = utils.get_action(q_values, epsilon)
        next_state, reward, done, _ = env.step(action)
        memory_buffer.append(experience(state, action, reward, next_state, done))
        if utils.check_update_conditions(t, agent["NUM_STEPS_FOR_UPDATE"], memory_buffer):
            agent["agent_learn"](course_get_experiences(memory_buffer), agent["GAMMA"])
        state = next_state.copy()
        total_points += reward
        if done:
            break
    return total_points


def run_loop(kind, seed, steps=None, episodes=None, epsilon=1.0, decay=True, eager=False):
    """Train with the course's or the notebook's loop for whole episodes, until `steps` steps or `episodes` episodes.

    The notebook loop is the training cell's own episode (scripts.notebook_tools); epsilon starts
    at `epsilon` and, with decay, shrinks after each episode as in training. eager runs
    agent_learn without its @tf.function (the decorator's effect).
    Returns a dict: steps_per_s, steps, points (of each episode), and the agent and memory_buffer.
    """
    agent = setup(seed, eager)
    env = make_env(seed)
    if kind == "course":
        memory_buffer = deque(maxlen=agent["MEMORY_SIZE"])

        def play(epsilon):
            return course_episode(env, epsilon, memory_buffer, agent)
    else:
        memory_buffer = utils.ReplayMemory(maxlen=agent["MEMORY_SIZE"])
        policy_network = utils.NumpyQNetwork(agent["q_network"])
        utils.limit_exhaust_particles(env)

        def play(epsilon):
            return agent["episode"](env, epsilon, memory_buffer, policy_network)
    points, started = [], time.perf_counter()
    while (steps is None or len(memory_buffer) < steps) and (episodes is None or len(points) < episodes):
        points.append(play(epsilon))
        if decay:
            epsilon = utils.get_new_eps(epsilon)
    elapsed = time.perf_counter() - started
    return {"steps_per_s": len(memory_buffer) / elapsed, "steps": len(memory_buffer), "points": points,
            "agent": agent, "memory_buffer": memory_buffer}


def episodes_of(run):
    """The actions of a notebook run, episode by episode, and the steps after which it learned (line 10's rule)."""
    memory_buffer, update_every = run["memory_buffer"], run["agent"]["NUM_STEPS_FOR_UPDATE"]
    count = len(memory_buffer)
    actions, ends = memory_buffer.actions[:count].astype(int), np.flatnonzero(memory_buffer.done_vals[:count]) + 1
    episodes = [actions[start:end].tolist() for start, end in zip(np.r_[0, ends[:-1]], ends, strict=True)]
    learning_after, step = [], 0
    for episode in episodes:
        for t in range(len(episode)):
            step += 1
            if (t + 1) % update_every == 0 and step > utils.MINIBATCH_SIZE:
                learning_after.append(step)
    return episodes, learning_after


def replay(run, seed, learn_after=()):
    """Replay a notebook run's actions on a fresh environment, learning after the given steps; return seconds."""
    env = utils.limit_exhaust_particles(make_env(seed))
    agent, memory_buffer = run["agent"], run["memory_buffer"]
    episodes, _ = episodes_of(run)
    learn_after = set(learn_after)
    started, step = time.perf_counter(), 0
    for episode in episodes:
        env.reset()
        for action in episode:
            env.step(action)
            step += 1
            if step in learn_after:
                agent["agent_learn"](utils.get_experiences(memory_buffer), agent["GAMMA"])
    return time.perf_counter() - started


def floor_speed(run, seed):
    """Steps per second of the loop's unavoidable work: its environment steps and its learning steps.

    Replays the actions a notebook-loop run took on the same environment (so the same states and
    episodes), then times as many mini-batch draws and learning steps as it took, one after
    another; Python's loop around them, the action choice and the replay memory's bookkeeping are
    left out.
    """
    env_seconds = replay(run, seed)
    agent, memory_buffer = run["agent"], run["memory_buffer"]
    started = time.perf_counter()
    for _ in episodes_of(run)[1]:
        agent["agent_learn"](utils.get_experiences(memory_buffer), agent["GAMMA"])
    return run["steps"] / (env_seconds + time.perf_counter() - started)


def interleaved_floor_speed(run, seed):
    """Like floor_speed, but each learning step at its place among the environment steps, as in the loop.

    The difference between the two floors is what interleaving costs: a learning step between
    environment steps runs slower than one right after another (caches, TensorFlow's threads).
    """
    return run["steps"] / replay(run, seed, learn_after=episodes_of(run)[1])


def warm_up(agent_learn, experience, gamma):
    """Trace agent_learn once outside the timed region (both loops pay the same one-off cost).

    Both samplers give float32 tensors of the same shapes, so this one trace serves either loop.
    """
    records = deque(experience(np.zeros(8, np.float32), 0, 0.0, np.zeros(8, np.float32), False)
                    for _ in range(utils.MINIBATCH_SIZE))
    state = random.getstate()
    agent_learn(utils.get_experiences(records), gamma)
    random.setstate(state)


def time_call(function, repeats):
    """Median milliseconds per call of function() over `repeats` calls, in 5 rounds."""
    function()
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeats):
            function()
        rounds.append((time.perf_counter() - started) / repeats * 1e3)
    return float(np.median(rounds))


def time_parts(seed, scale=1.0):
    """Milliseconds per call of each part of a training step, for both loops; scale (0 to 1) makes
    fewer calls (a tiny run: --steps below the default)."""
    agent = agent_namespace(seed=seed)
    q_network, experience = agent["q_network"], agent["experience"]
    env = make_env(seed)
    rng = np.random.default_rng(seed)
    deque_memory, replay_memory = deque(maxlen=100_000), utils.ReplayMemory(maxlen=100_000)
    for _ in range(20_000):
        record = experience(rng.normal(size=8).astype(np.float32), int(rng.integers(4)), float(rng.normal()),
                            rng.normal(size=8).astype(np.float32), bool(rng.random() < 0.01))
        deque_memory.append(record)
        replay_memory.append(record)
    state = env.reset()
    policy_network = utils.NumpyQNetwork(q_network)

    limited_env = utils.limit_exhaust_particles(make_env(seed))

    def env_step(environment=env):
        # Mostly the main engine, as a learning agent fires it: exhaust particles build up.
        action = 2 if rng.random() < 0.6 else int(rng.integers(4))
        if environment.step(action)[2]:
            environment.reset()

    batch = utils.get_experiences(replay_memory)

    def calls(repeats):
        return max(10, round(repeats * scale))

    return {
        "env step, course": time_call(env_step, calls(500)),
        "env step, notebook (limit_exhaust_particles)": time_call(lambda: env_step(limited_env), calls(500)),
        "action, course (eager Keras call + get_action)":
            time_call(lambda: utils.get_action(q_network(np.expand_dims(state, 0)), 0.0), calls(200)),
        "action, notebook (NumpyQNetwork + choose_action, greedy)":
            time_call(lambda: utils.choose_action(state, 0.0, policy_network), calls(2000)),
        "weights reload after a learning step (notebook)":
            time_call(lambda: (policy_network.weights_changed(), policy_network(state)), calls(500)),
        "sampling, course (deque)": time_call(lambda: course_get_experiences(deque_memory), calls(500)),
        "sampling, notebook (ReplayMemory)": time_call(lambda: utils.get_experiences(replay_memory), calls(500)),
        "learning step (agent_learn)": time_call(lambda: agent["agent_learn"](batch, agent["GAMMA"]), calls(300)),
    }


def solve(seed, max_episodes=2000):
    """Train with the notebook's loop until solved (utils.is_solved); return (episodes, seconds)."""
    _, solved_at, seconds = train(seed, max_episodes=max_episodes)
    return solved_at, seconds


def spread(values):
    """Median, minimum and maximum of values."""
    return float(np.median(values)), float(min(values)), float(max(values))


def interleaved_rounds(steps, seed, rounds):
    """Course loop, notebook loop and the notebook loop's floor, in turn, `rounds` times (noise hits all)."""
    results = []
    for number in range(1, rounds + 1):
        notebook = run_loop("notebook", seed, steps=steps)
        course = run_loop("course", seed, episodes=len(notebook["points"]))
        floor = floor_speed(notebook, seed)
        results.append({"course": course["steps_per_s"], "notebook": notebook["steps_per_s"], "floor": floor,
                        "interleaved_floor": interleaved_floor_speed(notebook, seed),
                        "episodes": len(notebook["points"]),
                        "same_trajectory": course["points"] == notebook["points"]})
        print(f"  round {number}: course {course['steps_per_s']:6.0f}, notebook {notebook['steps_per_s']:6.0f}, "
              f"floor {floor:6.0f} steps/s; speedup {notebook['steps_per_s'] / course['steps_per_s']:5.2f}x, "
              f"notebook at {notebook['steps_per_s'] / floor:.0%} of its floor", flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"environment steps per loop (default {DEFAULT_STEPS}; fewer: fewer calls of each part)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the speed runs (default 0)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the two loops (default 5)")
    parser.add_argument("--solve", action="store_true", help="also train until solved with the notebook's loop")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of --solve")
    args = parser.parse_args()
    if args.steps < 100 or args.rounds < 1:
        parser.error("--steps must be at least 100 and --rounds at least 1")

    print(f"{time.strftime('%Y-%m-%d')} | {platform.processor() or platform.machine()} | "
          f"Python {platform.python_version()} | TensorFlow {tf.__version__}")
    print(f"\nLoops, {args.steps} environment steps each, seed {args.seed}, {args.rounds} interleaved rounds:")
    rounds = interleaved_rounds(args.steps, args.seed, args.rounds)
    course_speed = float(np.median([r["course"] for r in rounds]))
    notebook_speed = float(np.median([r["notebook"] for r in rounds]))
    floor = float(np.median([r["floor"] for r in rounds]))
    speedup_median, speedup_min, speedup_max = spread([r["notebook"] / r["course"] for r in rounds])
    vs_floor = float(np.median([r["notebook"] / r["floor"] for r in rounds]))
    interleaved = float(np.median([r["interleaved_floor"] for r in rounds]))
    same = all(r["same_trajectory"] for r in rounds)
    print(f"  median: course {course_speed:.0f}, notebook {notebook_speed:.0f}, floor {floor:.0f} steps/s")
    print(f"  speedup median {speedup_median:.2f}x (min {speedup_min:.2f}x, max {speedup_max:.2f}x); "
          f"notebook loop at {vs_floor:.0%} of its floor (median of the rounds)")
    print(f"  interleaved floor (each learning step at its place among the env steps) {interleaved:.0f} steps/s: "
          f"notebook loop at {notebook_speed / interleaved:.0%} of it")
    print(f"  the two loops played the same episodes, point for point: {same}")

    print(f"\nGreedy phase (epsilon {utils.E_MIN} throughout, a Q-value computed every step), same steps:")
    greedy = run_loop("notebook", args.seed, steps=args.steps, epsilon=utils.E_MIN, decay=False)
    greedy_notebook = greedy["steps_per_s"]
    greedy_course = run_loop("course", args.seed, episodes=len(greedy["points"]), epsilon=utils.E_MIN,
                             decay=False)["steps_per_s"]
    print(f"  {'course loop':40} {greedy_course:8.0f} steps/s")
    print(f"  {'notebook loop':40} {greedy_notebook:8.0f} steps/s")
    print(f"  {'speedup':40} {greedy_notebook / greedy_course:8.2f}x")

    print("\nThe @tf.function decorator of agent_learn: each loop with and without it, same steps:")
    slowdown = {}
    for kind in ("course", "notebook"):
        episodes = rounds[0]["episodes"]  # the episodes the rounds played
        compiled = run_loop(kind, args.seed, episodes=episodes)["steps_per_s"]
        eager = run_loop(kind, args.seed, episodes=episodes, eager=True)["steps_per_s"]
        slowdown[kind] = compiled / eager
        print(f"  {kind + ' loop':16} {compiled:6.0f} steps/s with it, {eager:6.0f} without: "
              f"training takes {slowdown[kind]:.1f}x as long without it")

    print("\nParts, milliseconds per call (median of 5 rounds):")
    parts = time_parts(args.seed, scale=min(1.0, args.steps / DEFAULT_STEPS))
    for name, milliseconds in parts.items():
        print(f"  {name:58} {milliseconds:7.3f} ms")

    result = {"steps": args.steps, "rounds": args.rounds, "course_loop_steps_per_s": round(course_speed, 1),
              "notebook_loop_steps_per_s": round(notebook_speed, 1), "speedup": round(speedup_median, 2),
              "speedup_median": round(speedup_median, 2), "speedup_min": round(speedup_min, 2),
              "speedup_max": round(speedup_max, 2), "floor_steps_per_s": round(floor, 1),
              "notebook_vs_floor": round(vs_floor, 3), "interleaved_floor_steps_per_s": round(interleaved, 1),
              "same_trajectory": same,
              "greedy_course_loop_steps_per_s": round(greedy_course, 1),
              "greedy_notebook_loop_steps_per_s": round(greedy_notebook, 1),
              "greedy_speedup": round(greedy_notebook / greedy_course, 2),
              "no_tf_function_slowdown": {kind: round(value, 2) for kind, value in slowdown.items()},
              "parts_ms": {name: round(value, 4) for name, value in parts.items()}}
    if args.solve:
        print("\nSolving with the notebook's loop:")
        runs = []
        for seed in args.seeds:
            episodes, seconds = solve(seed)
            runs.append({"seed": seed, "episodes": episodes, "seconds": round(seconds, 1)})
            print(f"  seed {seed}: " + (f"solved in {episodes} episodes" if episodes else "not solved in 2000 episodes")
                  + f", {seconds:.0f} s ({seconds / 60:.1f} min)")
        result["solve"] = runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
