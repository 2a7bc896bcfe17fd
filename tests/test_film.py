"""scripts.learner.film: snapshots of the notebook's training, their captions, and the film they make."""
import tracemalloc

import imageio.v2 as imageio
import numpy as np
import pytest
from conftest import small_network
from test_utils import hovering_network

import utils
from lander.environment import MAX_EPISODE_STEPS
from lander.video import write_video
from scripts.learner import film


def test_snapshots_before_training_every_n_episodes_and_at_the_last():
    snapshots, points, solved_at, _ = film.train_with_snapshots(seed=0, every=2, episodes=5)
    assert [s["episode"] for s in snapshots] == [0, 2, 4, 5] and len(points) == 5 and solved_at is None
    assert snapshots[0]["mean"] is None and snapshots[0]["points"] is None
    for snap in snapshots[1:]:
        episode = snap["episode"]
        assert snap["points"] == points[episode - 1]
        assert snap["mean"] == pytest.approx(np.mean(points[:episode])) and snap["window"] == episode
        assert not snap["solved"]
    shapes = [w.shape for w in small_network().get_weights()]
    assert all([w.shape for w in snap["weights"]] == shapes for snap in snapshots)
    # Weights, copied when kept: the network learned between the first snapshot and the last.
    assert not all(np.array_equal(a, b) for a, b in zip(snapshots[0]["weights"], snapshots[-1]["weights"],
                                                          strict=True))


def test_the_solving_episode_is_kept_and_training_stops_there(monkeypatch):
    monkeypatch.setattr(utils, "SOLVED_POINTS", -10_000.0)  # any first episode solves it
    snapshots, points, solved_at, _ = film.train_with_snapshots(seed=0, every=100, episodes=50)
    assert solved_at == 1 and len(points) == 1
    assert [(s["episode"], s["solved"]) for s in snapshots] == [(0, False), (1, True)]
    assert film.caption_lines(snapshots[-1])[0] == "Episode 1: solved"


def test_captions_say_the_episode_and_the_training_points_then():
    assert film.caption_lines({"episode": 0, "solved": False, "mean": None, "window": 0, "points": None}) == [
        "Episode 0: untrained", "the network's first weights, at random"]
    assert film.caption_lines({"episode": 300, "solved": False, "mean": -45.24, "window": 100, "points": 12.26}) == [
        "Episode 300", "in training, mean of the last 100 episodes: -45.2; this episode: 12.3"]
    assert film.caption_lines({"episode": 40, "solved": False, "mean": -150.0, "window": 40, "points": -99.0})[1] \
        == "in training, mean of the last 40 episodes: -150.0; this episode: -99.0"
    assert film.caption_lines({"episode": 1, "solved": False, "mean": -164.0, "window": 1, "points": -164.0})[1] \
        == "in training, mean of the first episode: -164.0; this episode: -164.0"
    assert film.caption_lines({"episode": 534, "solved": True, "mean": 200.4, "window": 100, "points": 251.0})[0] \
        == "Episode 534: solved"


