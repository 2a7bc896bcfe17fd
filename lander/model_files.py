"""Model files across Keras versions: save a Q-network atomically, load one that any Keras 3 wrote.

read_model_config and write_model_config read and replace the settings a file records (Keras's
config), without Keras.
"""
import io
import json
import logging
import os
import tempfile
import warnings
import zipfile

from lander import startup  # noqa: F401  first: TensorFlow's start-up settings

# isort: split
import h5py
import tensorflow as tf

from lander.checks import check_model, check_path


def save_model(model, filename):
    """Save a Keras model to filename (.h5 or .keras) atomically: a crash mid-save keeps the old file.

    The file loads in every Keras 3 from 3.13 (Colab's) on: settings that Keras records as None
    are left out of the file, so a Keras that predates one of them reads the same model.
    """
    check_model("model", model)
    check_path("filename", filename, (".h5", ".keras"))
    folder = os.path.dirname(os.path.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(str(filename))[1]
    handle, temporary = tempfile.mkstemp(prefix=".saving-", suffix=suffix, dir=folder)
    os.close(handle)
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # Keras warns that .h5 is a legacy format
    try:
        with warnings.catch_warnings():  # Keras's h5 writer trips a numpy 2 deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            model.save(temporary)
        write_model_config(temporary, _without_none_settings(read_model_config(temporary)))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp made it private; give it the usual permissions
        os.replace(temporary, filename)
    finally:
        absl_logger.setLevel(level)
        if os.path.exists(temporary):
            os.remove(temporary)


def load_model(filename):
    """Load a Keras model saved by save_model or by any Keras 3, with plain words when it cannot.

    Where the installed Keras cannot build the model from the file's settings (a newer Keras may
    record settings an older one does not know), the network is rebuilt from the file's record of
    its layers (kinds, units, activations) and given the weights stored in the file.
    """
    check_path("filename", filename, (".h5", ".keras"))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"No model file at {filename!r}: train the agent (or run `make demo`) first")
    try:
        return tf.keras.models.load_model(filename, compile=False)
    except Exception as error:  # h5py, zipfile and Keras each raise their own kinds
        keras_error = error
    try:
        config, weights, written_by = _read_model_record(filename)
    except Exception as error:
        raise ValueError(f"The model file {filename!r} is damaged or not a Keras model "
                         f"({type(error).__name__}: {error}); Keras {tf.keras.__version__} is installed "
                         "here. The file was left as it is.") from None
    try:
        return _rebuild_dense_network(config, weights)
    except ValueError as error:
        raise ValueError(f"The model file {filename!r} was saved by Keras {written_by}, and Keras "
                         f"{tf.keras.__version__} installed here cannot read it ({type(keras_error).__name__}: "
                         f"{keras_error}; nor rebuild it: {error}). Load it where Keras {written_by} is "
                         "installed. The file was left as it is.") from None


def read_model_config(filename):
    """The model's settings (Keras's config, a dict) as the file records them."""
    if str(filename).endswith(".keras"):
        with zipfile.ZipFile(filename) as archive:
            return json.loads(archive.read("config.json"))
    with h5py.File(filename, "r") as file:
        return json.loads(file.attrs["model_config"])


def write_model_config(filename, config):
    """Replace the settings recorded in the model file filename by config."""
    if str(filename).endswith(".keras"):
        with zipfile.ZipFile(filename) as archive:
            members = {info: archive.read(info) for info in archive.infolist()}
        with zipfile.ZipFile(filename, "w") as archive:
            for info, content in members.items():
                archive.writestr(info, json.dumps(config) if info.filename == "config.json" else content)
    else:
        with h5py.File(filename, "r+") as file:
            file.attrs["model_config"] = json.dumps(config)


def _without_none_settings(config):
    """config without the arguments recorded as None of each object it describes (layers, initializers...).

    Left out, such an argument takes its default, None, in every Keras; recorded, it stops a Keras
    that does not know it (Keras 3.13 fails on 3.15's `input_axes` and `quantization_config`).
    """
    if isinstance(config, list):
        return [_without_none_settings(item) for item in config]
    if not isinstance(config, dict):
        return config
    cleaned = {key: _without_none_settings(value) for key, value in config.items()}
    if "class_name" in cleaned and isinstance(cleaned.get("config"), dict):
        cleaned["config"] = {key: value for key, value in cleaned["config"].items() if value is not None}
    return cleaned


def _read_model_record(filename):
    """(config, {layer name: [arrays]}, Keras version that wrote it) read from the file without Keras."""
    if str(filename).endswith(".keras"):
        with zipfile.ZipFile(filename) as archive:
            config = json.loads(archive.read("config.json"))
            written_by = json.loads(archive.read("metadata.json")).get("keras_version", "(not recorded)")
            with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as file:
                variables = [file["layers"][key]["vars"] for key in file["layers"]]
                weights = {_as_text(group.attrs.get("name", "")): [group[str(i)][()] for i in range(len(group))]
                           for group in variables}  # by the layer's own name, which the group records
        return config, weights, written_by
    with h5py.File(filename, "r") as file:
        config = json.loads(file.attrs["model_config"])
        written_by = _as_text(file.attrs.get("keras_version", "(not recorded)"))
        group = file["model_weights"]
        weights = {}
        for name in map(_as_text, group.attrs["layer_names"]):
            names = [_as_text(weight) for weight in group[name].attrs["weight_names"]]
            weights[name] = [group[name][weight][()] for weight in names]
    return config, weights, written_by


def _as_text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _rebuild_dense_network(config, weights):
    """A Sequential network of Dense layers built from a file's record (kinds, units, activations), with its weights.

    Raises ValueError for any other kind of layer, or weights that do not fit.
    """
    layers = [layer for layer in config.get("config", {}).get("layers", []) if layer["class_name"] != "InputLayer"]
    if not layers or any(layer["class_name"] != "Dense" for layer in layers):
        raise ValueError(f"only networks of Dense layers can be rebuilt, this one has "
                         f"{[layer['class_name'] for layer in layers]}")
    dense_layers = []
    for layer in layers:
        settings = layer["config"]
        activation = settings.get("activation") or "linear"
        if isinstance(activation, dict):  # an activation function recorded as an object
            activation = activation.get("config")
        dense_layers.append(tf.keras.layers.Dense(settings["units"], activation=tf.keras.activations.get(activation),
                                                  use_bias=settings.get("use_bias", True), name=settings["name"]))
    arrays = [weights.get(layer.name) or [] for layer in dense_layers]
    if not arrays[0]:
        raise ValueError(f"the file holds no weights for layer {dense_layers[0].name!r}")
    network = tf.keras.Sequential([tf.keras.Input(shape=(arrays[0][0].shape[0],)), *dense_layers],
                                  name=config["config"].get("name"))
    for layer, values in zip(dense_layers, arrays, strict=True):
        try:
            layer.set_weights(values)
        except ValueError as error:
            raise ValueError(f"the weights of layer {layer.name!r} do not fit it: {error}") from None
    return network
