"""Make the virtual environment .venv from the pinned requirements, on any supported machine.

`make run`, `make test` and README's Windows commands all call this with whatever Python there
is. It does nothing when .venv is newer than the requirements. It stops with one plain line on a
machine the pins do not support (scripts/maintainer/platforms/). On a Python they do not support, it finds
the newest supported one installed, or fetches Python 3.13 with uv into .python/
(scripts/learner/pythons.py), says which in one line, and runs again under it.

Usage: python -m scripts.learner.setup_env [--dev] [--cluster] [--chosen NAME]   (from the repository root;
--dev adds requirements-dev.txt, --cluster requirements-cluster.txt: Ray, for --address; --chosen:
this Python is the one the user named, make's PYTHON=NAME: it is used, or refused, never replaced)
"""
import os
import platform
import shutil
import struct
import subprocess
import sys
import venv

from scripts import ROOT
from scripts.learner import pythons
from scripts.learner.platforms import machine_refusal, python_refusal

VENV = ROOT / ".venv"
LEARNER = (ROOT / "requirements.txt", VENV / ".ready")  # requirements file, the stamp that says it is installed
EXTRAS = {"--dev": (ROOT / "requirements-dev.txt", VENV / ".dev-ready"),
          "--cluster": (ROOT / "requirements-cluster.txt", VENV / ".cluster-ready")}


def venv_python(folder=VENV):
    """The environment's interpreter: bin/python, or Scripts\\python.exe on Windows."""
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def is_current(requirements, stamp):
    return stamp.exists() and stamp.stat().st_mtime >= requirements.stat().st_mtime


def option_value(argv, option):
    """The value after option in argv, or None."""
    return argv[argv.index(option) + 1] if option in argv[:-1] else None


def set_up_under_another_python(refused, argv):
    """Find a supported Python (or fetch one), say which in one line, and run set-up again under it."""
    why = refused.split(":")[0]
    found = pythons.find()
    if found:
        program, version = found
        print(f"{why}: set-up uses Python {pythons.shown(version)} ({program}), "
              "the newest supported Python installed here.", flush=True)
    else:
        found = pythons.fetch(why)
        if not found:
            return 1
        program, version = found
    return subprocess.run([program, "-m", "scripts.learner.setup_env", *argv, "--chosen", program], cwd=ROOT).returncode


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
    refused = machine_refusal(platform.system(), platform.machine(), struct.calcsize("P") * 8)
    if refused:
        print(refused, file=sys.stderr)
        return 1
    learner, learner_stamp = LEARNER
    if not (is_current(learner, learner_stamp) and venv_python().exists()):
        refused = python_refusal(sys.version_info)
        chosen = option_value(argv, "--chosen")
        if refused and chosen:
            print(f"PYTHON={chosen}: {refused[:-1]}; or leave PYTHON out, and set-up finds or fetches one.",
                  file=sys.stderr)
            return 1
        if refused:
            return set_up_under_another_python(refused, argv)
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
