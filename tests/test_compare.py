"""scripts/experimenter/compare.py and utils.plot_comparison: each setting reaches the code that uses it, a bad variant
is refused before any training, finished runs are never run twice, and the figure has a band per setting."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, sends_ctrl_c, takes_ctrl_c

import utils
from scripts.experimenter.compare import BadVariant, baseline_settings, parse_variant
from scripts.notebook_tools import UTILS_SETTINGS, new_training, train


@pytest.fixture()
def restored_utils():
    """utils' constants as they were: a variant sets them for its whole (worker) process."""
    saved = {name: getattr(utils, name) for name in UTILS_SETTINGS}
    yield
    for name, value in saved.items():
        setattr(utils, name, value)


def fill(memory_buffer, count):
    for i in range(count):
        memory_buffer.append((np.full(8, i, np.float32), i % 4, 1.0, np.zeros(8, np.float32), False))


# Each name: a value other than the notebook's, and what the training it sets up must show for it.
REACHES = {
    "GAMMA": (0.9, lambda agent, memory: agent["episode"].__globals__["GAMMA"] == 0.9),
    "NUM_STEPS_FOR_UPDATE": (7, lambda agent, memory: agent["episode"].__globals__["NUM_STEPS_FOR_UPDATE"] == 7),
    "ALPHA": (5e-4, lambda agent, memory: np.isclose(float(agent["optimizer"].learning_rate), 5e-4)),
    "MEMORY_SIZE": (1000, lambda agent, memory: memory.maxlen == 1000),
    "E_DECAY": (0.9, lambda agent, memory: utils.get_new_eps(1.0) == 0.9),
    "E_MIN": (0.5, lambda agent, memory: utils.get_new_eps(0.5) == 0.5 and utils.get_new_eps(0.4) == 0.5),
    "MINIBATCH_SIZE": (16, lambda agent, memory: _draws_minibatches_of(memory, 16)),
    "TAU": (0.5, lambda agent, memory: _tau_moves_halfway(agent)),
}


def _draws_minibatches_of(memory, size):
    """Mini-batches of size experiences, and learning once the memory holds more than size (not 64)."""
    fill(memory, size + 4)
    return utils.get_experiences(memory)[0].shape[0] == size and utils.check_update_conditions(3, 4, memory)


def _tau_moves_halfway(agent):
    q_network, target = agent["q_network"], agent["target_q_network"]
    target.set_weights([w * 0 for w in q_network.get_weights()])
    utils.update_target_network(q_network, target)
    return np.allclose(target.get_weights()[0], 0.5 * q_network.get_weights()[0], atol=1e-6)


def test_every_setting_can_be_varied():
    assert set(REACHES) == set(baseline_settings())


@pytest.mark.parametrize("name", sorted(REACHES))
def test_each_setting_reaches_the_code_that_uses_it(name, restored_utils):
    value, reached = REACHES[name]
    assert baseline_settings()[name] != value
    agent, _, memory_buffer, _ = new_training(0, parse_variant(f"{name}={value}"))
    assert reached(agent, memory_buffer)


@pytest.mark.parametrize("text, words", [
    ("FOO=1", "unknown setting 'FOO'"), ("GAMMA=2", "between 0 and 1"), ("ALPHA=abc", "learning rate"),
    ("MEMORY_SIZE=10", "MINIBATCH_SIZE"), ("NUM_STEPS_FOR_UPDATE=2.5", "whole number"), ("GAMMA", "NAME=VALUE"),
    ("MINIBATCH_SIZE=200,MEMORY_SIZE=100", "larger than MINIBATCH_SIZE"),
])
def test_a_bad_variant_is_refused_in_plain_words(text, words):
    with pytest.raises(BadVariant, match=words):
        parse_variant(text)


