"""Make the virtual environment .venv from the pinned requirements, on any supported machine.

`make run`, `make test` and README's Windows commands all call this with the Python to build
from. It does nothing when .venv is newer than the requirements; it stops with one plain line
on a Python or machine the pins do not support (scripts/platforms/).

Usage: python -m scripts.setup_env [--dev] [--cluster]   (from the repository root; --dev adds
requirements-dev.txt, --cluster requirements-cluster.txt: Ray, for --address)
"""
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from scripts.platforms import main as check_platform

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
LEARNER = (ROOT / "requirements.txt", VENV / ".ready")  # requirements file, the stamp that says it is installed
EXTRAS = {"--dev": (ROOT / "requirements-dev.txt", VENV / ".dev-ready"),
          "--cluster": (ROOT / "requirements-cluster.txt", VENV / ".cluster-ready")}


def venv_python(folder=VENV):
    """The environment's interpreter: bin/python, or Scripts\\python.exe on Windows."""
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def is_current(requirements, stamp):
    return stamp.exists() and stamp.stat().st_mtime >= requirements.stat().st_mtime


def pip_install(requirements):
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True)


def make_environment():
    """Make .venv afresh with the learner's requirements and this environment's Jupyter kernel."""
    shutil.rmtree(VENV, ignore_errors=True)
    venv.create(VENV, with_pip=True)
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    pip_install(ROOT / "requirements.txt")
    subprocess.run([str(venv_python()), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                   check=True, stdout=subprocess.DEVNULL)


def main(argv):
    if check_platform() != 0:
        return 1
    learner, learner_stamp = LEARNER
    if not is_current(learner, learner_stamp):
        print(f"Making {VENV.name} from {learner.name} (a few minutes the first time)...", flush=True)
        make_environment()
        learner_stamp.touch()
    for option, (extra, stamp) in EXTRAS.items():
        if option in argv and not is_current(extra, stamp):
            pip_install(extra)
            stamp.touch()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as error:
        sys.exit(f"Set-up failed: {' '.join(error.cmd)} exited with {error.returncode} (see above).")
