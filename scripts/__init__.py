"""The project's commands, by who runs them, and what they share.

learner/ (set-up, run, demo, film, play), experimenter/ (compare), maintainer/ (platform proofs,
benchmarks, the shipped model and figures); the teacher's commands are in grading/. Beside them,
what several of them share: notebook_tools.py (the notebook's cells) and cluster.py (a Ray
cluster). Run each as a module from the repository root: python -m scripts.learner.run_notebook.
This file imports nothing outside the standard library: set-up runs on any Python.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository's folder
