"""Videos: the mp4 writer (H.264, which browsers play), GIFs, and the Q-values panel drawn below frames."""
import os

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from lander.checks import check_int, check_path
from lander.environment import ACTION_LABELS, NUM_ACTIONS


def mp4_writer(filename, fps=30):
    """An imageio writer of H.264 mp4 (yuv420p, which browsers play), making the folder.

    Use it as `with mp4_writer(filename) as writer:`, then writer.append_data(frame) for each
    frame (uint8 arrays of one shape): frames go to the file as they come.
    """
    check_path("filename", filename, (".mp4",))
    check_int("fps", fps, low=1)
    os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
    return imageio.get_writer(filename, fps=fps, codec="libx264", pixelformat="yuv420p",
                              macro_block_size=8, ffmpeg_log_level="error")


def write_video(filename, frames, fps=30):
    """Write frames (uint8 arrays of one shape) to an H.264 mp4 or an animated GIF, making the folder."""
    check_path("filename", filename, (".mp4", ".gif"))
    check_int("fps", fps, low=1)
    if len(frames) == 0:
        raise ValueError("frames is empty: nothing to write")
    if str(filename).lower().endswith(".gif"):
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        imageio.mimsave(filename, frames, duration=1000 / fps, loop=0)
        return
    with mp4_writer(filename, fps) as writer:
        for frame in frames:
            writer.append_data(frame)


# The panel's look: dark, so that it stands apart from the white ground above it. Its bottom band
# holds only a legend: a browser's player controls cover about that much of a paused video.
PANEL_HEIGHT = 208
PANEL_ROWS = (50, 24)  # the first bar's row starts 50 pixels down the panel; each row is 24 high
PANEL_COLOURS = {"background": (30, 30, 40), "text": (225, 225, 225), "dim": (140, 140, 150),
                 "bar": (110, 110, 125), "chosen": (255, 160, 40), "axis": (90, 90, 100)}


def _font(size):
    """Pillow's own scalable font (no font files needed); its fixed bitmap font on an old Pillow."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1
        return ImageFont.load_default()


_GLYPHS = {}  # (size, character) -> (mask, offset, advance): each drawn once, then pasted


def _glyph(size, character):
    """One character of the panel's font as a mask image, with its offset and advance in pixels."""
    if (size, character) not in _GLYPHS:
        font = _font(size)
        left, top, right, bottom = font.getbbox(character)
        mask = Image.new("L", (max(right - left, 1), max(bottom - top, 1)))
        ImageDraw.Draw(mask).text((-left, -top), character, font=font, fill=255)
        _GLYPHS[size, character] = (mask, (left, top), font.getlength(character))
    return _GLYPHS[size, character]


def _text_width(text, size):
    return sum(_glyph(size, character)[2] for character in text)


def _write(image, xy, text, size, colour):
    """Write text on image at xy (its top left) by pasting cached glyphs: about ten times faster
    than ImageDraw.text, which lays the text out and draws it anew every time."""
    x, y = xy
    for character in text:
        mask, (left, top), advance = _glyph(size, character)
        image.paste(colour, (round(x + left), y + top), mask)
        x += advance


def _round_out(low, high):
    """[low, high] widened to round numbers: multiples of a power of ten about a tenth of the span."""
    step = 10.0 ** np.floor(np.log10(max(high - low, 1e-6) / 2))
    return float(np.floor(low / step) * step), float(np.ceil(high / step) * step)


class QValuePanel:
    """Draws a panel of Q-values below frames of one episode, on a scale shared by all its frames.

    The scale starts around the first frame's values and only widens, by half its span, when a
    value falls outside it: bars compare across frames, and the frames can be written as they come.
    """

    def __init__(self):
        self.low = self.high = None

    def widen(self, q_values):
        """Widen the scale, if needed, to take q_values in; return (low, high)."""
        low, high = float(np.min(q_values)), float(np.max(q_values))
        if self.low is None:
            margin = max(high - low, 0.1 * max(abs(low), abs(high)), 1.0)
            self.low, self.high = _round_out(low - margin, high + margin)
        elif low < self.low or high > self.high:
            half_span = (self.high - self.low) / 2
            self.low, self.high = _round_out(min(self.low, low - half_span) if low < self.low else self.low,
                                             max(self.high, high + half_span) if high > self.high else self.high)
        return self.low, self.high

    def draw(self, scene, step, q_values, action, reward, points):
        """Return scene (uint8 array (height, width, 3)) with the panel below it.

        q_values: the four Q-values; action: the action taken (marked), or None before the first
        step; reward: that step's reward; points: the points so far.
        """
        q_values = np.asarray(q_values, dtype=np.float64).reshape(NUM_ACTIONS)
        low, high = self.widen(q_values)
        width = scene.shape[1]
        panel = Image.new("RGB", (width, PANEL_HEIGHT), PANEL_COLOURS["background"])
        pen = ImageDraw.Draw(panel)
        happened = "start" if action is None else f"reward {reward:+.2f}"
        status = f"step {step}   {happened}   points {points:.1f}"
        _write(panel, (12, 8), status, 15, PANEL_COLOURS["text"])
        title = "Q-values: discounted points to come"
        _write(panel, (round(width - 12 - _text_width(title, 12)), 10), title, 12, PANEL_COLOURS["dim"])

        left, right = 130, width - 80  # the bars' scale runs from low at left to high at right

        def x_of(value):
            return left + (value - low) / (high - low) * (right - left)
        axis = PANEL_ROWS[0] - 6  # the scale, above the bars
        pen.line([(left, axis), (right, axis)], fill=PANEL_COLOURS["axis"])
        for value in {low, high, min(max(0.0, low), high)}:
            label = f"{value:g}"
            x = x_of(value)
            pen.line([(x, axis - 3), (x, axis + 3)], fill=PANEL_COLOURS["axis"])
            _write(panel, (round(x - _text_width(label, 12) / 2), axis - 17), label, 12, PANEL_COLOURS["dim"])
        base = x_of(min(max(0.0, low), high))  # bars grow from 0, or from the scale's end nearest to 0
        for number, (label, value) in enumerate(zip(ACTION_LABELS, q_values, strict=True)):
            top = PANEL_ROWS[0] + PANEL_ROWS[1] * number
            chosen = number == action
            colour = PANEL_COLOURS["chosen"] if chosen else PANEL_COLOURS["text"]
            if chosen:
                pen.polygon([(8, top + 4), (8, top + 16), (16, top + 10)], fill=colour)
            _write(panel, (22, top + 2), label, 15, colour)
            end = x_of(value)
            pen.rectangle([min(base, end), top + 3, max(base, end), top + 17],
                          fill=PANEL_COLOURS["chosen"] if chosen else PANEL_COLOURS["bar"])
            _write(panel, (right + 8, top + 2), f"{value:.1f}", 15, colour)
        legend = "orange: the action taken. One scale for the whole video: it only widens."
        _write(panel, (22, PANEL_ROWS[0] + PANEL_ROWS[1] * NUM_ACTIONS + 6), legend, 12, PANEL_COLOURS["dim"])
        return np.concatenate((scene, np.asarray(panel)))
