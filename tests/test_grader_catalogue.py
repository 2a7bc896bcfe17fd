"""The grader against a catalogue of learner answers: every wrong one caught, every right one accepted.

Each wrong answer must fail with an AssertionError whose message names the part that is wrong;
each right answer must pass. Each entry is a test of its own, named by its description.
"""
import pytest

import public_tests

NETWORK = "q_network = Sequential([{}])"
HINT_LAYERS = ("Input(shape=state_size), Dense(units=64, activation='relu'), "
               "Dense(units=64, activation='relu'), Dense(units=num_actions, activation='linear')")
LOSS = '''
def compute_loss(experiences, gamma, q_network, target_q_network):
    states, actions, rewards, next_states, done_vals = experiences
    max_qsa = {max_qsa}
    y_targets = {y}
    q_values = q_network(states)
    q_values = tf.gather_nd(q_values, tf.stack([tf.range(q_values.shape[0]),
                                                tf.cast(actions, tf.int32)], axis=1))
    loss = {loss}
    return loss
'''
GIVEN_MAX = "tf.reduce_max(target_q_network(next_states), axis=-1)"
RIGHT_Y = "rewards + gamma * max_qsa * (1 - done_vals)"
RIGHT_LOSS = "MSE(y_targets, q_values)"


def network(layers):
    return ("network", NETWORK.format(layers))


def optimizer(expression):
    return ("optimizer", f"optimizer = {expression}")


def loss(y=RIGHT_Y, loss=RIGHT_LOSS, max_qsa=GIVEN_MAX):
    return ("loss", LOSS.format(y=y, loss=loss, max_qsa=max_qsa))


