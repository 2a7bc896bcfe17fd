"""Read the assignment notebook: its tagged cells, and its exercises answered from its own hints."""
import ast
import copy
import re
import shutil
import textwrap
from pathlib import Path

import nbformat

from scripts import ROOT

NOTEBOOK = ROOT / "C3_W3_A1_Assignment.ipynb"
EXERCISES = ("UNQ_C1", "UNQ_C2")
UTILS_SETTINGS = ("TAU", "E_DECAY", "E_MIN", "MINIBATCH_SIZE")  # utils' constants that shape the training
# What the notebook needs beside it to run top to bottom: utils imports the package lander.
LEARNER_FILES = ("utils.py", "public_tests.py", "lander", "images", "models")
_HINT_CODE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def copy_learner_files(folder):
    """Copy LEARNER_FILES into folder, as a learner's working folder holds them."""
    folder = Path(folder)
    for name in LEARNER_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, folder / name)


def load_notebook(path=NOTEBOOK):
    """Return the notebook at path as a NotebookNode (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


def tagged_cells(notebook, tag, exercise=None):
    """Return the cells carrying tag in their metadata (and, if given, the exercise)."""
    return [cell for cell in notebook.cells
            if tag in cell.metadata.get("tags", [])
            and (exercise is None or cell.metadata.get("exercise") == exercise)]


def hint_answer(notebook, exercise):
    """Return the full answer of an exercise: the python code block of its hints cell."""
    hints = tagged_cells(notebook, "hints", exercise)
    if len(hints) != 1:
        raise ValueError(f"expected one hints cell for {exercise}, found {len(hints)}")
    blocks = _HINT_CODE.findall(hints[0].source)
    if len(blocks) != 1:
        raise ValueError(f"expected one python code block in the hints of {exercise}, found {len(blocks)}")
    return blocks[0].strip("\n")


def hint_answers(notebook):
    """{exercise: its full answer} for every exercise (hint_answer's)."""
    return {exercise: hint_answer(notebook, exercise) for exercise in EXERCISES}


def answered_notebook(notebook, num_episodes=None):
    """Return a copy with each graded cell replaced by its hints' answer.

    num_episodes, when given, replaces the training cell's episode count (for quick test runs).
    """
    answered = notebook_with(notebook, hint_answers(notebook))
    if num_episodes is not None:
        (training,) = tagged_cells(answered, "training")
        training.source, count = re.subn(r"^num_episodes = \d+$", f"num_episodes = {num_episodes}",
                                         training.source, flags=re.MULTILINE)
        if count != 1:
            raise ValueError("the training cell has no line 'num_episodes = N' to change")
    return answered


def notebook_with(notebook, cells):
    """Return a copy whose graded cells hold cells[exercise]; the graded cell of an exercise not in cells removed."""
    copied = copy.deepcopy(notebook)
    for exercise in EXERCISES:
        (graded,) = tagged_cells(copied, "graded", exercise)
        if exercise in cells:
            graded.source = cells[exercise]
        else:
            copied.cells.remove(graded)
    return copied


def write_class(folder, submissions, notebook=None):
    """Write a class into folder (made if need be): NAME.ipynb for each NAME: submission in submissions, a
    submission being a notebook, {exercise: graded cell's source} (notebook_with the notebook, by default the
    assignment's), or bytes (a file that is no notebook). Returns the paths written, in order."""
    folder, notebook = Path(folder), notebook or load_notebook()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, submission in submissions.items():
        path = folder / f"{name}.ipynb"
        if isinstance(submission, bytes):
            path.write_bytes(submission)
        elif isinstance(submission, nbformat.NotebookNode):
            nbformat.write(submission, str(path))
        else:
            nbformat.write(notebook_with(notebook, submission), str(path))
        paths.append(path)
    return paths


def setup_sources(notebook=None):
    """The notebook's own set-up code, in order: its imports and hyperparameters cells, then the state
    size and number of actions that section 4 reads from the environment."""
    from lander import environment

    notebook = notebook or load_notebook()
    shapes = f"state_size, num_actions = ({environment.STATE_SIZE},), {environment.NUM_ACTIONS}"
    return [tagged_cells(notebook, tag)[0].source for tag in ("imports", "hyperparameters")] + [shapes]


def hyperparameters(notebook=None):
    """The names the hyperparameters cell sets (MEMORY_SIZE, GAMMA, ALPHA, NUM_STEPS_FOR_UPDATE), with their values."""
    namespace = {}
    exec(tagged_cells(notebook or load_notebook(), "hyperparameters")[0].source, namespace)
    return {name: value for name, value in namespace.items() if name.isupper()}


def agent_namespace(seed=None, notebook=None, settings=None):
    """Run the notebook's own set-up code (imports, hyperparameters, answered exercises, agent_learn).

    Returns the resulting namespace: q_network, target_q_network, optimizer, compute_loss,
    agent_learn, experience, the hyperparameters, the training cell's settings, the imported
    modules, and episode (see training_episode_function). With seed, the networks start from the
    weights tf.random.set_seed(seed) gives. settings replaces hyperparameters of the notebook's
    section 2 (before the exercises run, so Adam gets ALPHA) and utils' UTILS_SETTINGS (in the
    utils module, for this whole process). For scripts, not for the learner's notebook (which
    runs in a real kernel).
    """
    import tensorflow as tf

    import utils

    notebook = notebook or load_notebook()
    namespace = {}
    for source in setup_sources(notebook):
        exec(source, namespace)
    for name, value in (settings or {}).items():
        if name in UTILS_SETTINGS:
            setattr(utils, name, value)
        elif name in hyperparameters(notebook):
            namespace[name] = value
        else:
            raise ValueError(f"unknown setting {name!r}")
    if seed is not None:
        tf.random.set_seed(seed)
    for exercise in EXERCISES:
        exec(hint_answer(notebook, exercise), namespace)
    for tag in ("experience", "agent-learn"):
        exec(tagged_cells(notebook, tag)[0].source, namespace)
    namespace["episode"] = training_episode_function(namespace, notebook)
    return namespace


def training_episode_function(namespace, notebook=None):
    """The training cell's episode (the algorithm's lines 5 to 15), taken from the cell, as a function.

    Returns episode(env, epsilon, memory_buffer, policy_network) -> the episode's total points.
    Its other names (experience, agent_learn, GAMMA, NUM_STEPS_FOR_UPDATE, utils, and the cell's
    settings such as max_num_timesteps, which are put into namespace) come from namespace, as in
    the notebook. Scripts run the lesson's own loop this way, never a copy of it.
    """
    (cell,) = tagged_cells(notebook or load_notebook(), "training")
    tree = ast.parse(cell.source)
    for node in tree.body:  # the cell's settings: num_episodes, max_num_timesteps, num_p_av, epsilon
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            namespace.setdefault(node.targets[0].id, node.value.value)
    episodes = next(node for node in ast.walk(tree)
                    if isinstance(node, ast.For) and ast.unparse(node.iter) == "range(num_episodes)")
    steps = next(i for i, node in enumerate(episodes.body) if isinstance(node, ast.For))
    body = ast.unparse(ast.Module(body=episodes.body[:steps + 1], type_ignores=[]))
    source = ("def episode(env, epsilon, memory_buffer, policy_network):\n"
              + textwrap.indent(body, "    ") + "\n    return total_points\n")
    scope = dict(namespace)
    exec(compile(source, "<the notebook's training cell>", "exec"), scope)
    return scope["episode"]


def new_training(seed, settings=None):
    """Set up the notebook's training from a seed: (agent, env, memory_buffer, policy_network).

    Seeds Python's random, TensorFlow (the networks' first weights) and the environment; the
    target network starts equal to the Q-network, as in the notebook's training cell. Play an
    episode with agent["episode"](env, epsilon, memory_buffer, policy_network). settings: see
    agent_namespace.
    """
    import random

    import gym

    import utils

    random.seed(seed)
    agent = agent_namespace(seed=seed, settings=settings)
    agent["target_q_network"].set_weights(agent["q_network"].get_weights())
    env = utils.limit_exhaust_particles(gym.make("LunarLander-v2"))
    env.reset(seed=seed)
    memory_buffer = utils.ReplayMemory(maxlen=agent["MEMORY_SIZE"])
    return agent, env, memory_buffer, utils.NumpyQNetwork(agent["q_network"])


def train(seed, settings=None, max_episodes=2000, stop_when_solved=True, on_episode=None, on_start=None):
    """The notebook's training from a seed, episode after episode: (points, solved_at, seconds).

    Runs the training cell's own episode, decays epsilon with utils.get_new_eps, and stops once
    utils.is_solved (unless stop_when_solved is False) or after max_episodes. solved_at is the
    episode it was first solved in, or None. on_start(agent), when given, is called with the
    agent's namespace (see agent_namespace) before the first episode; on_episode(episode, points)
    after each.
    """
    import time

    import utils

    agent, env, memory_buffer, policy_network = new_training(seed, settings)
    if on_start is not None:
        on_start(agent)
    epsilon, points, solved_at, started = 1.0, [], None, time.perf_counter()
    for episode in range(1, max_episodes + 1):
        points.append(float(agent["episode"](env, epsilon, memory_buffer, policy_network)))
        epsilon = utils.get_new_eps(epsilon)
        if on_episode is not None:
            on_episode(episode, points)
        if solved_at is None and utils.is_solved(points):
            solved_at = episode
            if stop_when_solved:
                break
    return points, solved_at, time.perf_counter() - started
