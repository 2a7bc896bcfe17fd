"""public_tests.py against the notebook: the hints' answers pass, the blank cells fail in plain words."""
import numpy as np
import pytest

import public_tests
from scripts.notebook_tools import EXERCISES, load_notebook, tagged_cells


def run_graded_cells(agent, source_of):
    """Run the notebook's graded cells (as given by source_of(cell)) in a copy of the agent namespace."""
    namespace = {key: value for key, value in agent.items()
                 if key not in ("q_network", "target_q_network", "optimizer", "compute_loss")}
    for exercise in EXERCISES:
        (cell,) = tagged_cells(load_notebook(), "graded", exercise)
        exec(source_of(cell, exercise), namespace)
    return namespace


def test_hints_answers_pass(agent, capsys):
    public_tests.test_network(agent["q_network"])
    public_tests.test_network(agent["target_q_network"])
    public_tests.test_optimizer(agent["optimizer"], agent["ALPHA"])
    public_tests.test_compute_loss(agent["compute_loss"])
    assert capsys.readouterr().out.count("All tests passed!") == 4


def test_blank_notebook_fails_with_not_done_yet(agent):
    blank = run_graded_cells(agent, lambda cell, exercise: cell.source)
    checks = [(public_tests.test_network, (blank["q_network"],)),
              (public_tests.test_network, (blank["target_q_network"],)),
              (public_tests.test_optimizer, (blank["optimizer"], blank["ALPHA"])),
              (public_tests.test_compute_loss, (blank["compute_loss"],))]
    for test, arguments in checks:
        with pytest.raises(AssertionError, match="not done yet"):
            test(*arguments)


def test_grader_leaves_global_random_state_alone(agent):
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    public_tests.test_compute_loss(agent["compute_loss"])
    assert np.array_equal(np.random.random(3), expected)


def test_test_cells_call_the_grader():
    sources = [cell.source for cell in tagged_cells(load_notebook(), "test")]
    assert "test_network(q_network)" in sources[0] and "test_network(target_q_network)" in sources[0]
    assert "test_optimizer(optimizer, ALPHA)" in sources[0]
    assert "test_compute_loss(compute_loss)" in sources[1]