# (description, answer, the words the failure message must contain; None: a right answer)
CATALOGUE = [
    # Exercise 1, the network: wrong
    ("blank network", network(""), "not done yet"),
    ("network left as None", ("network", "q_network = None"), "not done yet"),
    ("32 units in layer 1", network(HINT_LAYERS.replace("units=64", "units=32", 1)), "units in Dense layer 1"),
    ("128 units in layer 2", network("Input(shape=state_size), Dense(64, activation='relu'), "
                                     "Dense(128, activation='relu'), Dense(num_actions)"), "units in Dense layer 2"),
    ("2 output units", network(HINT_LAYERS.replace("units=num_actions", "units=2")), "units in Dense layer 3"),
    ("one output unit", network(HINT_LAYERS.replace("units=num_actions", "units=1")), "units in Dense layer 3"),
    ("sigmoid in layer 1", network(HINT_LAYERS.replace("'relu'", "'sigmoid'", 1)), "activation in Dense layer 1"),
    ("leaky relu in layer 1", network(HINT_LAYERS.replace("'relu'", "tf.nn.leaky_relu", 1)),
     "activation in Dense layer 1"),
    ("tanh in layer 2", network("Input(shape=state_size), Dense(64, activation='relu'), "
                                "Dense(64, activation='tanh'), Dense(num_actions)"), "activation in Dense layer 2"),
    ("no activation in the hidden layers", network("Input(shape=state_size), Dense(64), Dense(64), "
                                                   "Dense(num_actions)"), "activation in Dense layer 1"),
    ("relu output", network(HINT_LAYERS.replace("'linear'", "'relu'")), "activation in Dense layer 3"),
    ("softmax output", network(HINT_LAYERS.replace("'linear'", "'softmax'")), "activation in Dense layer 3"),
    ("one hidden layer", network("Input(shape=state_size), Dense(64, activation='relu'), Dense(num_actions)"),
     "number of layers"),
    ("three hidden layers", network("Input(shape=state_size), Dense(64, activation='relu'), "
                                    "Dense(64, activation='relu'), Dense(64, activation='relu'), Dense(num_actions)"),
     "number of layers"),
    ("a Dropout in place of a Dense", network("Input(shape=state_size), Dense(64, activation='relu'), "
                                              "tf.keras.layers.Dropout(0.1), Dense(num_actions)"), "kind of layer"),
    ("input of 4", network(HINT_LAYERS.replace("shape=state_size", "shape=(4,)")), "input shape"),
    ("input of num_actions", network(HINT_LAYERS.replace("shape=state_size", "shape=(num_actions,)")),
     "input shape"),
    ("no Input layer", network(HINT_LAYERS.replace("Input(shape=state_size), ", "")), "input shape"),
    ("no biases", network(HINT_LAYERS.replace("activation='relu')", "activation='relu', use_bias=False)", 1)),
     "no bias"),
    # Exercise 1, the optimizer: wrong
    ("optimizer left as None", optimizer("None"), "not done yet"),
    ("the Adam class, not called", optimizer("Adam"), "not an optimizer"),
    ("SGD", optimizer("tf.keras.optimizers.SGD(learning_rate=ALPHA)"), "Wrong optimizer"),
    ("RMSprop", optimizer("tf.keras.optimizers.RMSprop(learning_rate=ALPHA)"), "Wrong optimizer"),
    ("AdamW", optimizer("tf.keras.optimizers.AdamW(learning_rate=ALPHA)"), "Wrong optimizer"),
    ("learning rate 0.01", optimizer("Adam(learning_rate=0.01)"), "learning rate"),
    ("learning rate ALPHA / 10", optimizer("Adam(learning_rate=ALPHA / 10)"), "learning rate"),
    ("learning rate 1", optimizer("Adam(learning_rate=1.0)"), "learning rate"),
    # Exercise 2, compute_loss: wrong
    ("blank loss", loss(y="None", loss="None"), "not done yet"),
    ("no done mask", loss(y="rewards + gamma * max_qsa"), "ignore the done mask"),
    ("done mask reversed", loss(y="rewards + gamma * max_qsa * done_vals"), "mask is reversed"),
    ("mask on the rewards too", loss(y="(rewards + gamma * max_qsa) * (1 - done_vals)"), "multiplies the rewards"),
    ("no rewards", loss(y="gamma * max_qsa * (1 - done_vals)"), "leave out the rewards"),
    ("no gamma", loss(y="rewards + max_qsa * (1 - done_vals)"), "leave out the discount"),
    ("gamma squared", loss(y="rewards + gamma ** 2 * max_qsa * (1 - done_vals)"), "future term"),
    ("future term subtracted", loss(y="rewards - gamma * max_qsa * (1 - done_vals)"), "future term"),
    ("targets from the Q-network", loss(max_qsa="tf.reduce_max(q_network(next_states), axis=-1)"), "use the Q-network"),
    ("targets from the states", loss(max_qsa="tf.reduce_max(target_q_network(states), axis=-1)"), "use the states"),
    ("Q-network on the states", loss(max_qsa="tf.reduce_max(q_network(states), axis=-1)"), "Q-network on the states"),
    ("mean over actions", loss(max_qsa="tf.reduce_mean(target_q_network(next_states), axis=-1)"), "mean over actions"),
    ("min over actions", loss(max_qsa="tf.reduce_min(target_q_network(next_states), axis=-1)"), "min over actions"),
    ("mean absolute error", loss(loss="tf.keras.losses.MAE(y_targets, q_values)"), "mean absolute error"),
    ("sum of squared errors", loss(loss="tf.reduce_sum(tf.square(y_targets - q_values))"), "sum of squared errors"),
    ("root mean squared error", loss(loss="tf.sqrt(MSE(y_targets, q_values))"), "root of the mean squared"),
    ("half the MSE", loss(loss="0.5 * MSE(y_targets, q_values)"), "half the mean squared"),
    ("all four Q-values", loss(loss="tf.reduce_mean(tf.square(y_targets[:, None] - q_network(states)))"),
     "all four Q-values"),
    ("returns the targets", loss(loss="y_targets"), "single number"),
    ("returns the squared errors", loss(loss="tf.square(y_targets - q_values)"), "single number"),
    ("loss computed in numpy", loss(loss="np.mean((y_targets.numpy() - q_values.numpy()) ** 2)"), "TensorFlow tensor"),
    ("gradient stopped", loss(loss="MSE(y_targets, tf.stop_gradient(q_values))"), "No gradient flows"),
    ("Huber loss", loss(loss="tf.keras.losses.Huber()(y_targets, q_values)"), "rewards alone"),
    # Right answers, written in different ways
    ("hints' network", network(HINT_LAYERS), None),
    ("tf.nn.relu, no output activation", network("Input(shape=state_size), Dense(64, activation=tf.nn.relu), "
                                                  "Dense(64, activation=tf.nn.relu), Dense(num_actions)"), None),
    ("keras.activations, activation=None", network(
        "Input(shape=state_size), Dense(64, activation=tf.keras.activations.relu), "
        "Dense(64, activation=tf.keras.activations.relu), Dense(num_actions, activation=None)"), None),
    ("positional arguments, literal shapes", network("Input((8,)), Dense(64, 'relu'), Dense(64, 'relu'), "
                                                     "Dense(4, 'linear')"), None),
    ("tf.keras.layers spelled out", network(
        "tf.keras.Input(shape=state_size), tf.keras.layers.Dense(64, activation='relu'), "
        "tf.keras.layers.Dense(64, activation='relu'), tf.keras.layers.Dense(num_actions, activation='linear')"),
     None),
    ("a functional Keras model", ("network", "inputs = Input(shape=state_size)\n"
                                  "hidden = Dense(64, activation='relu')(Dense(64, activation='relu')(inputs))\n"
                                  "q_network = tf.keras.Model(inputs, Dense(num_actions)(hidden))"), None),
    ("ReLU given as a layer object", network(
        "Input(shape=state_size), Dense(64, activation=tf.keras.layers.ReLU()), "
        "Dense(64, activation=tf.keras.layers.ReLU()), Dense(num_actions)"), None),
    ("Adam(learning_rate=ALPHA)", optimizer("Adam(learning_rate=ALPHA)"), None),
    ("Adam(ALPHA)", optimizer("Adam(ALPHA)"), None),
    ("tf.keras.optimizers.Adam(0.001)", optimizer("tf.keras.optimizers.Adam(learning_rate=0.001)"), None),
    ("hints' compute_loss", loss(), None),
    ("future term first", loss(y="rewards + (1 - done_vals) * gamma * max_qsa"), None),
    ("tf.where on done", loss(y="tf.where(done_vals > 0.5, rewards, rewards + gamma * max_qsa)"), None),
    ("expanded mask", loss(y="rewards + gamma * max_qsa - gamma * max_qsa * done_vals"), None),
    ("MSE arguments swapped", loss(loss="MSE(q_values, y_targets)"), None),
    ("mean of squares by hand", loss(loss="tf.reduce_mean(tf.square(y_targets - q_values))"), None),
    ("MeanSquaredError object", loss(loss="tf.keras.losses.MeanSquaredError()(y_targets, q_values)"), None),
    ("one-hot selection of the Q-values", ("loss", LOSS.format(max_qsa=GIVEN_MAX, y=RIGHT_Y, loss=RIGHT_LOSS).replace(
        "    loss = MSE",
        "    q_values = tf.reduce_sum(q_network(states) * tf.one_hot(tf.cast(actions, tf.int32), 4), axis=1)\n"
        "    loss = MSE")), None),
    ("squared_difference", loss(loss="tf.reduce_mean(tf.math.squared_difference(q_values, y_targets))"), None),
    ("Keras 2 habit: input_shape on the first Dense", network(
        "Dense(64, activation='relu', input_shape=state_size), Dense(64, activation='relu'), "
        "Dense(num_actions, activation='linear')"), None),
    ("Keras 2 habit: InputLayer(input_shape=...)", network(
        "tf.keras.layers.InputLayer(input_shape=state_size), Dense(64, activation='relu'), "
        "Dense(64, activation='relu'), Dense(num_actions)"), None),
    ("layers added one by one", ("network", "q_network = Sequential()\nq_network.add(Input(shape=state_size))\n"
                                 "q_network.add(Dense(64, activation='relu'))\n"
                                 "q_network.add(Dense(64, activation='relu'))\n"
                                 "q_network.add(Dense(num_actions))"), None),
    ("Adam with gradient clipping", optimizer("Adam(learning_rate=ALPHA, clipnorm=1.0)"), None),
    ("Adam with its own epsilon and amsgrad", optimizer("Adam(learning_rate=ALPHA, epsilon=1e-6, amsgrad=True)"), None),
    ("compute_loss under @tf.function", ("loss", "@tf.function\n" + LOSS.format(max_qsa=GIVEN_MAX, y=RIGHT_Y,
                                                                                 loss=RIGHT_LOSS)), None),
    ("the square written as a power", loss(loss="tf.math.reduce_mean((y_targets - q_values) ** 2)"), None),
]


