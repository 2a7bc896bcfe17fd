"""The committed notebook: valid, twelve sections in order, blank graded cells, hints, no outputs."""
import re

import nbformat
import pytest

from scripts.notebook_tools import EXERCISES, NOTEBOOK, hint_answer, load_notebook, tagged_cells

SECTIONS = ["Import Packages", "Hyperparameters", "The Lunar Lander Environment", "Load the Environment",
            "Interacting with the Gym Environment", "Deep Q-Learning",
            "Deep Q-Learning Algorithm with Experience Replay", "Update the Network Weights", "Train the Agent",
            "See the Trained Agent In Action", "Congratulations", "References"]
SUBSECTIONS = ["3.1 Action Space", "3.2 Observation Space", "3.3 Rewards", "3.4 Episode Termination",
               "5.1 ", "6.1 Target Network", "6.2 Experience Replay"]


@pytest.fixture(scope="module")
def notebook():
    return load_notebook()


def headings(notebook, level):
    found = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found += re.findall(rf"^{'#' * level} (.+)$", cell.source, flags=re.MULTILINE)
    return found


def test_valid_nbformat():
    nbformat.validate(nbformat.read(str(NOTEBOOK), as_version=4))


def test_twelve_sections_in_order(notebook):
    sections = headings(notebook, 2)
    assert len(sections) == 12
    for number, (found, title) in enumerate(zip(sections, SECTIONS, strict=True), start=1):
        assert found.startswith(f"{number} - {title}"), (number, found)


def test_subsections_in_order(notebook):
    found = headings(notebook, 3)
    positions = [next(i for i, heading in enumerate(found) if heading.startswith(title)) for title in SUBSECTIONS]
    assert positions == sorted(positions)
    assert "Exercise 1" in found and "Exercise 2" in found


