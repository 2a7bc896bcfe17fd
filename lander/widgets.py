"""Widgets for the notebook's section 10: probe the Q-network, and fly the lander in the page.

probe(q_network) shows a slider for each of the state's six numbers and a toggle for each leg; as
they move, bars show the network's four Q-values for that state, the greedy action named, and a map
beside them shows the greedy action over two of the state's numbers (x against y at first).

fly(shipped, yours) shows the environment's frames in a canvas: click it, then fly with the arrow
keys, as in `make play` (scripts/learner/play.py; both fly and score by lander/flying.py). The kernel
steps the environment at a fixed rate in a thread of its own and sends each frame as a JPEG. At
the end your points stand beside the networks', flown from the same start, and the result goes
to build/play_scores.csv. R flies the same start again, N a new one, Esc stops.

Both need a notebook open in a page (JupyterLab, Jupyter Notebook, Colab, VS Code); elsewhere (a
run by nbclient as `make run` does, a console) they print one line saying where to try them.
"""
import io
import threading
import time
from pathlib import Path

from lander import startup  # noqa: F401  first: TensorFlow's and gym's start-up settings

# isort: split
import anywidget
import gym
import ipywidgets as widgets
import numpy as np
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from lander import flying
from lander.environment import ACTION_NAMES, STATE_NAMES, as_state
from lander.episodes import episode_outcome, play_episode
from lander.flying import ARROW_ACTIONS, SHORT_NAMES
from lander.numpy_network import NumpyQNetwork
from lander.video import QValuePanel

# ----------------------------------------------------------------------------- where widgets can show