def grade(agent, kind, source):
    """Run one answer through the grader: None when it passes, else the AssertionError's message.

    Any other exception propagates and fails the test: the grader answers only with AssertionErrors.
    """
    namespace = dict(agent)
    exec(source, namespace)
    test = {"network": lambda: public_tests.test_network(namespace["q_network"]),
            "optimizer": lambda: public_tests.test_optimizer(namespace["optimizer"], namespace["ALPHA"]),
            "loss": lambda: public_tests.test_compute_loss(namespace["compute_loss"])}[kind]
    try:
        test()
    except AssertionError as error:
        return str(error)
    return None


def test_the_catalogue_covers_many_answers():
    wrong = [entry for entry in CATALOGUE if entry[2] is not None]
    assert len(wrong) >= 25 and len(CATALOGUE) - len(wrong) >= 12


@pytest.mark.parametrize("description, answer, expected", CATALOGUE, ids=[entry[0] for entry in CATALOGUE])
def test_the_grader_on(agent, description, answer, expected):
    """A right answer passes; a wrong one fails with a message that names the part that is wrong."""
    message = grade(agent, *answer)
    if expected is None:
        assert message is None, f"a right answer was rejected: {message}"
    else:
        assert message is not None, "a wrong answer passed"
        assert expected in message, f"the message should name '{expected}': {message}"