def test_committed_without_outputs(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_graded_cells_are_blank(notebook):
    (network_cell,) = tagged_cells(notebook, "graded", "UNQ_C1")
    (loss_cell,) = tagged_cells(notebook, "graded", "UNQ_C2")
    for cell in (network_cell, loss_cell):
        blocks = re.findall(r"### START CODE HERE ###\n(.*?)### END CODE HERE ###", cell.source, re.DOTALL)
        assert blocks, cell.source[:60]
        code = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
        assert all(line.endswith("= None") for line in code), code
    assert "optimizer = None" in network_cell.source
    assert "y_targets = None" in loss_cell.source and "loss = None" in loss_cell.source
    assert "max_qsa = tf.reduce_max(target_q_network(next_states), axis=-1)" in loss_cell.source


def test_each_exercise_has_graded_test_and_hints_in_that_order(notebook):
    for exercise in EXERCISES:
        kinds = [tag for cell in notebook.cells if cell.metadata.get("exercise") == exercise
                 for tag in cell.metadata.get("tags", [])]
        assert kinds == ["graded", "test", "hints"], (exercise, kinds)
        (hints,) = tagged_cells(notebook, "hints", exercise)
        assert "<details>" in hints.source and "</details>" in hints.source


def test_hints_hold_full_answers(notebook):
    network_answer, loss_answer = (hint_answer(notebook, exercise) for exercise in EXERCISES)
    assert network_answer.count("Dense(units=64, activation='relu')") == 4
    assert "optimizer = Adam(learning_rate=ALPHA)" in network_answer
    assert "y_targets = rewards + gamma * max_qsa * (1 - done_vals)" in loss_answer
    assert "loss = MSE(y_targets, q_values)" in loss_answer


def test_spec_code_is_present(notebook):
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    for needle in ["MEMORY_SIZE = 100_000", "GAMMA = 0.995", "ALPHA = 1e-3", "NUM_STEPS_FOR_UPDATE = 4",
                   "tf.random.set_seed(utils.SEED)", "env = gym.make('LunarLander-v2')",
                   "state_size = env.observation_space.shape", "num_actions = env.action_space.n",
                   "size=(840, 480)", "@tf.function\ndef agent_learn(experiences, gamma):",
                   "num_episodes = 2000", "max_num_timesteps = 1000", "num_p_av = 100", "epsilon = 1.0",
                   "utils.check_update_conditions(t, NUM_STEPS_FOR_UPDATE, memory_buffer)",
                   "utils.get_experiences(memory_buffer)", "agent_learn(experiences, GAMMA)",
                   "utils.get_new_eps(epsilon)", "Environment solved in", "lunar_lander_model.h5",
                   "Total Runtime:", "utils.plot_history(total_point_history)",
                   "logging.getLogger().setLevel(logging.ERROR)", "./videos/lunar_lander.mp4",
                   "utils.create_video(filename, env,", "utils.embed_mp4(filename)",
                   'namedtuple("Experience", field_names=["state", "action", "reward", "next_state", "done"])']:
        assert needle in code, needle


def test_images_exist(notebook):
    from conftest import ROOT
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    images = re.findall(r'src="(images/[^"]+)"', markdown)
    assert sorted(set(images)) == ["images/deep_q_algorithm.png", "images/lunar_lander.gif",
                                   "images/lunar_lander.png", "images/rl_loop.png"]
    for image in images:
        assert (ROOT / image).is_file(), image


def test_the_training_cell_follows_the_algorithm_line_by_line(notebook):
    """Fig 3 stands right above the training cell, whose comments number the algorithm's lines 1 to 16."""
    (training,) = tagged_cells(notebook, "training")
    position = notebook.cells.index(training)
    assert 'src="images/deep_q_algorithm.png"' in notebook.cells[position - 1].source
    numbered = re.findall(r"# Lines? (\d+)(?: to (\d+))?:", training.source)
    covered = [n for first, last in numbered for n in range(int(first), int(last or first) + 1)]
    assert covered == list(range(1, 17)), covered
    walkthrough = next(cell.source for cell in notebook.cells if cell.source.startswith('<a name="9">'))
    for line in ("Line 1", "Line 7", "Line 9", "Line 10", "Lines 11 to 14", "Lines 15 and 16"):
        assert f"**{line}," in walkthrough, line
    assert walkthrough.index("Line 10") < walkthrough.index("Four details that make training fast")


def test_section_3_shows_the_lander_in_motion(notebook):
    section = next(cell.source for cell in notebook.cells if "## 3 - The Lunar Lander Environment" in cell.source)
    assert 'src="images/lunar_lander.gif"' in section


def test_section_10_shows_the_q_values_right_after_the_course_video(notebook):
    """The course's video cell as it is, then a sentence on what to look for and the annotated video."""
    (video,) = tagged_cells(notebook, "video")
    assert video.source == ('filename = "./videos/lunar_lander.mp4"\n\n'
                            "utils.create_video(filename, env, network_to_watch)\nutils.embed_mp4(filename)")
    position = notebook.cells.index(video)
    explanation, annotated = notebook.cells[position + 1:position + 3]
    assert explanation.cell_type == "markdown" and "Q-values" in explanation.source
    assert tagged_cells(notebook, "video-q-values") == [annotated]
    assert "show_q_values=True" in annotated.source and "utils.embed_mp4(" in annotated.source


def test_section_10_ends_with_the_probe_and_the_flight_after_the_videos(notebook):
    """The probe of network_to_watch, then the flight against the shipped network and the learner's, each
    a cell of its own that lander.widgets draws, before section 11; the first code cell checks for the module."""
    positions = {tag: notebook.cells.index(cell) for tag in ("video-q-values", "evaluation", "probe", "fly")
                 for cell in tagged_cells(notebook, tag)}
    congratulations = next(i for i, cell in enumerate(notebook.cells) if cell.source.startswith('<a name="11">'))
    assert positions["video-q-values"] < positions["evaluation"] < positions["probe"] < positions["fly"] \
        < congratulations
    (probe,) = tagged_cells(notebook, "probe")
    (fly,) = tagged_cells(notebook, "fly")
    assert "from lander import widgets" in probe.source and "widgets.probe(network_to_watch)" in probe.source
    assert "widgets.fly(shipped_network, yours=q_network)" in fly.source
    for cell in (probe, fly):
        explained = notebook.cells[notebook.cells.index(cell) - 1]
        assert explained.cell_type == "markdown" and explained.source.startswith("### ")
    (setup,) = tagged_cells(notebook, "colab-setup")
    assert '("utils.py", "public_tests.py", "lander")' in setup.source
