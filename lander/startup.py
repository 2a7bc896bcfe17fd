"""Settings made before TensorFlow, gym and pygame load: no stray window, no start-up noise.

utils and every room that loads TensorFlow or gym import this first. The game's window
(scripts/learner/play.py) must open before it: it sets SDL to draw off-screen.
"""
import ctypes
import os
import warnings

# gym 0.24 opens a pygame window even to render frames into arrays; draw off-screen instead,
# so no stray window appears on a desktop and no screen is needed on a server.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

# TensorFlow's start-up messages, kept out of the notebook (which imports utils before TensorFlow).
# Its C++ log shows errors only, or nothing where no GPU can work: TensorFlow's full package then
# logs an error a learner can do nothing about ("failed call to cuInit"). NVIDIA's driver library is
# asked, as TensorFlow asks it; where a GPU is there but fails, TensorFlow's errors still say why.
# No oneDNN notice either, which TensorFlow prints before its log settings apply: oneDNN's custom
# operations change nothing for this network, the same weights, bit for bit (tests/test_utils.py).
try:
    _NO_GPU = ctypes.CDLL("libcuda.so.1").cuInit(0) == 100  # CUDA_ERROR_NO_DEVICE
except OSError:  # no NVIDIA driver (always so on macOS and Windows, where TensorFlow has no CUDA)
    _NO_GPU = True
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3" if _NO_GPU else "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import gym  # noqa: E402, F401  before the filter below: importing gym puts its own DeprecationWarning filter first

# matplotlib 3.10 (Colab's) calls functions that pyparsing 3.3 deprecates, as it loads; gym's filter
# would show each warning. Keras loads matplotlib inside TensorFlow, so both load with the filter.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="matplotlib")
    import matplotlib.pyplot  # noqa: E402, F401
    import tensorflow  # noqa: E402, F401

# Box2D's SWIG bindings warn on import under Python 3.11+; nothing a learner can act on.
warnings.filterwarnings("ignore", message="builtin type .* has no __module__", category=DeprecationWarning)
# Python 3.13: TensorFlow's AutoGraph, through gast 0.7, passes ast nodes a keyword they do not
# take (serge-sans-paille/gast#104); gym's logger would show the warning in the training cell.
warnings.filterwarnings("ignore", message=r".*__init__ got an unexpected keyword argument",
                        category=DeprecationWarning, module="gast")
