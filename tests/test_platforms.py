"""What differs between the machines learners have: set-up's refusals, Ctrl-C on Windows, Box2D's provider."""
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import ROOT

from scripts.learner.platforms import PYTHONS, SUPPORTED, UNSUPPORTED, refusal, target_of
from scripts.learner.run_notebook import install_interrupt_handler


@pytest.mark.parametrize("system, machine, bits, target", [
    ("Linux", "x86_64", 64, "x86_64-unknown-linux-gnu"),
    ("Linux", "aarch64", 64, "aarch64-unknown-linux-gnu"),
    ("Darwin", "arm64", 64, "aarch64-apple-darwin"),
    ("Darwin", "x86_64", 64, "x86_64-apple-darwin"),
    ("Windows", "AMD64", 64, "x86_64-pc-windows-msvc"),
    ("Windows", "ARM64", 64, "aarch64-pc-windows-msvc"),
    ("Windows", "AMD64", 32, "i686-pc-windows-msvc"),
    ("Linux", "armv7l", 32, "i686-unknown-linux-gnu"),
])
def test_each_machine_gets_its_target(system, machine, bits, target):
    assert target_of(system, machine, bits) == target


@pytest.mark.parametrize("system, machine", [("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "arm64"),
                                             ("Windows", "AMD64")])
@pytest.mark.parametrize("python", PYTHONS)
def test_supported_machines_set_up(system, machine, python):
    assert refusal((*python, 0), system, machine, 64) is None


@pytest.mark.parametrize("version, system, machine, bits, words", [
    ((3, 14, 0), "Linux", "x86_64", 64, "Python 3.14 is not supported yet"),
    ((3, 10, 12), "Linux", "x86_64", 64, "Python 3.10 is too old"),
    ((3, 12, 1), "Darwin", "x86_64", 64, "macOS x86-64 (Intel) is not supported: TensorFlow 2.21 has no wheel"),
    ((3, 12, 1), "Windows", "ARM64", 64, "Windows arm64 is not supported"),
    ((3, 11, 7), "Windows", "AMD64", 32, "32-bit Windows is not supported"),
    ((3, 11, 7), "Linux", "riscv64", 64, "This machine (Linux riscv64) is not supported"),
])
def test_unsupported_machines_get_one_plain_line(version, system, machine, bits, words):
    line = refusal(version, system, machine, bits)
    assert line.startswith(words) and "\n" not in line


def test_the_tables_do_not_overlap():
    assert not set(SUPPORTED) & set(UNSUPPORTED)


def fake_client():
    """A stand-in for nbclient's client: records kernel interrupts and kills."""
    calls = []

    async def interrupt_kernel():
        calls.append("interrupt")
    process = SimpleNamespace(kill=lambda: calls.append("kill"))
    client = SimpleNamespace(km=SimpleNamespace(interrupt_kernel=interrupt_kernel,
                                                provisioner=SimpleNamespace(process=process)))
    return client, calls


def test_ctrl_c_on_windows_interrupts_then_aborts(monkeypatch):
    """Where asyncio has no signal handlers (Windows), Ctrl-C goes through signal.signal, with the same effect."""
    client, calls = fake_client()
    install_interrupt_handler(client)

    async def notebook_run():
        installed = {}
        with monkeypatch.context() as patch:  # only while the run lasts: asyncio.run sets its own handler
            patch.setattr(signal, "signal", lambda number, handler: installed.update({number: handler}))
            patch.setattr(asyncio.get_running_loop(), "add_signal_handler",
                          lambda *args: (_ for _ in ()).throw(NotImplementedError))
            client.on_notebook_start(None)
        installed[signal.SIGINT](signal.SIGINT, None)  # first Ctrl-C
        await asyncio.sleep(0.05)
        installed[signal.SIGINT](signal.SIGINT, None)  # second Ctrl-C
    asyncio.run(notebook_run())
    assert calls == ["interrupt", "kill"]


def test_ctrl_c_on_posix_uses_the_event_loop(monkeypatch):
    client, calls = fake_client()
    install_interrupt_handler(client)

    async def notebook_run():
        handlers = {}
        with monkeypatch.context() as patch:
            patch.setattr(asyncio.get_running_loop(), "add_signal_handler",
                          lambda number, handler: handlers.update({number: handler}))
            client.on_notebook_start(None)
        handlers[signal.SIGINT]()
        await asyncio.sleep(0.05)
    asyncio.run(notebook_run())
    assert calls == ["interrupt"]


# ----------------------------------------------------------------------------- Box2D on aarch64

PLAY = """
import json, sys, warnings
warnings.simplefilter("ignore")
import Box2D, gym, numpy as np
env = gym.make("LunarLander-v2")
rng = np.random.default_rng(7)
trace = {"provider": Box2D.__file__, "episodes": []}
for seed in (0, 1, 2):
    states, rewards = [env.reset(seed=seed).tolist()], []
    for _ in range(400):
        state, reward, done, _ = env.step(int(rng.integers(4)))
        states.append(state.tolist()); rewards.append(reward)
        if done:
            break
    trace["episodes"].append({"states": states, "rewards": rewards})
print(json.dumps(trace))
"""


def aarch64_provider_pin():
    """The requirement line that gives Linux aarch64 its Box2D module."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    (line,) = [line for line in lines if 'platform_machine == "aarch64"' in line and "box2d" in line.lower()]
    return line.split(";")[0].strip()


def play(extra_path=None):
    env = {"PYTHONPATH": str(extra_path)} if extra_path else {}
    result = subprocess.run([sys.executable, "-c", PLAY], capture_output=True, text=True, check=True,
                            env={**os.environ, **env})
    return json.loads(result.stdout)


def test_lunar_lander_is_the_same_with_the_aarch64_box2d_provider(tmp_path):
    """States and rewards, bit for bit, with ufal.pybox2d (installed here for x86-64) and with Box2D 2.3.10."""
    pin = aarch64_provider_pin()
    assert re.fullmatch(r"ufal\.pybox2d==[\d.]+", pin), pin
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "--target", str(tmp_path / "provider"), pin], check=True)
    ours, theirs = play(), play(tmp_path / "provider")
    assert str(tmp_path) in theirs["provider"] and str(tmp_path) not in ours["provider"]
    assert [len(e["rewards"]) for e in ours["episodes"]] == [len(e["rewards"]) for e in theirs["episodes"]]
    assert ours["episodes"] == theirs["episodes"]
