"""Argument checks shared by utils and the rooms below it: each raises a TypeError or ValueError
that names the argument, what was expected and what came."""
import numbers
import os
from collections.abc import Sequence

from lander import startup  # noqa: F401  first: TensorFlow's start-up settings

# isort: split
import numpy as np
import tensorflow as tf


def check_number(name, value, low=None, high=None):
    """Raise unless value is a real number (not bool) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {value!r}")


def check_int(name, value, low=None):
    """Raise unless value is an integer (not bool) of at least low."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")


def check_model(name, model):
    """Raise unless model is a built Keras model."""
    if model is None:
        raise TypeError(f"{name} is None: build the Q-network in Exercise 1 first")
    if not isinstance(model, tf.keras.Model):
        raise TypeError(f"{name} must be a Keras model, got {type(model).__name__}")
    if not model.weights:
        raise ValueError(f"{name} has no weights: give it an Input layer and Dense layers")


def check_env(env):
    """Raise unless env looks like a gym environment."""
    if not (hasattr(env, "reset") and hasattr(env, "step") and hasattr(env, "render")):
        raise TypeError(f"env must be a gym environment (with reset, step and render), got {type(env).__name__}")


def check_path(name, filename, suffixes):
    """Raise unless filename is a path string ending in one of suffixes."""
    if not isinstance(filename, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path string, got {type(filename).__name__}")
    if not str(filename).lower().endswith(suffixes):
        raise ValueError(f"{name} must end with {' or '.join(suffixes)}, got {str(filename)!r}")


def check_buffer(memory_buffer):
    """Raise unless memory_buffer is a sized container of experiences."""
    if isinstance(memory_buffer, (str, bytes)) or not hasattr(memory_buffer, "__len__") \
            or not hasattr(memory_buffer, "__getitem__"):
        raise TypeError("memory_buffer must be a deque or list of experiences, "
                        f"got {type(memory_buffer).__name__}")


def as_points(name, history):
    """history (the points of each episode) as a flat float array, or a clear error."""
    if isinstance(history, (str, bytes)) or not isinstance(history, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a list of numbers, got {type(history).__name__}")
    try:
        points = np.asarray(history, dtype=np.float64) if len(history) else np.zeros(0)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a list of numbers (points per episode), got {history!r:.80}") from None
    if points.ndim != 1:
        raise ValueError(f"{name} must be a flat list of numbers, got shape {points.shape}")
    if len(points) == 0:
        raise ValueError(f"{name} is empty: train for at least one episode before plotting")
    if not np.isfinite(points).all():
        raise ValueError(f"{name} must hold finite numbers; found {points[~np.isfinite(points)][:3]}")
    return points


def check_bool(name, value):
    """Raise unless value is True or False (numpy's included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


def check_function(name, value):
    """Raise unless value is None or can be called."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a function of one frame, got {type(value).__name__}")
