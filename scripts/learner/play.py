"""Fly the Lunar Lander yourself, then see your points beside the networks' on the same start.

A window shows the same LunarLander-v2 the notebook trains on. The lander waits for your first
arrow key:
  up     fires the main engine (action 2)
  left   pushes the lander left: it fires the right orientation engine (action 1)
  right  pushes the lander right: it fires the left orientation engine (action 3)
  none   does nothing (action 0)
Keys held together take turns, one engine a step (the environment takes one action a step).
When the episode ends, the window shows your points next to those of the network shipped in
models/ and of your own lunar_lander_model.h5 (where you have trained one), each flown greedily
from the same start, and adds your result to build/play_scores.csv. R flies the same start again,
N a new one, Esc quits.

Usage: python -m scripts.learner.play [--seed S] [--fps N] [--scores PATH] [--your-model PATH] [--verbose]
"""
import argparse
import contextlib
import os
import sys
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no banner: a missing display is one line
# SDL would draw the window through OpenGL, which on Linux loads Mesa and with it an LLVM that
# clashes with TensorFlow's own: the process crashes (segmentation fault) once both are loaded.
# The window's plain framebuffer needs no OpenGL, and is fast enough for this small window.
os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")

import pygame  # noqa: E402

from lander import flying
from scripts import ROOT

SHIPPED_MODEL = ROOT / "models" / "lunar_lander_model.h5"
LEARNERS_MODEL = ROOT / "lunar_lander_model.h5"  # where the notebook saves the learner's network
SCORES = ROOT / flying.SCORES

KEY_ACTIONS = {getattr(pygame, f"K_{name.upper()}"): action for name, action in flying.ARROW_ACTIONS.items()}
SCENE_SIZE = (600, 400)  # LunarLander-v2's frames
PANEL_HEIGHT = 100
WINDOW_SIZE = (SCENE_SIZE[0], SCENE_SIZE[1] + PANEL_HEIGHT)
TITLE = "Lunar Lander: fly it yourself"



# ----------------------------------------------------------------------------- the window

class NoDisplay(Exception):
    """There is no screen to open the window on."""