def why_no_widgets():
    """Why no page can show a widget here, or None where one can.

    Widgets need a page that draws them: a notebook opened in JupyterLab, Jupyter Notebook, Colab
    or VS Code. Outside a Jupyter kernel there is none. A kernel driven by nbclient (as `make run`
    does) has none either; nbclient, having no one to type an answer to input(), says so in each
    request it sends (allow_stdin False), where those pages say True.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return "not in a Jupyter kernel"
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return "not in a Jupyter kernel"
    if not getattr(kernel, "_allow_stdin", True):
        return "run by nbclient, as make run does: no page draws widgets"
    return None


def _where_to_try(what):
    """The one line printed instead of a widget, or None where widgets can show."""
    reason = why_no_widgets()
    if reason:
        return f"{what} needs a notebook open in a page ({reason}): open it in JupyterLab or Colab and run this cell."
    return None


# ----------------------------------------------------------------------------- probe the network

# The six numbers of the state: (low, high, start) of each slider, and what its units are.
# x and y are measured from the pad's centre: x in half screen-widths (the screen's edges at -1
# and 1), y in half screen-heights (the lander starts at about 1.4).
STATE_SLIDERS = {
    "x position": (-1.0, 1.0, 0.0, "half screen-widths from the pad's centre; edges at ±1"),
    "y position": (-0.1, 1.5, 0.8, "half screen-heights above the pad; the start is about 1.4"),
    "x velocity": (-2.0, 2.0, 0.0, "positive: moving right"),
    "y velocity": (-2.0, 1.0, -0.4, "positive: moving up"),
    "angle": (-1.5, 1.5, 0.0, "radians; positive: tilted to the left (anticlockwise)"),
    "angular velocity": (-1.5, 1.5, 0.0, "positive: turning anticlockwise"),
}
LEG_NAMES = STATE_NAMES[6:]
MAP_SIZE = 81  # the policy map's grid: MAP_SIZE x MAP_SIZE states, one forward pass
ACTION_COLOURS = ("#9e9e9e", "#3b7dd8", "#f08c00", "#2f9e44")  # do nothing, right, main, left engine


class Probe(widgets.HBox):
    """Sliders for a state, the network's Q-values for it as bars, and a map of the greedy action."""

    def __init__(self, q_network):
        self.network = NumpyQNetwork(q_network)
        self.sliders = {name: widgets.FloatSlider(value=start, min=low, max=high, step=0.01, description=name,
                                                  readout_format=".2f", style={"description_width": "120px"},
                                                  layout={"width": "380px"}, tooltip=units)
                        for name, (low, high, start, units) in STATE_SLIDERS.items()}
        self.legs = {name: widgets.ToggleButton(value=False, description=name, layout={"width": "180px"})
                     for name in LEG_NAMES}
        self.bars = [widgets.FloatProgress(value=0.0, min=0.0, max=1.0, layout={"width": "200px"})
                     for _ in ACTION_NAMES]
        self.readouts = [widgets.Label().add_class("lander-q") for _ in ACTION_NAMES]
        self.greedy = widgets.HTML().add_class("lander-greedy")
        self.scale = QValuePanel()  # the bars' scale: it only widens, so bars compare as sliders move
        names = list(STATE_SLIDERS)
        self.x_axis = widgets.Dropdown(options=names, value=names[0], description="map across").add_class("lander-x")
        self.y_axis = widgets.Dropdown(options=names, value=names[1], description="map up").add_class("lander-y")
        self.map = widgets.Image(format="png").add_class("lander-map")
        self._image, self._marker = self._map_figure()
        self._canvas = FigureCanvasAgg(self._image.figure)
        self._draw_frame()
        rows = [widgets.HBox([widgets.Label(name, layout={"width": "230px"}), bar, readout])
                for name, bar, readout in zip(ACTION_NAMES, self.bars, self.readouts, strict=True)]
        controls = widgets.VBox([widgets.HTML("<b>The state</b> (pad at x = 0, y = 0)"), *self.sliders.values(),
                                 widgets.HBox(list(self.legs.values())),
                                 widgets.HTML("<b>Q-values</b>: points to come after each action"), *rows,
                                 self.greedy])
        super().__init__([controls, widgets.VBox([widgets.HBox([self.x_axis, self.y_axis]), self.map])])
        self.add_class("lander-probe")
        self._setting = False  # True while set_state moves the controls: one refresh at the end
        for control in [*self.sliders.values(), *self.legs.values()]:
            control.observe(lambda _: self._setting or self.refresh(), names="value")
        self.x_axis.observe(self._axis_changed, names="value")
        self.y_axis.observe(self._axis_changed, names="value")
        self.refresh()

    def __repr__(self):  # the text an HTML export or a console shows in the widget's place
        return "Probing the network: a live widget; open this notebook in JupyterLab or Colab to use it."

    def state(self):
        """The state the controls set: a float32 vector of 8, in the environment's order."""
        numbers = [self.sliders[name].value for name in STATE_SLIDERS]
        return np.array(numbers + [float(self.legs[name].value) for name in LEG_NAMES], dtype=np.float32)

    def set_state(self, state):
        """Move the controls to state (8 numbers, as env.reset() or env.step() give; each slider stops at its ends)."""
        numbers = as_state("state", state)
        self._setting = True
        try:
            for slider, value in zip(self.sliders.values(), numbers[:6], strict=True):
                slider.value = float(value)
            for toggle, value in zip(self.legs.values(), numbers[6:], strict=True):
                toggle.value = bool(value)
        finally:
            self._setting = False
        self.refresh()

    def q_values(self):
        """The four Q-values the bars show."""
        return [bar.value for bar in self.bars]

    def refresh(self):
        """Show the Q-values of the controls' state and redraw the map around it."""
        state = self.state()
        values = self.network(state)[0]
        low, high = self.scale.widen(values)
        greedy = int(np.argmax(values))
        for number, (bar, readout, value) in enumerate(zip(self.bars, self.readouts, values, strict=True)):
            if low > bar.max:  # the order that never has min above max; the scale covers every value
                bar.max, bar.min = high, low
            else:
                bar.min, bar.max = low, high
            bar.value = float(value)
            bar.bar_style = "warning" if number == greedy else "info"
            readout.value = f"{value:.3f}"
        self.greedy.value = f"Greedy action: <b>{ACTION_NAMES[greedy]}</b>"
        self.draw_map(state)

    def policy_grid(self, state):
        """The greedy action over the map's grid (rows from low to high y), the other numbers from state."""
        x_name, y_name = self.x_axis.value, self.y_axis.value
        names = list(STATE_SLIDERS)
        xs = np.linspace(*STATE_SLIDERS[x_name][:2], MAP_SIZE, dtype=np.float32)
        ys = np.linspace(*STATE_SLIDERS[y_name][:2], MAP_SIZE, dtype=np.float32)
        states = np.tile(state, (MAP_SIZE * MAP_SIZE, 1))
        grid_x, grid_y = np.meshgrid(xs, ys)
        states[:, names.index(x_name)] = grid_x.ravel()
        states[:, names.index(y_name)] = grid_y.ravel()
        return np.argmax(self.network(states), axis=1).reshape(MAP_SIZE, MAP_SIZE)

    def draw_map(self, state):
        """Redraw the map's greedy actions and the marker at state (the frame is drawn when the axes change)."""
        names = list(STATE_SLIDERS)
        self._image.set_data(self.policy_grid(state))
        self._marker.set_data([state[names.index(self.x_axis.value)]], [state[names.index(self.y_axis.value)]])
        axes = self._image.axes
        for artist in [self._image, self._marker, *axes.spines.values()]:
            axes.draw_artist(artist)  # over the last frame: a full draw costs ten times as much
        png = io.BytesIO()
        Image.fromarray(np.asarray(self._canvas.buffer_rgba())).convert("RGB").save(png, format="PNG")
        self.map.value = png.getvalue()

    def _draw_frame(self):
        """Draw the map's axes for the chosen pair of numbers, and the legend."""
        x_name, y_name = self.x_axis.value, self.y_axis.value
        self._image.set_extent([*STATE_SLIDERS[x_name][:2], *STATE_SLIDERS[y_name][:2]])
        axes = self._image.axes
        axes.set_xlim(*STATE_SLIDERS[x_name][:2])
        axes.set_ylim(*STATE_SLIDERS[y_name][:2])
        axes.set_xlabel(x_name)
        axes.set_ylabel(y_name)
        self._canvas.draw()

    def _map_figure(self):
        figure = Figure(figsize=(5.4, 4.6), dpi=80)
        figure.subplots_adjust(left=0.16, right=0.97, top=0.93, bottom=0.27)
        axes = figure.add_subplot()
        image = axes.imshow(np.zeros((MAP_SIZE, MAP_SIZE), int), origin="lower", aspect="auto",
                            cmap=ListedColormap(ACTION_COLOURS), vmin=-0.5, vmax=len(ACTION_COLOURS) - 0.5,
                            interpolation="nearest")
        (marker,) = axes.plot([0], [0], marker="o", markersize=9, markerfacecolor="none", markeredgecolor="black",
                              markeredgewidth=2)
        axes.set_title("Greedy action; the other numbers at the sliders'", fontsize=10)
        figure.legend(handles=[Patch(color=colour, label=name)
                               for colour, name in zip(ACTION_COLOURS, ACTION_NAMES, strict=True)],
                      loc="lower center", ncols=2, fontsize=9, frameon=False)
        return image, marker

    def _axis_changed(self, change):
        """A map with one number on both axes says nothing: the other axis takes the old choice."""
        other = self.y_axis if change["owner"] is self.x_axis else self.x_axis
        if other.value == change["new"]:
            other.value = change["old"]  # its own observer redraws
            return
        self._draw_frame()
        self.draw_map(self.state())


