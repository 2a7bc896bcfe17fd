"""TensorFlow's start-up messages stay out of the learner's way, and a GPU's errors stay in it.

utils sets TensorFlow's C++ log level before TensorFlow loads: errors only ("2"), or nothing ("3")
where no GPU can work, which it asks NVIDIA's driver library, libcuda.so.1. Stand-in driver
libraries (built here with the C compiler) answer as a machine without a GPU, with a working
GPU and with a broken one would.
"""
import ctypes
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf
from conftest import LEARNER_ENV, ROOT

LEARNER = {name: value for name, value in LEARNER_ENV.items() if name != "TF_CPP_MIN_LOG_LEVEL"}


def has_nvidia_driver():
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def run_python(code, **env):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                            env={**LEARNER, **env})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def log_level(**env):
    return run_python("import os, utils; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])", **env).stdout.split()[-1]


@pytest.fixture(scope="module")
def driver_answering(tmp_path_factory):
    """driver_answering(code): a folder holding a libcuda.so.1 whose cuInit returns code."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if sys.platform != "linux" or not compiler:
        pytest.skip("needs Linux and a C compiler to build stand-in NVIDIA driver libraries")

    def build(code):
        folder = tmp_path_factory.mktemp(f"cuda{code}")
        (folder / "stub.c").write_text(f"int cuInit(unsigned int flags) {{ return {code}; }}\n")
        subprocess.run([compiler, "-shared", "-fPIC", "-o", str(folder / "libcuda.so.1"), str(folder / "stub.c")],
                       check=True)
        return str(folder)
    return build


@pytest.mark.skipif(has_nvidia_driver(), reason="this machine has an NVIDIA driver")
def test_without_a_driver_tensorflow_logs_nothing():
    assert log_level() == "3"


@pytest.mark.parametrize("answer, level", [(100, "3"),  # CUDA_ERROR_NO_DEVICE: a driver, no GPU
                                           (0, "2"),  # a GPU that works: TensorFlow's errors stay shown
                                           (804, "2")])  # a GPU that fails: TensorFlow says why
def test_with_a_driver_the_level_follows_its_answer(driver_answering, answer, level):
    assert log_level(LD_LIBRARY_PATH=driver_answering(answer)) == level


def test_a_level_the_learner_chose_is_kept():
    assert log_level(TF_CPP_MIN_LOG_LEVEL="0") == "0"


@pytest.mark.skipif(not tf.test.is_built_with_cuda(), reason="this TensorFlow has no CUDA (tensorflow-cpu): "
                    "no cuInit to fail; make test-colab runs the full package")
@pytest.mark.skipif(has_nvidia_driver(), reason="this machine has an NVIDIA driver")
def test_the_full_tensorflow_package_says_nothing_without_a_gpu():
    result = run_python("import utils, tensorflow as tf; print(float(tf.constant(1.0) + 1))")
    assert result.stdout.split()[-1] == "2.0" and result.stderr == ""
