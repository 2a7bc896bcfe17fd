"""The notebook run top to bottom in a real Jupyter kernel, exercises answered from its hints.

Training is cut to a few episodes; the run happens in a copy of the project so that it
leaves the learner's files alone.
"""
import shutil
import signal
import subprocess
import sys
import time

import imageio.v2 as imageio
import nbformat
import pytest
from conftest import LEARNER_ENV, ROOT, sends_ctrl_c, takes_ctrl_c

from lander.video import PANEL_HEIGHT
from scripts.notebook_tools import NOTEBOOK, copy_learner_files, tagged_cells

pytestmark = pytest.mark.slow


def project_copy(tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    copy_learner_files(work)
    shutil.copy(NOTEBOOK, work)
    return work


def runner(work, build, *options):
    return [sys.executable, "-m", "scripts.learner.run_notebook", "--workdir", str(work), "--build",
            str(build), *options]


def outputs_text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("run")
    work, build = project_copy(tmp_path), tmp_path / "build"
    result = subprocess.run(runner(work, build, "--episodes", "3"), capture_output=True, text=True, timeout=600,
                            env=LEARNER_ENV, cwd=ROOT)
    return result, work, build


def test_every_cell_runs_without_error(short_run):
    result, work, build = short_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    notebook = nbformat.read(str(build / "C3_W3_A1_Assignment.ipynb"), as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells)
    assert not [o for cell in code_cells for o in cell.outputs if o.output_type == "error"]


def test_no_noise_in_the_outputs(short_run):
    _, _, build = short_run
    notebook = nbformat.read(str(build / "C3_W3_A1_Assignment.ipynb"), as_version=4)
    stderr = [o.text for cell in notebook.cells for o in cell.get("outputs", []) if o.get("name") == "stderr"]
    assert stderr == []


def test_printed_lines_appear(short_run):
    result, _, build = short_run
    notebook = nbformat.read(str(build / "C3_W3_A1_Assignment.ipynb"), as_version=4)
    text = "".join(outputs_text(cell) for cell in notebook.cells)
    assert "State Shape: (8,)" in text and "Number of actions: 4" in text
    assert text.count("All tests passed!") == 4
    (training,) = tagged_cells(notebook, "training")
    lines = outputs_text(training)
    for episode in (1, 2, 3):
        assert f"Episode {episode} | Total point average of the last 100 episodes: " in lines
    assert "Total Runtime: " in lines and " min)" in lines
    assert "Episode 3 | Total point average" in result.stdout  # progress echoed while it runs


def test_plot_video_and_evaluation_appear(short_run):
    _, work, build = short_run
    notebook = nbformat.read(str(build / "C3_W3_A1_Assignment.ipynb"), as_version=4)
    (curve,) = tagged_cells(notebook, "learning-curve")
    assert any("image/png" in o.get("data", {}) for o in curve.outputs)
    assert (build / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    (video,) = tagged_cells(notebook, "video")
    assert "data:video/mp4;base64," in video.outputs[0]["data"]["text/html"]
    frames = imageio.mimread(str(work / "videos" / "lunar_lander.mp4"), memtest=False)
    assert len(frames) >= 10 and frames[0].shape == (400, 600, 3)
    (annotated,) = tagged_cells(notebook, "video-q-values")
    assert "data:video/mp4;base64," in annotated.outputs[0]["data"]["text/html"]
    reader = imageio.get_reader(str(work / "videos" / "lunar_lander_q_values.mp4"))
    assert reader.get_meta_data()["size"] == (600, 400 + PANEL_HEIGHT) and reader.count_frames() >= 10
    (evaluation,) = tagged_cells(notebook, "evaluation")
    assert "mean return" in evaluation.outputs[0]["data"]["text/html"]
    html = (build / "C3_W3_A1_Assignment.html").read_text()
    assert "data:video/mp4;base64," in html


def test_the_widget_cells_say_in_one_line_where_to_try_them(short_run):
    """Run by nbclient, with no page to draw widgets, the probe and the flight each print one line."""
    _, _, build = short_run
    notebook = nbformat.read(str(build / "C3_W3_A1_Assignment.ipynb"), as_version=4)
    for tag, what in [("probe", "Probing the network"), ("fly", "Flying the lander")]:
        (cell,) = tagged_cells(notebook, tag)
        lines = outputs_text(cell).splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{what} needs a notebook open in a page (run by nbclient, "
                                                       "as make run does"), lines
        assert "JupyterLab or Colab" in lines[0]
        assert not [o for o in cell.outputs if o.output_type != "stream"]  # no widget left to draw nothing


def test_the_graded_cells_ran_the_hints_answers(short_run):
    _, _, build = short_run
    notebook = nbformat.read(str(build / "C3_W3_A1_Assignment.ipynb"), as_version=4)
    (graded,) = tagged_cells(notebook, "graded", "UNQ_C2")
    assert "y_targets = rewards + gamma * max_qsa * (1 - done_vals)" in graded.source


@sends_ctrl_c
def test_ctrl_c_stops_training_and_keeps_the_rest(tmp_path):
    work, build = project_copy(tmp_path), tmp_path / "build"
    process = subprocess.Popen(runner(work, build), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=LEARNER_ENV, cwd=ROOT, preexec_fn=takes_ctrl_c)
    seen = ""
    deadline = time.time() + 300
    while "Episode 5 |" not in seen and time.time() < deadline:
        seen += process.stdout.read(1)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=300)
    assert process.returncode == 0, (seen + rest)[-3000:]
    notebook = nbformat.read(str(build / "C3_W3_A1_Assignment.ipynb"), as_version=4)
    (training,) = tagged_cells(notebook, "training")
    text = outputs_text(training)
    assert "Training interrupted in episode" in text and "Total Runtime" in text
    kept = int(text.split("The ")[-1].split(" finished episodes")[0])
    assert kept >= 5
    assert (build / "learning_curve.png").exists()
    (video,) = tagged_cells(notebook, "video")
    assert "data:video/mp4;base64," in video.outputs[0]["data"]["text/html"]
    assert not (work / "lunar_lander_model.h5").exists()  # not solved: no model, never a broken one
    assert not list(work.glob(".saving-*"))