def card_runs(frames):
    """Lengths of the runs of title cards (frames with no white ground at the bottom) in frames."""
    runs, current = [], 0
    for frame in frames:
        is_card = frame[-frame.shape[0] // 5:].mean() < 100
        if is_card:
            current += 1
        elif current:
            runs, current = runs + [current], 0
    return runs + ([current] if current else [])


def test_the_film_has_one_segment_per_snapshot_in_order(tmp_path):
    network, steps = small_network(), 20
    snapshots = [{"episode": episode, "weights": small_network(seed=episode).get_weights(), "solved": episode == 20,
                  "mean": None if episode == 0 else -100.0 + episode, "window": episode, "points": float(episode)}
                 for episode in (0, 10, 20)]
    flights = film.write_film(snapshots, network, tmp_path / "film.mp4", seed=3, max_steps=steps)
    assert len(flights) == 3 and all(f["steps"] <= steps for f in flights)
    assert np.array_equal(network.get_weights()[0], snapshots[-1]["weights"][0])  # each flight by its snapshot

    reader = imageio.get_reader(str(tmp_path / "film.mp4"))
    assert reader.get_meta_data()["codec"] == "h264"
    frames = [frame for frame in reader]
    assert frames[0].shape == (film.CAPTION_HEIGHT + 400, 600, 3)
    assert len(frames) == sum(film.CARD_FRAMES + f["steps"] + 1 for f in flights)
    assert card_runs(frames) == [film.CARD_FRAMES] * 3
    flight_frame = frames[film.CARD_FRAMES]
    caption = flight_frame[:film.CAPTION_HEIGHT].reshape(-1, 3).astype(int)
    assert (np.abs(caption - film.BACKGROUND).sum(axis=1) < 20).mean() > 0.8  # the caption band above the scene

    width, fps = film.write_gif(tmp_path / "film.mp4", tmp_path / "film.gif")
    assert (tmp_path / "film.gif").stat().st_size <= film.GIF_LIMIT and (width, fps) == film.GIF_SETTINGS[0]
    gif = imageio.get_reader(str(tmp_path / "film.gif"))
    gif_frames = [frame[..., :3] for frame in gif]
    assert gif_frames[0].shape[1] == width and len(card_runs(gif_frames)) == 3
    assert not list(tmp_path.glob(".*"))  # no palette or temporary file left behind


def test_the_film_streams_its_frames_in_little_memory(tmp_path):
    """A flight to the time limit: 1046 frames of 0.8 MB would take 840 MB if kept."""
    network = hovering_network()
    snapshots = [{"episode": 100, "weights": network.get_weights(), "solved": False, "mean": 0.0, "window": 100,
                  "points": 0.0}]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        (flight,) = film.write_film(snapshots, network, tmp_path / "film.mp4", seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert flight["steps"] == MAX_EPISODE_STEPS
    assert peak < 80e6, f"write_film's peak memory grew by {peak / 1e6:.0f} MB"


def test_a_saved_training_is_reused_by_the_same_settings_only(tmp_path):
    weights = small_network().get_weights()
    snapshots = [{"episode": 0, "weights": weights, "mean": None, "window": 0, "points": None, "solved": False},
                 {"episode": 2, "weights": weights, "mean": -3.0, "window": 2, "points": -2.0, "solved": False}]
    settings, path = {"seed": 1, "every": 2, "episodes": 2}, tmp_path / "training.npz"
    film.save_training(path, settings, snapshots, [-4.0, -2.0], None, 12.5)
    loaded, points, solved_at, seconds = film.load_training(path, settings)
    assert points == [-4.0, -2.0] and solved_at is None and seconds == 12.5
    assert [{k: v for k, v in s.items() if k != "weights"} for s in loaded] == \
        [{k: v for k, v in s.items() if k != "weights"} for s in snapshots]
    assert all(np.array_equal(a, b) for s in loaded for a, b in zip(s["weights"], weights, strict=True))
    assert film.load_training(path, {**settings, "seed": 2}) is None
    path.write_bytes(b"not a training")
    assert film.load_training(path, settings) is None
    assert film.load_training(tmp_path / "missing.npz", settings) is None


@pytest.mark.parametrize("arguments, words", [
    (["--out", "film.gif"], "--out must be a path ending in .mp4"),
    (["--every", "0"], "at least 1"),
    (["--episodes", "-3"], "at least 1"),
])
def test_bad_arguments_get_a_clear_error(arguments, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        film.parse_arguments(arguments)
    assert exit_.value.code == 2 and words in capsys.readouterr().err


def test_the_committed_film_fits_a_readme_and_the_notebook_points_to_it():
    from conftest import ROOT

    from scripts.notebook_tools import load_notebook
    gif = ROOT / "images" / "film.gif"
    assert gif.read_bytes()[:6] == b"GIF89a" and gif.stat().st_size <= film.GIF_LIMIT
    congratulations = next(cell.source for cell in load_notebook().cells if "## 11 - Congratulations" in cell.source)
    assert "make film" in congratulations and "images/film.gif" in congratulations


def test_a_film_too_long_for_the_gif_limit_says_so(tmp_path, monkeypatch):
    frames = [np.random.default_rng(i).integers(0, 256, (448, 600, 3), dtype=np.uint8) for i in range(20)]
    write_video(str(tmp_path / "noise.mp4"), frames)
    monkeypatch.setattr(film, "GIF_LIMIT", 10_000)  # 20 frames of noise cannot fit in 10 KB
    with pytest.raises(film.GifTooLong, match="larger --every"):
        film.write_gif(tmp_path / "noise.mp4", tmp_path / "noise.gif")
    assert not (tmp_path / "noise.gif").exists() and not list(tmp_path.glob(".*"))
