"""Prove the supported-platforms table: resolve requirements.txt for every target, wheels only.

For each target of scripts/learner/platforms.py and each supported Python, `uv pip compile` resolves
the pinned requirements with the environment markers evaluated for that target and binary
wheels only (gym and gym-notices aside: pure-Python source packages, nothing to compile).
Prints the matrix; exits 1 when a supported cell fails to resolve. The unsupported targets
and Python 3.14 are resolved too, and shown, so the table says why they are left out.

Usage: python -m scripts.maintainer.platforms.check   (needs uv: `make check-platforms` installs it)
"""
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scripts import ROOT
from scripts.learner.platforms import PYTHONS, SUPPORTED, UNSUPPORTED

SOURCE_ONLY = ("gym", "gym-notices")  # pure Python, published as source only
NEXT_PYTHON = (PYTHONS[-1][0], PYTHONS[-1][1] + 1)
RESOLVERS = 8  # uv resolutions at once


def resolve(target, python):
    """Resolve requirements.txt for a target and Python; return (ok, the pins or the error's first line)."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "resolved.txt"
        command = [sys.executable, "-m", "uv", "pip", "compile", str(ROOT / "requirements.txt"), "--quiet",
                   "--python-platform", target, "--python-version", ".".join(map(str, python)),
                   "--only-binary", ":all:", *[arg for name in SOURCE_ONLY for arg in ("--no-binary", name)],
                   "--no-header", "--no-annotate", "-o", str(output)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or ["no output"]
            reason = next((line.strip() for line in lines if "cause:" in line or "Because" in line), lines[-1])
            return False, reason.removeprefix("cause: ")
        return True, output.read_text()


def box2d_provider(pins):
    """The package that provides the Box2D module in a resolution."""
    return next((line.split("==")[0] for line in pins.splitlines() if "box2d" in line.lower()), "none")


def main():
    pythons = [*PYTHONS, NEXT_PYTHON]
    header = ["target"] + [".".join(map(str, p)) for p in pythons] + ["Box2D from"]
    targets = [*SUPPORTED.items(), *((t, label) for t, (label, _) in UNSUPPORTED.items())]
    cells = [(target, python) for target, _ in targets for python in pythons]
    with ThreadPoolExecutor(RESOLVERS) as pool:  # each resolution mostly waits on the registry
        resolved = dict(zip(cells, pool.map(lambda cell: resolve(*cell), cells), strict=True))
    rows, failures = [], []
    for target, label in targets:
        row, provider = [], ""
        for python in pythons:
            ok, detail = resolved[target, python]
            expected = target in SUPPORTED and python in PYTHONS
            if ok:
                provider = provider or box2d_provider(detail)
            row.append(("ok" if ok else "fails") + ("" if expected else " (unsupported)"))
            if expected and not ok:
                failures.append(f"{label}, Python {'.'.join(map(str, python))}: {detail}")
        rows.append([f"{label.split(' (')[0]} ({target})", *row, provider or "-"])

    print("\n| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    supported = len(SUPPORTED) * len(PYTHONS)
    print(f"\n{supported - len(failures)}/{supported} supported cells resolve from wheels.")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
