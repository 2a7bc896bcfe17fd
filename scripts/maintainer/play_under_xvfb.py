"""Fly scripts.learner.play on a virtual screen with real key presses: Xvfb for the screen, xdotool for the keys.

The play test drives the game through it, and it makes README's picture of the window:

    python -m scripts.maintainer.play_under_xvfb --screenshot images/play.png [--seed S]

Every wait here waits for something to happen (a line the game prints, a window, a process
ending), with a deadline only to fail instead of hanging: nothing assumes how fast the machine is.
"""
import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from scripts import ROOT

DEADLINE = 180  # seconds: a wait that lasts longer has failed (TensorFlow starts in seconds, a flight in 35 at most)
SCREEN_SIZE = (800, 600)
TOOLS = ("Xvfb", "xdotool")


def missing_tools():
    """The programs this module needs and cannot find (Debian: apt-get install xvfb xdotool)."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@contextlib.contextmanager
def virtual_screen(size=SCREEN_SIZE):
    """Start an Xvfb server on a free display number and yield that display (":N"); stop it after."""
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as messages:  # a file, not a pipe: Xvfb never blocks on a full one
        server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                                   f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"], pass_fds=(write_end,),
                                  stdout=subprocess.DEVNULL, stderr=messages)
        os.close(write_end)
        try:
            with os.fdopen(read_end) as pipe:
                number = pipe.readline().strip()  # Xvfb writes its display number once it accepts clients
            if not number.isdigit():
                server.kill()
                server.wait()
                messages.seek(0)
                raise RuntimeError(f"Xvfb did not start: {messages.read().decode(errors='replace')[-500:]}")
            yield f":{number}"
        finally:
            server.terminate()
            server.wait()


class Game:
    """python -m scripts.learner.play --verbose on a display: its printed lines, its window, keys sent to it.

    state follows the lines read so far: "loading", "ready" (the lander waits for an arrow key),
    "flying" or "over".
    """

    def __init__(self, display, *arguments):
        self.display = display
        environment = {name: value for name, value in os.environ.items()
                       if name not in ("SDL_VIDEODRIVER", "WAYLAND_DISPLAY") and not name.startswith("PYTEST_")}
        environment["DISPLAY"] = display
        self.process = subprocess.Popen([sys.executable, "-m", "scripts.learner.play", "--verbose", *arguments],
                                        cwd=ROOT,
                                        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines, self.read, self.ended = [], 0, False  # lines printed, how many were read, output ended
        self.changed = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()
        self.state, self.window = "loading", None

    def _collect(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, *starts):
        """The next line the game prints that begins with one of starts; an error if its output ends first."""
        deadline = time.monotonic() + DEADLINE
        with self.changed:
            while True:
                while self.read < len(self.lines):
                    line = self.lines[self.read]
                    self.read += 1
                    self.state = {"ready": "ready", "step": "flying", "over": "over"}.get(line.split(" ")[0],
                                                                                         self.state)
                    if line.startswith(starts):
                        return line
                if self.ended:
                    raise RuntimeError(f"The game ended (exit code {self.process.wait()}) before printing "
                                       f"{' or '.join(starts)!r}:\n" + "\n".join(self.lines[-30:]))
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"No {' or '.join(starts)!r} from the game in {DEADLINE} s:\n"
                                       + "\n".join(self.lines[-30:]))

    def find_window(self):
        """The game's window, found by its process id, and give it the keyboard."""
        found = self._xdotool("search", "--sync", "--onlyvisible", "--pid", str(self.process.pid))
        self.window = found.split()[0]
        self._xdotool("windowfocus", "--sync", self.window)
        return self.window

    def window_name(self):
        return self._xdotool("getwindowname", self.window).strip()

    def window_closed(self):
        """Whether the game's window is gone, waiting for the X server to have removed it."""
        deadline = time.monotonic() + DEADLINE
        while subprocess.run(["xdotool", "getwindowname", self.window], env=self._env(),
                             capture_output=True).returncode == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def key_down(self, key):
        self._xdotool("keydown", key)

    def key_up(self, key):
        self._xdotool("keyup", key)

    def press(self, key):
        self._xdotool("key", key)

    def wait_exit(self):
        """The game's exit code, once it has ended."""
        return self.process.wait(timeout=DEADLINE)

    def stop(self):
        """End the game if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def screenshot(self, path):
        """Save what the game's window shows now to the PNG at path."""
        from PIL import ImageGrab
        geometry = dict(line.split("=") for line in
                        self._xdotool("getwindowgeometry", "--shell", self.window).split())
        left, top = int(geometry["X"]), int(geometry["Y"])
        box = (left, top, left + int(geometry["WIDTH"]), top + int(geometry["HEIGHT"]))
        ImageGrab.grab(bbox=box, xdisplay=self.display).save(path)

    def _env(self):
        return {**os.environ, "DISPLAY": self.display}

    def _xdotool(self, *arguments):
        result = subprocess.run(["xdotool", *arguments], env=self._env(), capture_output=True, text=True,
                                timeout=DEADLINE)
        if result.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(arguments)} failed: {result.stderr.strip()}")
        return result.stdout


def fire(game, key):
    """Hold key until the game takes a step with it, let go, and see the game's next change.

    Returns the two lines: the step the key fired, and the next one (do nothing again, or the
    flight's end). A flight starts on an arrow key with that key held, so its first step fires
    that key's engine; when a flight has ended, R starts the same start again first.
    """
    while True:
        if game.state == "over":
            game.press("r")
            game.wait_for("ready")
        game.key_down(key)
        fired = game.wait_for("step", "over")
        game.key_up(key)
        if fired.startswith("step"):
            return fired, game.wait_for("step", "over")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.maintainer.play_under_xvfb",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--seed", default="5", help="the start to fly (default 5)")
    args = parser.parse_args(argv)
    if missing_tools():
        raise SystemExit(f"Needs {' and '.join(missing_tools())} (Debian, Ubuntu: apt-get install xvfb xdotool)")
    with tempfile.TemporaryDirectory() as scratch, virtual_screen() as display:
        game = Game(display, "--seed", args.seed, "--scores", str(Path(scratch) / "scores.csv"))
        try:
            game.wait_for("ready")
            game.find_window()
            for key in ("Up", "Left", "Right"):  # main engine, a push each way, then the lander falls
                fire(game, key)
            if game.state != "over":
                game.wait_for("over")
            game.screenshot(args.screenshot)
            game.press("Escape")
            game.wait_exit()
        finally:
            game.stop()
    print(f"Wrote {args.screenshot}")


if __name__ == "__main__":
    main()
