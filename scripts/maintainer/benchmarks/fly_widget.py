"""The notebook's flight (widgets.Fly): frames a second, in this process and from a real kernel.

In this process: the milliseconds of one Fly.tick() while flying (a step, its frame rendered,
encoded as JPEG and put in the widget's state) against the baseline of the step and its render
alone, over --frames frames of a flight with the main engine on. Then a real Jupyter kernel (as a
notebook's page has) runs the fly cell's widget with its clock started; the keys go to it as
the page sends them (Up held), and the frames that reach this client are counted for --seconds:
the rate a learner's page gets. The last line printed is one JSON object with the figures.

Usage: python -m scripts.maintainer.benchmarks.fly_widget [--frames N] [--seconds S]
"""
import argparse
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import utils  # first: it sets TensorFlow's logging before TensorFlow loads

# isort: split
import gym
from jupyter_client.manager import start_new_kernel

from lander import flying, widgets
from scripts import ROOT
from scripts.learner import play

# Runs in the kernel: the widget the fly cell makes, its scores in a folder of their own, its clock started.
KERNEL_CODE = """
import utils
from lander import widgets
network = utils.load_model({model!r})
widget = widgets.Fly(network, seed=3, scores={scores!r}).start()
print(widget.comm.comm_id)
"""


def time_ticks(frames):
    """Milliseconds a frame: (the environment's step and render, Fly.tick), medians over frames frames."""
    network = utils.load_model(str(play.SHIPPED_MODEL))
    env = gym.make("LunarLander-v2")
    env.reset(seed=3)
    bare = []
    for _ in range(frames):
        started = time.perf_counter()
        env.step(flying.MAIN_ENGINE)
        env.render(mode="rgb_array")
        bare.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as folder:
        widget = widgets.Fly(network, seed=3, scores=Path(folder) / "scores.csv")
        widget._on_message(widget, {"event": "down", "key": "up"}, [])
        ticks, sizes = [], []
        for _ in range(frames):
            started = time.perf_counter()
            widget.tick()
            ticks.append(time.perf_counter() - started)
            sizes.append(len(widget.frame))
        widget.close()
    return 1000 * statistics.median(bare), 1000 * statistics.median(ticks), statistics.median(sizes)


def kernel_rate(seconds):
    """Steps a second whose update (status, and the frame where it changed) reaches a client from a real
    kernel flying with Up held, over seconds (or to the flight's end, when the lander has flown off the
    side), and the seconds counted."""
    with tempfile.TemporaryDirectory() as folder:
        manager, client = start_new_kernel(cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
                                           stderr=subprocess.DEVNULL)  # its notice on TCP without encryption
        try:
            code = KERNEL_CODE.format(model=str(play.SHIPPED_MODEL), scores=str(Path(folder) / "scores.csv"))
            printed = []
            reply = client.execute_interactive(code, allow_stdin=True, timeout=300, output_hook=printed.append)
            if reply["content"]["status"] != "ok":
                raise SystemExit(f"the kernel could not start the widget: {reply['content']}")
            (comm_id,) = [message["content"]["text"].strip() for message in printed if message["msg_type"] == "stream"]
            key = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "down", "key": "up"}}}
            client.shell_channel.send(client.session.msg("comm_msg", key))  # what the page sends on keydown
            frames, first, last = 0, None, None
            while first is None or last - first < seconds:
                try:
                    message = client.get_iopub_msg(timeout=10 if first is None else 2)
                except queue.Empty:
                    if first is None:
                        raise SystemExit("the kernel sent no step for 10 s") from None
                    break  # the flight is over (the lander flew off): counted up to its last step
                data = message["content"].get("data", {}) if message["msg_type"] == "comm_msg" else {}
                # One update a step: its status (the step's number) always, its frame where the scene changed
                # (a lander flown above the screen's top leaves the same picture: traitlets sends no copy).
                if data.get("method") == "update" and "status" in data.get("state", {}):
                    last = time.perf_counter()
                    if first is None:
                        first = last  # counted from the flight's first step
                    else:
                        frames += 1
            return frames / (last - first), last - first
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="frames timed in this process (default 300)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of frames counted from the kernel "
                                                                   "(default 5)")
    arguments = parser.parse_args(argv)
    bare_ms, tick_ms, jpeg_bytes = time_ticks(arguments.frames)
    fps, seconds = kernel_rate(arguments.seconds)
    figures = {"frames": arguments.frames, "step_and_render_ms": round(bare_ms, 2), "tick_ms": round(tick_ms, 2),
               "tick_over_step_and_render": round(tick_ms / bare_ms, 2), "jpeg_kib": round(jpeg_bytes / 1024, 1),
               "most_fps_in_process": round(1000 / tick_ms, 1), "clock_fps": widgets.FPS,
               "kernel_fps": round(fps, 1),
               "kernel_seconds": round(seconds, 2), "load_1min": round(os.getloadavg()[0], 2),
               "python": platform.python_version(), "machine": platform.machine()}
    print(f"Flying with the main engine on, medians of {arguments.frames} frames:")
    print(f"  the environment's step and render   {bare_ms:6.2f} ms a frame")
    ratio = figures["tick_over_step_and_render"]
    print(f"  Fly.tick (and JPEG, widget state)   {tick_ms:6.2f} ms a frame ({ratio:.2f} times; at most "
          f"{figures['most_fps_in_process']:.0f} frames a second), {figures['jpeg_kib']} KiB a frame")
    print(f"  from a real kernel, clock at {widgets.FPS} fps  {fps:6.1f} frames a second reached the client "
          f"over {seconds:.1f} s, a step's update each (load {figures['load_1min']})")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
