"""The learner's run in a runtime built like Google Colab's (make test-colab runs it), checked.

python -m scripts.maintainer.platforms.colab_notebook WORKDIR BUILD [--episodes N]

Runs the notebook top to bottom with nbclient in WORKDIR (a folder holding the learner's files),
exercises answered from its hints, training cut to N episodes, and section 10 watching the network
shipped in models/ (a short training lands nothing). Then checks what the learner sees: the set-up
cell ran first and said in one line what it installed, keeping Colab's TensorFlow, Keras and numpy;
the four tests passed; the shipped network loaded and landed; the video was written; no error and
nothing on stderr. Exits 1 naming each check that failed.
"""
import argparse
import importlib.metadata
import re
import sys
from pathlib import Path

import imageio.v2 as imageio

from scripts.learner.run_notebook import notebook_client, save_outputs
from scripts.notebook_tools import answered_notebook, load_notebook

LANDED_AT_LEAST = 0.9  # of section 10's 20 episodes, for the shipped network (it landed 100 of 100 held-out)


def prepared_notebook(episodes):
    """The notebook answered from its hints, training cut to episodes, section 10 watching the shipped network."""
    notebook = answered_notebook(load_notebook(), num_episodes=episodes)
    watch = [cell for cell in notebook.cells if "WATCH_SHIPPED_NETWORK = False" in cell.source]
    if len(watch) != 1:
        raise ValueError("expected one cell setting WATCH_SHIPPED_NETWORK = False")
    watch[0].source = watch[0].source.replace("WATCH_SHIPPED_NETWORK = False", "WATCH_SHIPPED_NETWORK = True")
    return notebook


def printed(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


def table(cell):
    """The first HTML table a cell shows, as {column: text}."""
    html = next(output["data"]["text/html"] for output in cell.outputs if "text/html" in output.get("data", {}))
    headers, values = re.findall(r"<th>(.*?)</th>", html), re.findall(r"<td>(.*?)</td>", html)
    return dict(zip(headers[1:1 + len(values)], values, strict=True))


def problems(notebook, workdir):
    """What is wrong with the executed notebook, as sentences (none when all is well)."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    found = []
    if "colab-setup" not in code[0].metadata.get("tags", []):
        found.append("the first code cell is not the Colab set-up cell")
    setup_lines = printed(code[0]).splitlines()
    kept = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in ("tensorflow", "keras", "numpy"))
    if len(setup_lines) != 1 or not re.fullmatch(rf"Colab: installed gym==0\.24\.0, .*; kept {re.escape(kept)}\.",
                                                   setup_lines[0]):
        found.append(f"the set-up cell printed {setup_lines}, not one line of what it installed, keeping {kept}")
    text = "".join(printed(cell) for cell in code)
    if text.count("All tests passed!") != 4:
        found.append(f"{text.count('All tests passed!')} of the 4 tests passed")
    if "Watching the network shipped with the project" not in text:
        found.append("section 10 did not watch the shipped network")
    evaluation = next(cell for cell in code if "evaluation" in cell.metadata.get("tags", []))
    landed = float(table(evaluation).get("landed at rest", "nan"))
    if not landed >= LANDED_AT_LEAST:
        found.append(f"the shipped network landed at rest in {landed:.0%} of the episodes, not {LANDED_AT_LEAST:.0%}")
    video = workdir / "videos" / "lunar_lander.mp4"
    if not video.is_file() or len(imageio.mimread(str(video), memtest=False)) < 10:
        found.append(f"no video of at least 10 frames at {video}")
    for cell in code:
        for output in cell.outputs:
            if output.output_type == "error" or output.get("name") == "stderr":
                found.append(f"the cell starting {cell.source[:40]!r} wrote {output.get('ename') or 'to stderr'}: "
                             f"{output.get('evalue') or output.get('text', '')[:500]}")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path, help="folder the notebook runs in (utils.py, public_tests.py, models/)")
    parser.add_argument("build", type=Path, help="where the executed notebook and its HTML go")
    parser.add_argument("--episodes", type=int, default=5, help="training episodes (default: 5)")
    args = parser.parse_args()
    notebook = prepared_notebook(args.episodes)
    notebook_client(notebook, args.workdir, timeout=1200).execute()
    save_outputs(notebook, args.build)
    found = problems(notebook, args.workdir)
    for problem in found:
        print(f"Colab-like run: {problem}", file=sys.stderr)
    if not found:
        print(f"Colab-like run: the set-up cell ran first, 4 tests passed, the shipped network landed, a video was "
              f"written, nothing on stderr ({args.build / 'C3_W3_A1_Assignment.ipynb'}).")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