def open_window():
    """The game's window, or NoDisplay where SDL finds no screen (it then falls back to drawing off-screen)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise NoDisplay("neither DISPLAY nor WAYLAND_DISPLAY is set")
    try:
        with _native_stderr_silenced():  # SDL prints why each of its video drivers failed
            pygame.display.init()
    except pygame.error as error:
        raise NoDisplay(str(error)) from None
    driver = pygame.display.get_driver()
    if driver in ("offscreen", "dummy"):
        pygame.display.quit()
        raise NoDisplay(f"SDL found only its {driver!r} video driver")
    pygame.display.set_caption(TITLE)
    return pygame.display.set_mode(WINDOW_SIZE)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send what C libraries write to standard error to /dev/null for a while."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Painter:
    """Draws the scene, the panel of keys and points, and the messages over the scene."""

    BACKGROUND, TEXT, DIM, LIT = (24, 24, 32), (235, 235, 235), (150, 150, 160), (255, 170, 40)
    LOOKS = {"text": TEXT, "dim": DIM, "lit": LIT}  # flying.result_lines' looks

    def __init__(self, screen):
        pygame.font.init()
        self.screen = screen
        self.font = pygame.font.Font(None, 22)
        self.big = pygame.font.Font(None, 34)

    def scene(self, frame):
        """Blit an rgb frame of shape (400, 600, 3) at the top of the window."""
        self.screen.blit(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), (0, 0))

    def panel(self, seed, step, points, action):
        """The three arrow keys (lit while their engine fires) and the seed, step and points so far."""
        top = SCENE_SIZE[1]
        pygame.draw.rect(self.screen, self.BACKGROUND, (0, top, WINDOW_SIZE[0], PANEL_HEIGHT))
        for index, (direction, key_action, label) in enumerate(
                [("left", flying.PUSH_LEFT, "push left"), ("up", flying.MAIN_ENGINE, "main engine"),
                 ("right", flying.PUSH_RIGHT, "push right")]):
            centre = (60 + 110 * index, top + 30)
            self._key(centre, direction, lit=action == key_action)
            self._text(label, (centre[0], top + 58), self.DIM, centre=True)
        self._text("no key: do nothing", (170, top + 78), self.DIM, centre=True)
        self._text(f"seed {seed}", (390, top + 8), self.DIM)
        self._text(f"step {step}", (390, top + 32), self.TEXT)
        self._text(f"points {points:.1f}", (390, top + 56), self.TEXT)
        self._text("Esc quits", (390, top + 78), self.DIM)

    def message(self, lines):
        """Lines of (text, colour) in a dark box over the middle of the scene; the first line large."""
        fonts = [self.big] + [self.font] * (len(lines) - 1)
        surfaces = [font.render(text, True, colour) for font, (text, colour) in zip(fonts, lines, strict=True)]
        width = max(surface.get_width() for surface in surfaces) + 40
        height = sum(surface.get_height() + 8 for surface in surfaces) + 24
        box = pygame.Rect(0, 0, width, height)
        box.midtop = (SCENE_SIZE[0] // 2, 40)
        shade = pygame.Surface(box.size, pygame.SRCALPHA)
        shade.fill((10, 10, 20, 215))
        self.screen.blit(shade, box.topleft)
        y = box.top + 16
        for surface in surfaces:
            self.screen.blit(surface, (box.left + 20, y))
            y += surface.get_height() + 8

    def _key(self, centre, direction, lit):
        cap = pygame.Rect(0, 0, 46, 38)
        cap.center = centre
        pygame.draw.rect(self.screen, self.LIT if lit else (70, 70, 84), cap, border_radius=6)
        x, y = centre
        arrow = {"up": [(x, y - 12), (x - 10, y), (x - 4, y), (x - 4, y + 12), (x + 4, y + 12), (x + 4, y),
                        (x + 10, y)],
                 "left": [(x - 14, y), (x - 2, y - 10), (x - 2, y - 4), (x + 14, y - 4), (x + 14, y + 4),
                          (x - 2, y + 4), (x - 2, y + 10)]}
        points = arrow.get(direction) or [(2 * x - px, py) for px, py in arrow["left"]]
        pygame.draw.polygon(self.screen, self.BACKGROUND if lit else self.TEXT, points)

    def _text(self, text, position, colour, centre=False):
        surface = self.font.render(text, True, colour)
        place = surface.get_rect(midtop=position) if centre else surface.get_rect(topleft=position)
        self.screen.blit(surface, place)


# ----------------------------------------------------------------------------- the game

class Game:
    """One window, many flights: ready (the lander waits), flying, over (the points side by side)."""

    def __init__(self, screen, args, log):
        import gym

        # After the window is open: lander.startup, loaded with these, sets SDL's driver to draw off-screen.
        from lander import episodes, model_files, numpy_network
        self.episodes, self.model_files, self.numpy_network = episodes, model_files, numpy_network
        self.args, self.log = args, log
        self.painter = Painter(screen)
        self.env = gym.make("LunarLander-v2")
        # gym 0.24 renders into its own pygame window, made on the first frame; give it a surface
        # instead, so that it draws the scene into the arrays we blit into this window.
        self.env.unwrapped.screen = pygame.Surface(SCENE_SIZE)
        self.judge_env = gym.make("LunarLander-v2")  # the networks fly here, not drawn
        self.shipped = self._network(SHIPPED_MODEL)
        self.network_points = {}
        self.seed = args.seed if args.seed is not None else flying.NEW_SEEDS.randrange(100_000)
        self.clock = pygame.time.Clock()

    def run(self):
        """Play flights until Esc or the window is closed."""
        while True:
            if not self.fly_one():
                return
            if not self.wait_after(self.finish()):
                return

    def fly_one(self):
        """Wait for the first arrow key, then fly until the episode ends; False when the player quits."""
        state = self.env.reset(seed=self.seed)
        frame = self.env.render(mode="rgb_array")
        flight = {"total_points": 0.0, "steps": 0, "action_counts": [0] * 4}
        lines = [(f"Seed {self.seed}: press an arrow key to start", Painter.TEXT),
                 ("Up fires the main engine.", Painter.TEXT),
                 ("Left pushes the lander left (it fires the right engine),", Painter.TEXT),
                 ("right pushes it right (the left engine).", Painter.TEXT),
                 ("No key does nothing.", Painter.TEXT)]
        self._draw(frame, flight, None, lines)
        self.log(f"ready seed={self.seed}")
        while not self._keys_pressed(KEY_ACTIONS):
            if self.quitting:
                return False
            self.clock.tick(self.args.fps)
            self._draw(frame, flight, None, lines)  # again: a window uncovered on a desktop is drawn anew
        last_action, done = None, False
        while not done:
            self._keys_pressed(())
            if self.quitting:
                return False
            action = flying.action_for(flying.held_actions(pygame.key.get_pressed(), KEY_ACTIONS), flight["steps"])
            if action != last_action:
                self.log(f"step {flight['steps'] + 1} action {action} {flying.SHORT_NAMES[action]}")
                last_action = action
            state, reward, done, info = self.env.step(action)
            flight["total_points"] += reward
            flight["steps"] += 1
            flight["action_counts"][action] += 1
            frame = self.env.render(mode="rgb_array")
            self._draw(frame, flight, action)
            self.clock.tick(self.args.fps)
        flight["outcome"] = self.episodes.episode_outcome(self.env, state, done, info)
        self.flight, self.frame = flight, frame
        return True

    def finish(self):
        """Fly the networks from the same start, record the result and show the points side by side."""
        shipped = self._network_points("shipped", self.shipped)
        mine = self.args.your_model
        yours = self._network_points("yours", self._network(mine)) if mine.exists() else None
        flying.append_score(self.args.scores, flying.score_row(self.seed, self.flight, shipped, yours))
        flight = self.flight
        lines = [(text, Painter.LOOKS[look])
                 for text, look in flying.result_lines(self.seed, flight, shipped, yours, self.args.your_model.name)]
        self._draw(self.frame, flight, None, lines)
        self.log(f"over seed={self.seed} points={flight['total_points']:.2f} outcome={flight['outcome']} steps="
                 f"{flight['steps']} shipped={flying.points_or_blank(shipped)} yours={flying.points_or_blank(yours)}")
        print(f"Seed {self.seed}: you {flight['total_points']:.1f} points ({flight['outcome']}), the shipped network "
              f"{flying.describe(shipped, why=True)}, your network {flying.describe(yours, why=True)}.", flush=True)
        return lines

    def wait_after(self, lines):
        """Wait for R (same start), N (a new one) or Esc; False when the player quits."""
        while True:
            pressed = self._keys_pressed((pygame.K_r, pygame.K_n))
            if self.quitting:
                return False
            if pressed:
                if pressed[0] == pygame.K_n:
                    self.seed = flying.NEW_SEEDS.randrange(100_000)
                return True
            self._draw(self.frame, self.flight, None, lines)
            self.clock.tick(self.args.fps)

    def _keys_pressed(self, keys):
        """Which of keys were pressed since the last call; sets quitting on Esc or the window's close button."""
        events = pygame.event.get()
        self.quitting = any(event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE)
                            for event in events)
        return [event.key for event in events if event.type == pygame.KEYDOWN and event.key in keys]

    def _draw(self, frame, flight, action, lines=None):
        self.painter.scene(frame)
        self.painter.panel(self.seed, flight["steps"], flight["total_points"], action)
        if lines:
            self.painter.message(lines)
        pygame.display.flip()

    def _network(self, path):
        """The Q-network at path as a fast numpy network, or a dict saying why it cannot be flown."""
        try:
            return self.numpy_network.NumpyQNetwork(self.model_files.load_model(str(path)))
        except (FileNotFoundError, ValueError) as error:
            return {"problem": str(error)}

    def _network_points(self, name, network):
        """The greedy episode of network from this start (kept per seed); a dict with its problem if any."""
        if isinstance(network, dict):
            return network
        key = (name, self.seed, self.args.your_model.stat().st_mtime if name == "yours" else None)
        if key not in self.network_points:
            self.network_points[key] = self.episodes.play_episode(self.judge_env, network, seed=self.seed)
        return self.network_points[key]


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m scripts.learner.play", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=_seed, help="the start to fly (default: a new one each time)")
    parser.add_argument("--fps", type=_positive, default=flying.FPS,
                        help=f"steps a second (default {flying.FPS}; the simulation's own pace is 50)")
    parser.add_argument("--scores", type=Path, default=SCORES, help=f"the CSV of results (default {SCORES})")
    parser.add_argument("--your-model", type=Path, default=LEARNERS_MODEL,
                        help=f"your trained network, where it exists (default {LEARNERS_MODEL})")
    parser.add_argument("--verbose", action="store_true",
                        help="print when the lander is ready, each change of action and each result")
    return parser.parse_args(argv)


def _seed(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0, got {text!r}")
    return int(text)


def _positive(text):
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return int(text)


def main(argv=None):
    args = parse_arguments(argv)
    flying.check_scores_file(args.scores)
    try:
        screen = open_window()
    except NoDisplay as reason:
        print(f"No display to open the game's window on ({reason}): run python -m scripts.learner.play on a desktop, "
              "or under a virtual one (xvfb-run).", file=sys.stderr)
        return 1

    def log(line):
        if args.verbose:
            print(line, flush=True)
    Painter(screen).message([("Loading the networks...", Painter.TEXT)])
    pygame.display.flip()
    try:
        Game(screen, args, log).run()
    except KeyboardInterrupt:
        return 130
    finally:
        pygame.display.quit()
    log("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
