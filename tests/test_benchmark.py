"""The benchmarks in their tiny modes: each runs and ends with its JSON line (not timed tests)."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def run_benchmark(name, *arguments, timeout=600):
    """Run scripts.maintainer.benchmarks.NAME with arguments; its printed output and its closing JSON line."""
    result = subprocess.run([sys.executable, "-m", f"scripts.maintainer.benchmarks.{name}", *arguments],
                            capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout, json.loads(result.stdout.strip().splitlines()[-1])


def test_benchmark_tiny_mode_prints_its_figures():
    _, figures = run_benchmark("training_speed", "--steps", "200", "--rounds", "2")
    assert figures["steps"] == 200
    for key in ("course_loop_steps_per_s", "notebook_loop_steps_per_s", "speedup", "greedy_speedup",
                "floor_steps_per_s", "interleaved_floor_steps_per_s", "notebook_vs_floor"):
        assert figures[key] > 0
    assert figures["rounds"] == 2
    assert figures["speedup_min"] <= figures["speedup_median"] == figures["speedup"] <= figures["speedup_max"]
    assert figures["same_trajectory"] is True  # same seed: the two loops play the same episodes
    assert set(figures["no_tf_function_slowdown"]) == {"course", "notebook"}
    assert "learning step (agent_learn)" in figures["parts_ms"]


def test_grading_benchmark_tiny_mode_grades_right_and_prints_its_figures():
    _, figures = run_benchmark("grading_speed", "--submissions", "5", "--whole-notebooks", "1", "--episodes", "2")
    assert figures["grades_as_expected"] is True  # each kind of submission got its expected points
    assert figures["submissions"] == 5 and figures["submissions_per_minute"] > 0
    assert figures["speedup_vs_whole_notebook"] > 0 and figures["whole_notebooks"] == 1


def test_video_panel_benchmark_tiny_mode_prints_its_figures():
    _, figures = run_benchmark("video_panel", "--rounds", "1")
    assert figures["rounds"] == 1 and figures["frames"] > 100  # make demo's landing, one frame per step and the start
    for key in ("plain_ms_per_frame", "annotated_ms_per_frame", "panel_ms_per_frame", "annotated_over_plain"):
        assert figures[key] > 0  # timings: their sizes are for the reader, not for a test on a shared machine


def test_fly_widget_benchmark_tiny_mode_prints_its_figures():
    output, figures = run_benchmark("fly_widget", "--frames", "20", "--seconds", "1", timeout=300)
    assert figures["frames"] == 20 and figures["kernel_fps"] > 0 and figures["tick_ms"] > 0
    assert "frames a second reached the client" in output


@pytest.mark.cluster
def test_cluster_benchmark_tiny_mode_gives_the_same_results_and_prints_its_figures():
    """make test-cluster: a two-node Ray cluster of its own (Ray, root), a compare and a class through it and here."""
    _, figures = run_benchmark("cluster_speed", "--episodes", "2", "--submissions", "2", timeout=1200)
    assert figures["same_points"] is True and figures["same_grades"] is True
    assert "node-1" in figures["compare_tasks_per_node"] and "node-2" in figures["compare_tasks_per_node"]
    assert figures["sweep_hours"]["1x2"] > figures["sweep_hours"]["10x8"] > 0
    for key in ("cluster_start_s", "compare_cluster_s", "compare_local_s", "grading_cluster_s", "grading_local_s"):
        assert figures[key] > 0


def test_regrading_benchmark_tiny_mode_grades_nothing_twice():
    _, figures = run_benchmark("regrading", "--submissions", "2", "--jobs", "2", timeout=900)
    assert [figures[run]["graded"] for run in ("first", "unchanged", "one_changed")] == [2, 0, 1]
    assert figures["mended_regraded_right"] is True