def probe(q_network):
    """Show the probe for q_network (a Keras Q-network); elsewhere than in a page, one line on where to try it."""
    line = _where_to_try("Probing the network")
    if line:
        print(line)
        return None
    return Probe(q_network)


# ----------------------------------------------------------------------------- fly it yourself

FPS = flying.FPS
JPEG_QUALITY = 80
FLY_KEYS = (*ARROW_ACTIONS, "escape", "r", "n")

FLY_ESM = """
const KEYS = {ArrowUp: "up", ArrowLeft: "left", ArrowRight: "right", Escape: "escape", r: "r", R: "r", n: "n", N: "n"};

function render({ model, el }) {
  el.classList.add("lander-fly");
  const stage = document.createElement("div");
  stage.className = "lander-stage";
  const canvas = document.createElement("canvas");
  canvas.width = 600; canvas.height = 400; canvas.tabIndex = 0;
  canvas.dataset.lmSuppressShortcuts = "true";  // JupyterLab's own shortcuts stay off while it has focus
  canvas.dataset.framesDrawn = "0";
  const message = document.createElement("div");
  message.className = "lander-message";
  const status = document.createElement("div");
  status.className = "lander-status";
  stage.append(canvas, message);
  el.append(stage, status);
  canvas.dataset.framesReceived = "0";
  const context = canvas.getContext("2d");
  let decoding = false;

  async function draw() {  // one frame decoded at a time; frames that came meanwhile give way to the newest
    canvas.dataset.framesReceived = String(Number(canvas.dataset.framesReceived) + 1);
    if (decoding) return;
    decoding = true;
    try {
      let bytes = null;
      while (bytes !== model.get("frame")) {
        bytes = model.get("frame");
        if (!bytes || !bytes.byteLength) return;
        const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
        context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        bitmap.close();
        canvas.dataset.framesDrawn = String(Number(canvas.dataset.framesDrawn) + 1);
      }
    } finally {
      decoding = false;
    }
  }
  function show() {
    const focused = document.activeElement === canvas;
    status.textContent = model.get("status") + (focused ? "" : "   (click the scene to fly)");
    message.replaceChildren(...model.get("message").map(([text, look]) => {
      const line = document.createElement("div");
      line.className = "lander-" + look;
      line.textContent = text;
      return line;
    }));
    message.style.display = model.get("message").length ? "block" : "none";
  }
  function key(kind) {
    return (event) => {
      const name = KEYS[event.key];
      if (!name) return;
      event.preventDefault();
      event.stopPropagation();
      if (kind === "down" && event.repeat) return;
      model.send({ event: kind, key: name });
    };
  }
  canvas.addEventListener("keydown", key("down"));
  canvas.addEventListener("keyup", key("up"));
  canvas.addEventListener("blur", () => { model.send({ event: "release" }); show(); });
  canvas.addEventListener("focus", show);
  canvas.addEventListener("mousedown", () => canvas.focus());
  model.on("change:frame", draw);
  model.on("change:status", show);
  model.on("change:message", show);
  draw();
  show();
}
export default { render };
"""

