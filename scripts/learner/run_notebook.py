"""Execute the assignment notebook in a real Jupyter kernel, exercises answered from its hints.

Writes the executed notebook, its HTML export and the learning curve into build/; the
notebook itself writes lunar_lander_model.h5 and videos/lunar_lander.mp4. The training
cell's progress lines are echoed as they come. Ctrl-C once stops training (the remaining
cells still run, on what was learned so far); twice aborts and keeps what ran.

Usage: python -m scripts.learner.run_notebook [--episodes N] [--build DIR] [--workdir DIR]
"""
import argparse
import asyncio
import base64
import os
import signal
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError
from nbconvert import HTMLExporter

from scripts import ROOT
from scripts.notebook_tools import NOTEBOOK, answered_notebook, load_notebook, tagged_cells


class EchoingClient(NotebookClient):
    """A NotebookClient that also prints each cell's text output as it arrives."""

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            stream = sys.stderr if msg["content"]["name"] == "stderr" else sys.stdout
            stream.write(msg["content"]["text"])
            stream.flush()
        elif msg["msg_type"] == "error":
            print(f"\n{msg['content']['ename']}: {msg['content']['evalue']}", file=sys.stderr)
        return super().output(outs, msg, display_id, cell_index)


def interrupt_handler(client, loop):
    """First Ctrl-C interrupts the kernel (training stops, later cells run); the second aborts the run.

    The kernel is interrupted the way Jupyter does it on each system (a signal on Linux and
    macOS, an interrupt event on Windows); the handler may run outside the event loop.
    """
    def handle(*_):
        if handle.interrupted:
            print("\nAborting: keeping the cells that ran.", flush=True)
            client.km.provisioner.process.kill()
            return
        handle.interrupted = True
        print("\nInterrupting training (Ctrl-C again to abort)...", flush=True)
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(client.km.interrupt_kernel()))
    handle.interrupted = False
    return handle


def install_interrupt_handler(client):
    """Replace nbclient's SIGINT handler (which shuts the kernel down) with interrupt_handler."""
    def on_notebook_start(notebook):
        loop = asyncio.get_running_loop()
        handler = interrupt_handler(client, loop)
        try:
            loop.add_signal_handler(signal.SIGINT, handler)
        except NotImplementedError:  # Windows: asyncio has no signal handlers there
            signal.signal(signal.SIGINT, handler)
    client.on_notebook_start = on_notebook_start


def save_outputs(notebook, build):
    """Write the executed notebook, its HTML and the learning-curve PNG into build/; return their paths."""
    build.mkdir(parents=True, exist_ok=True)
    paths = {"executed notebook": build / NOTEBOOK.name,
             "HTML export": build / NOTEBOOK.with_suffix(".html").name}
    nbformat.write(notebook, str(paths["executed notebook"]))
    html, _ = HTMLExporter().from_notebook_node(notebook)
    paths["HTML export"].write_text(html, encoding="utf-8")
    for cell in tagged_cells(notebook, "learning-curve"):
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                paths["learning curve"] = build / "learning_curve.png"
                paths["learning curve"].write_bytes(base64.b64decode(output["data"]["image/png"]))
    return paths


def notebook_client(notebook, workdir, timeout=3600, client_class=EchoingClient):
    """A client that runs notebook in this environment's own kernel, in the folder workdir."""
    os.environ.pop("MPLBACKEND", None)  # the kernel's own inline backend puts the plot in the notebook
    # Use this environment's kernel even where the user has another "python3" kernel installed.
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(Path(sys.prefix) / "share" / "jupyter"),
                                                 os.environ.get("JUPYTER_PATH", "")])
    return client_class(notebook, timeout=timeout, kernel_name="python3",
                        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no start-up chatter
                        resources={"metadata": {"path": str(workdir)}})


def report(paths, workdir):
    """Print where the results are."""
    print("\nResults:")
    for label, path in [("trained model", workdir / "lunar_lander_model.h5"),
                        ("video", workdir / "videos" / "lunar_lander.mp4"), *paths.items()]:
        shown = os.path.relpath(path)
        state = shown if path.exists() else f"{shown} (not written)"
        print(f"  {label:18} {state}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, help="train for at most N episodes (default: the notebook's)")
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="where results go (default: build/)")
    parser.add_argument("--workdir", type=Path, default=ROOT,
                        help="folder the notebook runs in, holding utils.py and public_tests.py (default: here)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    args = parser.parse_args()

    notebook = answered_notebook(load_notebook(), num_episodes=args.episodes)
    client = notebook_client(notebook, args.workdir, args.timeout)
    install_interrupt_handler(client)
    started = time.time()
    status = 0
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"\nA cell failed:\n{error}", file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, DeadKernelError):
        print("\nThe run was aborted; keeping the cells that ran.", file=sys.stderr)
        status = 130
    report(save_outputs(notebook, args.build), args.workdir)
    print(f"Notebook run took {time.time() - started:.0f} s.")
    return status


if __name__ == "__main__":
    sys.exit(main())
