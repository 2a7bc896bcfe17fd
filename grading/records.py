"""What each result was made from, so that no notebook is graded twice.

Each NAME.json records, in its extra_data, the SHA-256 of the notebook's bytes, the SHA-256 of the
grader (its files, the set-up cells it runs before each graded cell, ALPHA, and the versions of the
libraries that compute and judge), and the limits it ran with. A result whose record matches the
notebook and the grader of this run is kept as it is; any other is made again.
"""
import hashlib
import json

from scripts import ROOT

RECORD_KEYS = ("notebook_sha256", "grader_sha256", "limits")


def grader_files(root=ROOT):
    """The grader's own files (paths relative to root): the grading package, the modules it runs, and the
    notebook tools that read the set-up cells. The Gradescope zip holds these same files."""
    package, rooms = (sorted(path.relative_to(root).as_posix() for path in (root / folder).glob("*.py"))
                      for folder in ("grading", "lander"))
    return [*package, "utils.py", *rooms, "public_tests.py", "scripts/__init__.py", "scripts/notebook_tools.py"]


def grader_sha256(setup, root=ROOT):
    """A hash of everything that decides a grade but the notebook: the grader's files (in root), its set-up
    (cells and ALPHA), and the versions of NumPy, TensorFlow and Keras (imported by the judge already)."""
    import keras
    import numpy
    import tensorflow

    digest = hashlib.sha256()
    for name in grader_files(root):
        digest.update(f"{name}\0".encode() + (root / name).read_bytes() + b"\0")
    versions = {"numpy": numpy.__version__, "tensorflow": tensorflow.__version__, "keras": keras.__version__}
    digest.update(json.dumps({"setup": setup, "versions": versions}, sort_keys=True).encode())
    return digest.hexdigest()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def kept_results(path, record):
    """The results in path (a NAME.json) when they were made from this record (notebook, grader and
    limits); None when they were not, or cannot be read."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        made_from = results["extra_data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(made_from, dict) or record["notebook_sha256"] is None:
        return None
    return results if all(made_from.get(key) == record[key] for key in RECORD_KEYS) else None