FLY_CSS = """
.lander-fly { display: inline-block; font-family: sans-serif; }
.lander-stage { position: relative; width: 600px; height: 400px; }
.lander-stage canvas { display: block; outline: none; border: 2px solid #555; }
.lander-stage canvas:focus { border-color: #f08c00; }
.lander-message { position: absolute; left: 50%; top: 40px; transform: translateX(-50%); padding: 14px 20px;
                  background: rgba(10, 10, 20, 0.85); color: #ebebeb; font-size: 14px; line-height: 1.6;
                  white-space: pre; pointer-events: none; }
.lander-message .lander-lit { color: #ffaa28; }
.lander-message .lander-lit:first-child { font-size: 20px; }
.lander-message .lander-dim { color: #9696a0; }
.lander-status { font-family: monospace; padding: 4px 0; }
"""

READY_LINES = [("Click here, then press an arrow key to start", "text"),
               ("Up fires the main engine.", "text"),
               ("Left pushes the lander left (it fires the right engine),", "text"),
               ("right pushes it right (the left engine).", "text"),
               ("No key does nothing. Esc stops.", "text")]


class Fly(anywidget.AnyWidget):
    """Fly the lander in the page: ready (the lander waits), flying, over (points side by side), stopped.

    The page sends the keys pressed and let go; tick() does one frame's work, and start() calls it
    FPS times a second in a thread, so the kernel stays free to take the keys.
    """

    _esm = FLY_ESM
    _css = FLY_CSS
    frame = traitlets.Bytes(b"").tag(sync=True)  # the scene, as JPEG
    status = traitlets.Unicode("").tag(sync=True)  # seed, step, points, height and the engine firing
    message = traitlets.List([]).tag(sync=True)  # lines over the scene: [text, look]

    def __init__(self, shipped, yours=None, your_name="network", seed=None, scores=flying.SCORES, fps=FPS):
        super().__init__()
        self.scores, self.fps, self.your_name = Path(scores), fps, your_name
        flying.check_scores_file(self.scores)
        self.env, self.judge_env = gym.make("LunarLander-v2"), gym.make("LunarLander-v2")
        self.networks = {"shipped": NumpyQNetwork(shipped),
                         "yours": NumpyQNetwork(yours) if yours is not None else None}
        self.network_points = {}
        self.seed = seed if seed is not None else flying.NEW_SEEDS.randrange(100_000)
        self.held, self.pressed = set(), []
        self._keys_lock, self._thread, self._running = threading.Lock(), None, False
        self.on_msg(self._on_message)
        self.new_flight()

    def __repr__(self):  # the text an HTML export or a console shows in the widget's place
        return "Flying the lander: a live widget; open this notebook in JupyterLab or Colab to fly it."

    # the page's keys
    def _on_message(self, _widget, content, _buffers):
        with self._keys_lock:
            if content.get("event") == "down" and content.get("key") in FLY_KEYS:
                self.held.add(content["key"])
                self.pressed.append(content["key"])
            elif content.get("event") == "up":
                self.held.discard(content.get("key"))
            elif content.get("event") == "release":
                self.held.clear()

    def _take_keys(self):
        """The keys pressed since the last frame, and the arrow keys' actions held now."""
        with self._keys_lock:
            pressed, self.pressed = self.pressed, []
            held = flying.held_actions({name: name in self.held for name in ARROW_ACTIONS}, ARROW_ACTIONS)
        return pressed, held

    # the game
    def new_flight(self):
        """Put the lander at this seed's start and wait for the first arrow key."""
        self.state = self.env.reset(seed=self.seed)
        self.flight = {"total_points": 0.0, "steps": 0, "action_counts": [0] * 4}
        self.phase = "ready"
        self._show(None, READY_LINES)

    def tick(self):
        """One frame: take the keys, step when flying; False once stopped."""
        pressed, held = self._take_keys()
        if "escape" in pressed:
            self.phase = "stopped"
            self._show(None, [("Stopped: run the cell again to fly again", "text")])
            return False
        if self.phase == "ready" and (held or any(key in ARROW_ACTIONS for key in pressed)):
            self.phase = "flying"
        if self.phase == "flying":
            self._step(held)
        elif self.phase == "over" and ("r" in pressed or "n" in pressed):
            if pressed[-1] == "n" or "r" not in pressed:
                self.seed = flying.NEW_SEEDS.randrange(100_000)
            self.new_flight()
        return True

    def _step(self, held):
        action = flying.action_for(held, self.flight["steps"])
        self.state, reward, done, info = self.env.step(action)
        self.flight["total_points"] += reward
        self.flight["steps"] += 1
        self.flight["action_counts"][action] += 1
        if not done:
            self._show(action)
            return
        self.flight["outcome"] = episode_outcome(self.env, self.state, done, info)
        self.phase = "over"
        shipped = self._network_points("shipped")
        yours = self._network_points("yours")
        flying.append_score(self.scores, flying.score_row(self.seed, self.flight, shipped, yours))
        self._show(None, flying.result_lines(self.seed, self.flight, shipped, yours, self.your_name))

    def _network_points(self, name):
        """The greedy episode of a network from this start (kept per seed); None without the network."""
        if self.networks[name] is None:
            return None
        if (name, self.seed) not in self.network_points:
            self.network_points[name, self.seed] = play_episode(self.judge_env, self.networks[name],
                                                                      seed=self.seed)
        return self.network_points[name, self.seed]

    def _show(self, action, lines=()):
        """Send the frame, the status line and the message lines to the page."""
        frame = io.BytesIO()
        Image.fromarray(self.env.render(mode="rgb_array")).save(frame, format="JPEG", quality=JPEG_QUALITY)
        engine = SHORT_NAMES[action] if action is not None else "-"
        with self.hold_sync():
            self.frame = frame.getvalue()
            self.status = (f"seed {self.seed}  step {self.flight['steps']}  points "
                           f"{self.flight['total_points']:.1f}  x {self.state[0]:+.3f}  y {self.state[1]:+.3f}  "
                           f"firing: {engine}")
            self.message = [list(line) for line in lines]

    # the clock
    def start(self):
        """Tick FPS times a second in a thread, until Esc or close()."""
        self._running = True
        self._thread = threading.Thread(target=self._run, name="lander-fly", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        period, next_tick = 1 / self.fps, time.monotonic()
        while self._running and self.tick():
            next_tick += period
            time.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick = max(next_tick, time.monotonic() - period)  # a late frame is not made up for in a burst
        self._running = False

    def close(self):
        self._running = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        super().close()  # the environments stay open: closing one quits pygame's display for all in the kernel


_flying = []  # the Fly widget started last: running the cell again stops it first


def fly(shipped, yours=None, your_name="network", seed=None):
    """Fly the lander in the page against shipped (and yours, a Keras Q-network, where given)."""
    line = _where_to_try("Flying the lander")
    if line:
        print(line)
        return None
    while _flying:
        _flying.pop().close()
    widget = Fly(shipped, yours, your_name=your_name, seed=seed).start()
    _flying.append(widget)
    return widget