def test_the_command_refuses_a_bad_variant_before_training(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "scripts.experimenter.compare", "--variant", "GAMMA=0.99",
                             "--variant", "TAUU=0.1", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    last_line = result.stderr.strip().splitlines()[-1]  # after the usage, one line says what is wrong
    assert result.returncode == 2
    assert last_line.startswith("python -m scripts.experimenter.compare: error: variant 'TAUU=0.1'")
    assert not (tmp_path / "out").exists() and time.monotonic() - started < 60


def compare(out, *arguments):
    return subprocess.Popen([sys.executable, "-m", "scripts.experimenter.compare", "--out", str(out), *arguments],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=takes_ctrl_c)


@sends_ctrl_c
@pytest.mark.slow
def test_interrupted_then_resumed_no_run_is_done_twice(tmp_path):
    """Ctrl-C after the first record keeps it; the same command again runs only the rest."""
    arguments = ("--variant", "ALPHA=5e-4", "--seeds", "0", "1", "--episodes", "3", "--jobs", "1")
    process = compare(tmp_path, *arguments)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("*__seed*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "the same command again does the rest" in stderr
    kept = {path.name: path.stat().st_mtime_ns for path in tmp_path.glob("*__seed*.json")}
    assert 1 <= len(kept) < 4
    process = compare(tmp_path, *arguments)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-2000:]
    assert f"{len(kept)} of 4 runs already finished" in stdout
    assert all(tmp_path.joinpath(name).stat().st_mtime_ns == mtime for name, mtime in kept.items())
    records = [json.loads(path.read_text()) for path in tmp_path.glob("*__seed*.json")]
    assert sorted((r["label"], r["seed"]) for r in records) == [
        ("ALPHA=0.0005", 0), ("ALPHA=0.0005", 1), ("baseline (notebook)", 0), ("baseline (notebook)", 1)]
    assert all(len(r["points"]) == 3 and r["settings"]["ALPHA"] in (1e-3, 5e-4) for r in records)
    assert (tmp_path / "compare.png").stat().st_size > 10_000
    assert "| baseline (notebook) | 0/2 |" in (tmp_path / "compare.md").read_text()


@pytest.mark.slow
def test_a_run_is_the_lessons_training(tmp_path):
    """A baseline run gives the points of the notebook's training (the benchmark's --solve) for its seed."""
    expected, _, _ = train(1, max_episodes=2)
    process = compare(tmp_path, "--seeds", "1", "--episodes", "2", "--jobs", "1")
    assert process.wait(timeout=300) == 0
    (record,) = [json.loads(path.read_text()) for path in tmp_path.glob("*__seed*.json")]
    assert record["points"] == expected


@pytest.mark.slow
def test_a_run_after_a_variant_in_the_same_process_is_the_baseline(restored_utils):
    """A worker process (local or on a cluster) trains one setting after another: a variant of one of
    utils' constants must not reach the next run there."""
    from scripts.experimenter.compare import train_run

    first = train_run({}, 0, 3, True)
    variant = train_run({"E_DECAY": 0.9}, 0, 3, True)
    after = train_run({}, 0, 3, True)
    assert variant["points"] != first["points"]  # E_DECAY changes these 3 episodes
    assert after["points"] == first["points"] and after["settings"]["E_DECAY"] == first["settings"]["E_DECAY"]


def test_plot_comparison_draws_a_line_and_a_band_per_setting():
    runs = {"baseline": [list(range(50)), list(range(10, 40))], "GAMMA=0.99": [[-100.0] * 30]}
    figure = utils.plot_comparison(runs, window_size=5)
    ax = figure.axes[0]
    assert len(ax.collections) == 2  # one shaded band per setting
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["baseline (2 seeds)", "GAMMA=0.99 (1 seed)", "Solved (200)"]
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() < band[:, 1].max()  # it has a spread where two runs overlap
    every_seed, fewer_seeds = ax.get_lines()[:2]  # solid while both runs go, dotted after one ended
    assert len(every_seed.get_ydata()) == 30 and fewer_seeds.get_linestyle() == ":"
    assert np.isclose(fewer_seeds.get_ydata()[-1], np.mean(range(45, 50)))


@pytest.mark.parametrize("runs, error", [({}, TypeError), ({"a": []}, TypeError), ({"a": [[1.0, "x"]]}, TypeError),
                                         ({"a": [[]]}, ValueError), ([[1.0]], TypeError)])
def test_plot_comparison_refuses_bad_input(runs, error):
    with pytest.raises(error):
        utils.plot_comparison(runs)
