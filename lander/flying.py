"""Flying the lander by hand: the keys, the turn-taking of engines, and the scores file.

Shared by the game's window (scripts/learner/play.py, `make play`) and the notebook's fly widget
(lander/widgets.py), so that both fly and score alike. Imports nothing that draws or loads
TensorFlow: the game opens its window before anything sets SDL's driver.
"""
import csv
import io
import os
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path

SCORES = Path("build", "play_scores.csv")  # in the lesson's folder
FPS = 30  # steps a second, by default
NEW_SEEDS = random.Random()  # from the system's entropy: utils seeds the random module itself on import

DO_NOTHING, PUSH_LEFT, MAIN_ENGINE, PUSH_RIGHT = 0, 1, 2, 3  # utils.ACTION_NAMES, in the same order
ARROW_ACTIONS = {"up": MAIN_ENGINE, "left": PUSH_LEFT, "right": PUSH_RIGHT}  # by name: the notebook's page sends these
SHORT_NAMES = {DO_NOTHING: "nothing", PUSH_LEFT: "push left (right engine)", MAIN_ENGINE: "main engine",
               PUSH_RIGHT: "push right (left engine)"}
SCORE_COLUMNS = ["finished_utc", "seed", "points", "outcome", "steps", "steps_do_nothing", "steps_right_engine",
                 "steps_main_engine", "steps_left_engine", "shipped_network_points", "your_network_points"]


# ----------------------------------------------------------------------------- controls

def action_for(held_actions, step):
    """The action of this step: none held does nothing, one held fires, several take turns step by step."""
    if not held_actions:
        return DO_NOTHING
    return held_actions[step % len(held_actions)]


def held_actions(pressed, key_actions):
    """The actions of the keys held down, in key_actions' order (up first): pressed[key] is true for a
    key held (pygame.key.get_pressed() with the game's keys, or a dict of ARROW_ACTIONS' names)."""
    return [action for key, action in key_actions.items() if pressed[key]]


# ----------------------------------------------------------------------------- scores

def check_scores_file(path):
    """Stop with a clear error before playing if path exists but is not a play_scores.csv of ours."""
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as file:
        header = next(csv.reader(file), None)
    if header is not None and header != SCORE_COLUMNS:  # an empty file gets its header with the first row
        raise SystemExit(f"{path} is not a scores file of scripts.learner.play (its first line should be "
                         f"{','.join(SCORE_COLUMNS)}): move it away, or choose another with --scores")


def append_score(path, row):
    """Add row (a dict of SCORE_COLUMNS) to the CSV at path, rewriting it through a temporary file.

    An interruption leaves either the old file or the new one, never half a row.
    """
    check_scores_file(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SCORE_COLUMNS, lineterminator="\n")
    if not old:
        writer.writeheader()
    writer.writerow(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(old + buffer.getvalue())
            file.flush()
            os.fsync(file.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp made it private; give it the usual permissions
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def score_row(seed, flight, shipped, yours):
    """The CSV row of one flight beside the networks' points (None: no network of yours)."""
    counts = flight["action_counts"]
    return {"finished_utc": datetime.now(UTC).isoformat(timespec="seconds"), "seed": seed,
            "points": round(flight["total_points"], 2), "outcome": flight["outcome"], "steps": flight["steps"],
            "steps_do_nothing": counts[DO_NOTHING], "steps_right_engine": counts[PUSH_LEFT],
            "steps_main_engine": counts[MAIN_ENGINE], "steps_left_engine": counts[PUSH_RIGHT],
            "shipped_network_points": points_or_blank(shipped), "your_network_points": points_or_blank(yours)}


def result_lines(seed, flight, shipped, yours, your_name):
    """The lines shown when a flight ends: (text, look), look 'lit', 'text' or 'dim'."""
    lines = [(f"You: {flight['total_points']:.1f} points, {flight['outcome']}", "lit"),
             (f"Shipped network: {describe(shipped)}", "text"),
             (f"Your {your_name}: {describe(yours)}", "text"),
             (f"Same start for all: seed {seed}", "dim"),
             ("R: this start again   N: a new start   Esc: quit", "text")]
    beaten = [name for name, result in [("the shipped network", shipped), ("your network", yours)]
              if result and "total_points" in result and flight["total_points"] > result["total_points"]]
    if beaten:
        lines.insert(3, (f"You beat {' and '.join(beaten)}!", "lit"))
    return lines


def describe(result, why=False):
    """A network's result in a few words; a network that cannot be loaded, with the reason when why."""
    if result is None:
        return "none trained yet"
    if "problem" in result:
        return f"cannot be loaded ({result['problem']})" if why else "cannot be loaded (the terminal says why)"
    return f"{result['total_points']:.1f} points, {result['outcome']}"


def points_or_blank(result):
    return round(result["total_points"], 2) if result and "total_points" in result else ""
