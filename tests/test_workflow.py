"""The hosted platforms workflow runs README's own set-up and test commands, so the two cannot drift apart."""
import re

import pytest
import yaml
from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "platforms.yml"
# A Python chosen by version (py -3.13, the matrix's in the workflow) or by make's PYTHON: README's
# commands work with any, and the workflow picks the matrix's.
CHOICE = re.compile(r" -3\.1[0-9]+\b| -\$\{\{ matrix\.python \}\}| PYTHON=\S+")


def readme_commands(language):
    """The commands of README's first code block in language, comments dropped."""
    block = re.search(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def workflow_runs(windows):
    """The commands the workflow's steps run on Windows, or on Linux and macOS."""
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]["steps"]
    chosen = [step for step in steps if "run" in step
              and step.get("if") in (None, "runner.os == 'Windows'" if windows else "runner.os != 'Windows'")]
    return [line.strip() for step in chosen for line in step["run"].splitlines() if line.strip()]


def normal(command):
    return CHOICE.sub("", command)


def test_the_workflow_covers_every_supported_system_and_python():
    matrix = yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]["strategy"]["matrix"]
    assert {"3.11", "3.12", "3.13"} == set(matrix["python"])
    assert any("arm" in name for name in matrix["os"]) and any(name.startswith("macos") for name in matrix["os"])
    assert any(name.startswith("windows") for name in matrix["os"]) and "ubuntu-24.04" in matrix["os"]


@pytest.mark.parametrize("windows, language, wanted", [
    (False, "bash", ["make test"]),
    (True, "powershell", ["scripts.learner.setup_env", "-m pytest tests", "scripts.learner.run_notebook"]),
])
def test_the_workflow_runs_readmes_commands(windows, language, wanted):
    readme = [normal(command) for command in readme_commands(language)]
    runs = [normal(command) for command in workflow_runs(windows)]
    for word in wanted:
        (command,) = [c for c in readme if word in c]
        assert any(run == command or run.startswith(command + " ") for run in runs), (command, runs)


def test_the_workflow_checks_the_video_and_the_html():
    checks = " ".join(workflow_runs(windows=False))
    assert "videos/lunar_lander.mp4" in checks and "build/C3_W3_A1_Assignment.html" in checks
    assert "--episodes" in " ".join(workflow_runs(windows=True))
