"""benchmarks/training_speed.py in its tiny mode: it runs and ends with its JSON line (not a timed test)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def test_benchmark_tiny_mode_prints_its_figures():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training_speed.py"), "--steps", "200"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["steps"] == 200
    for key in ("course_loop_steps_per_s", "notebook_loop_steps_per_s", "speedup", "greedy_speedup"):
        assert figures[key] > 0
    assert figures["speedup"] == pytest.approx(
        figures["notebook_loop_steps_per_s"] / figures["course_loop_steps_per_s"], rel=0.01)
    assert "learning step (agent_learn)" in figures["parts_ms"]
