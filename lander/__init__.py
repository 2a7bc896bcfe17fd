"""The lesson's machinery, below utils: one room per role, none of which the lesson teaches.

utils.py (the learner's module) imports these and hands on the names the notebook calls. Each room
imports only the standard library, third-party libraries and the rooms listed above it here:

    startup        settings made before TensorFlow, gym and pygame load (quiet, no stray window)
    checks         argument checks with messages that say what was expected
    environment    LunarLander-v2's sizes and names; checks of a state, an action, Q-values; exhaust particles
    numpy_network  the fast forward pass: a numpy copy of a Dense Q-network
    model_files    saving and loading Q-networks across Keras versions
    episodes       evaluation: greedy episodes, how each ended, a table of many
    video          the mp4 writer, GIFs, and the Q-values panel drawn below frames
    flying         flying by hand: keys, engines taking turns, the scores file (no TensorFlow, no pygame)
    widgets        the notebook's section 10: probe the network, fly the lander in the page

This file itself runs nothing: the game's window (scripts/learner/play.py) imports lander.flying
before its window opens, and startup must not have set SDL's driver by then.
"""
