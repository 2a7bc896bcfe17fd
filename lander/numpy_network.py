"""The fast forward pass: a numpy copy of a Dense Q-network, for the Q-values of one state."""
import numpy as np

from lander import startup  # noqa: F401  first: TensorFlow's start-up settings

# isort: split
import tensorflow as tf

from lander.checks import check_model


class NumpyQNetwork:
    """A numpy copy of a Dense Q-network, for computing the Q-values of one state fast.

    Calling a Keras model on one state costs milliseconds; the same matrix products in numpy
    cost microseconds. Call weights_changed() after each learning step: the copy reloads the
    weights (in one TensorFlow call) the next time it is used.
    """

    def __init__(self, q_network):
        check_model("q_network", q_network)
        layers = [layer for layer in q_network.layers if layer.weights]
        if not all(isinstance(layer, tf.keras.layers.Dense) and layer.use_bias for layer in layers):
            raise TypeError("NumpyQNetwork supports networks of Dense layers with biases only, got "
                            f"{[type(layer).__name__ for layer in layers]}")
        self.q_network = q_network
        self._activations = [_numpy_activation(layer.activation) for layer in layers]
        variables = [w for layer in layers for w in (layer.kernel, layer.bias)]
        self._shapes = [tuple(v.shape) for v in variables]
        self._offsets = np.cumsum([0] + [int(np.prod(shape)) for shape in self._shapes])
        read_all = tf.function(lambda: tf.concat([tf.reshape(v, [-1]) for v in variables], axis=0))
        self._read_weights = read_all.get_concrete_function()  # a direct call skips tf.function's dispatch
        self._layers = None

    def weights_changed(self):
        """Mark the copy stale: the network has just learned."""
        self._layers = None

    def _load_weights(self):
        """Copy the network's current weights into numpy arrays, (kernel, bias) per layer."""
        flat = self._read_weights().numpy()
        arrays = [flat[start:end].reshape(shape)
                  for start, end, shape in zip(self._offsets[:-1], self._offsets[1:], self._shapes, strict=True)]
        self._layers = list(zip(arrays[::2], arrays[1::2], self._activations, strict=True))

    def __call__(self, state):
        """Return the Q-values of one state (vector of 8) as a float32 array of shape (1, 4); of n states
        (an array (n, 8)), of shape (n, 4)."""
        if self._layers is None:
            self._load_weights()
        if type(state) is not np.ndarray or state.dtype != np.float32:
            state = np.asarray(state, dtype=np.float32)
        values = state.reshape(1, -1) if state.ndim == 1 else state
        for kernel, bias, activation in self._layers:
            values = activation(values @ kernel + bias)
        return values


def _numpy_activation(activation):
    """Return a numpy function computing the Keras activation (relu and linear done in numpy)."""
    probe = np.linspace(-3, 3, 13, dtype=np.float32)[None, :]
    computed = np.asarray(activation(tf.constant(probe)))
    if np.allclose(computed, probe):
        return lambda x: x
    if np.allclose(computed, np.maximum(probe, 0)):
        return lambda x: np.maximum(x, 0)
    return lambda x: np.asarray(activation(tf.constant(x)))


def fast_network(q_network):
    """q_network as a NumpyQNetwork: itself when it is one already."""
    return q_network if isinstance(q_network, NumpyQNetwork) else NumpyQNetwork(q_network)
