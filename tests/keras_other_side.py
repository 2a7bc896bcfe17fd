"""The other side of tests/test_model_files.py's exchanges, run by a Python with another Keras 3.

python tests/keras_other_side.py save SEED MODEL STATES OUT: a network of the lesson's shape from
    SEED, saved with utils.save_model to MODEL; its Q-values of STATES (.npy) written to OUT (.npy).
python tests/keras_other_side.py load MODEL STATES OUT [--keras]: MODEL loaded with utils.load_model
    (with --keras, with keras.models.load_model alone); its Q-values of STATES written to OUT.
Each prints the Keras version it ran with. The repository root must be on PYTHONPATH.
"""
import sys

import numpy as np
import tensorflow as tf

import utils


def lesson_network(seed):
    """8 inputs, two Dense layers of 64 relu units, 4 linear outputs, from a fixed seed."""
    tf.random.set_seed(seed)
    return tf.keras.Sequential([tf.keras.Input(shape=(8,)), tf.keras.layers.Dense(64, activation="relu"),
                                tf.keras.layers.Dense(64, activation="relu"), tf.keras.layers.Dense(4)])


def main(action, *arguments):
    if action == "save":
        seed, model_path, states, out = arguments
        model = lesson_network(int(seed))
        utils.save_model(model, model_path)
    else:
        model_path, states, out, *how = arguments
        model = tf.keras.models.load_model(model_path, compile=False) if how == ["--keras"] \
            else utils.load_model(model_path)
    np.save(out, model(np.load(states)).numpy())
    print(tf.keras.__version__)


if __name__ == "__main__":
    main(*sys.argv[1:])
