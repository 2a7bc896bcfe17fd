"""Model files that load in every Keras 3 a learner may have, from Colab's to ours; nothing is lost.

The exchanges with another Keras run where OTHER_KERAS_PYTHON names a Python that has one, with
utils' packages (make test-colab sets it: Colab's Keras in a Colab-like runtime, ours beside it).
"""
import json
import os
import subprocess
import zipfile

import h5py
import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, small_network

import utils
from lander.model_files import read_model_config, write_model_config

SHIPPED = ROOT / "models" / "lunar_lander_model.h5"
OTHER_PYTHON = os.environ.get("OTHER_KERAS_PYTHON")
needs_other_keras = pytest.mark.skipif(
    not OTHER_PYTHON, reason="OTHER_KERAS_PYTHON names no Python with another Keras (make test-colab sets it)")


def states(count=500, seed=0):
    return np.random.default_rng(seed).normal(scale=2.0, size=(count, 8)).astype(np.float32)


def objects(config):
    """Every object a Keras config describes (layers, initializers, dtype policies...), nested ones too."""
    if isinstance(config, list):
        return [found for item in config for found in objects(item)]
    if not isinstance(config, dict):
        return []
    found = [config] if "class_name" in config and isinstance(config.get("config"), dict) else []
    return found + [item for value in config.values() for item in objects(value)]


def as_json(config):
    """config as a file records it (tuples become lists)."""
    return json.loads(json.dumps(config))


def with_new_setting(path, layer_index=1):
    """Record, in the file at path, a layer setting no Keras knows: as a newer Keras would."""
    config = read_model_config(path)
    config["config"]["layers"][layer_index]["config"]["setting_from_a_newer_keras"] = 1
    write_model_config(path, config)


# --------------------------------------------------------------------------- in this Keras

@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_saved_model_records_no_unset_settings_and_loses_nothing(tmp_path, suffix):
    model, path = small_network(seed=4), tmp_path / f"model{suffix}"
    utils.save_model(model, str(path))
    config = read_model_config(str(path))
    assert [settings for settings in objects(config) if None in settings["config"].values()] == []
    loaded = tf.keras.models.load_model(str(path), compile=False)
    assert as_json(loaded.get_config()) == as_json(model.get_config())
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True))


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_file_from_a_newer_keras_is_rebuilt_from_its_record(tmp_path, suffix):
    model, path = small_network(seed=5), tmp_path / f"model{suffix}"
    utils.save_model(model, str(path))
    with_new_setting(str(path))
    with pytest.raises(Exception, match="setting_from_a_newer_keras"):
        tf.keras.models.load_model(str(path), compile=False)
    loaded = utils.load_model(str(path))
    assert [(layer.units, layer.activation.__name__) for layer in loaded.layers] == \
        [(64, "relu"), (64, "relu"), (4, "linear")]
    assert np.array_equal(loaded(states()).numpy(), model(states()).numpy())


def test_a_file_that_cannot_be_rebuilt_names_both_keras_versions_and_is_kept(tmp_path):
    tf.random.set_seed(6)
    model = tf.keras.Sequential([tf.keras.Input(shape=(8,)), tf.keras.layers.Dense(16),
                                 tf.keras.layers.BatchNormalization(), tf.keras.layers.Dense(4)])
    path = tmp_path / "model.h5"
    utils.save_model(model, str(path))
    with_new_setting(str(path))
    with h5py.File(path, "r+") as file:
        file.attrs["keras_version"] = "3.99.0"
    before = path.read_bytes()
    with pytest.raises(ValueError) as caught:
        utils.load_model(str(path))
    message = str(caught.value)
    assert "saved by Keras 3.99.0" in message and f"Keras {tf.keras.__version__} installed here" in message
    assert "BatchNormalization" in message and "delete" not in message.lower()
    assert path.read_bytes() == before


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_truncated_file_is_reported_as_damaged_and_kept(tmp_path, suffix):
    path = tmp_path / f"lunar_lander_model{suffix}"
    utils.save_model(small_network(seed=7), str(path))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = path.read_bytes()
    with pytest.raises(ValueError, match="is damaged or not a Keras model") as caught:
        utils.load_model(str(path))
    assert "delete" not in str(caught.value).lower()
    assert path.read_bytes() == before


def test_the_shipped_model_records_no_unset_settings():
    with h5py.File(SHIPPED, "r") as file:
        config = json.loads(file.attrs["model_config"])
    assert [settings for settings in objects(config) if None in settings["config"].values()] == []


def test_a_keras_file_keeps_its_other_members(tmp_path):
    path = tmp_path / "model.keras"
    utils.save_model(small_network(seed=8), str(path))
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert json.loads(archive.read("metadata.json"))["keras_version"] == tf.keras.__version__


# --------------------------------------------------------------------------- with another Keras

def other_side(*arguments):
    """Run tests/keras_other_side.py in the other Python; return the Keras version it ran with."""
    result = subprocess.run([OTHER_PYTHON, str(ROOT / "tests" / "keras_other_side.py"), *map(str, arguments)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    version = result.stdout.strip().splitlines()[-1]
    assert version != tf.keras.__version__, f"OTHER_KERAS_PYTHON has this same Keras {version}: nothing to compare"
    return version


@pytest.fixture()
def state_file(tmp_path):
    path = tmp_path / "states.npy"
    np.save(path, states())
    return path


@needs_other_keras
@pytest.mark.parametrize("how", ["--keras", "utils"])
def test_a_model_saved_here_loads_in_the_other_keras_with_the_same_q_values(tmp_path, state_file, how):
    model, path = small_network(seed=9), tmp_path / "model.h5"
    utils.save_model(model, str(path))
    other_side("load", path, state_file, tmp_path / "q.npy", *([how] if how == "--keras" else []))
    np.testing.assert_array_equal(np.load(tmp_path / "q.npy"), model(np.load(state_file)).numpy())


@needs_other_keras
def test_a_model_saved_in_the_other_keras_loads_here_with_the_same_q_values(tmp_path, state_file):
    path = tmp_path / "model.h5"
    other_side("save", 10, path, state_file, tmp_path / "q.npy")
    loaded = utils.load_model(str(path))
    np.testing.assert_array_equal(loaded(np.load(state_file)).numpy(), np.load(tmp_path / "q.npy"))


@needs_other_keras
@pytest.mark.parametrize("how", ["--keras", "utils"])
def test_the_shipped_model_gives_the_same_q_values_in_the_other_keras(tmp_path, state_file, how):
    other_side("load", SHIPPED, state_file, tmp_path / "q.npy", *([how] if how == "--keras" else []))
    here = utils.load_model(str(SHIPPED))(np.load(state_file)).numpy()
    np.testing.assert_array_equal(np.load(tmp_path / "q.npy"), here)
