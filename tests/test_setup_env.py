"""Set-up on a Python the pins do not support: which Python it chooses, what it fetches, what it says.

The interpreters and uv here are stand-ins, small scripts in tmp_path that answer as the real ones
would; uv's real download and install run in `make test-python314` (a Debian forky system whose
only Python is 3.14).
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

from scripts.learner import pythons, setup_env
from scripts.learner.platforms import NEWER_PYTHON, SUPPORTED, python_refusal

needs_sh = pytest.mark.skipif(os.name == "nt", reason="the stand-ins are shell scripts")


def stand_in_python(path, version, system="Linux", machine="x86_64", bits=64):
    """A program at path that answers set-up's probe as a Python of version on that machine would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    answer = json.dumps([list(version), system, machine, bits])
    path.write_text(f"#!/bin/sh\necho '{answer}'\n")
    path.chmod(0o755)
    return path


def found_among(tmp_path, environ):
    return pythons.newest_supported(pythons.candidates(environ, tmp_path / "home", windows=False,
                                                       homebrew=(str(tmp_path / "brew"),), own=tmp_path / "own"))


@needs_sh
def test_the_newest_supported_python_wins(tmp_path):
    """3.14 and 3.10 are passed over, and so are a 32-bit 3.13 and one that does not run."""
    bin_folder = tmp_path / "bin"
    stand_in_python(bin_folder / "python3.14", (3, 14, 0))
    stand_in_python(bin_folder / "python3", (3, 10, 12))
    stand_in_python(bin_folder / "python3.11", (3, 11, 9))
    stand_in_python(bin_folder / "python3.13", (3, 13, 1), bits=32)
    (bin_folder / "python").write_text("#!/bin/sh\nexit 1\n")
    (bin_folder / "python").chmod(0o755)
    brew = stand_in_python(tmp_path / "brew" / "python@3.12" / "bin" / "python3.12", (3, 12, 8))
    environ = {"PATH": str(bin_folder)}
    assert found_among(tmp_path, environ) == (str(brew), (3, 12, 8))
    pyenv = stand_in_python(tmp_path / "pyenv" / "versions" / "3.13.2" / "bin" / "python3", (3, 13, 2))
    assert found_among(tmp_path, {**environ, "PYENV_ROOT": str(tmp_path / "pyenv")}) == (str(pyenv), (3, 13, 2))


@needs_sh
def test_uvs_own_pythons_and_the_projects_are_found(tmp_path):
    uv_folder = tmp_path / "uv-pythons"
    uvs = stand_in_python(uv_folder / "cpython-3.12.11-linux-x86_64-gnu" / "bin" / "python3", (3, 12, 11))
    environ = {"PATH": "", "UV_PYTHON_INSTALL_DIR": str(uv_folder)}
    assert found_among(tmp_path, environ) == (str(uvs), (3, 12, 11))
    own = stand_in_python(tmp_path / "own" / "cpython-3.13.15-linux-x86_64-gnu" / "bin" / "python3", (3, 13, 15))
    assert found_among(tmp_path, environ) == (str(own), (3, 13, 15))


@needs_sh
def test_none_is_found_where_only_unsupported_pythons_are(tmp_path):
    stand_in_python(tmp_path / "bin" / "python3", (3, 14, 0))
    stand_in_python(tmp_path / "bin" / "python3.10", (3, 10, 13))
    assert found_among(tmp_path, {"PATH": str(tmp_path / "bin")}) is None


def test_the_windows_launchers_listing_is_read():
    """`py -0p` of the launcher python.org installed, and of Python's install manager."""
    old = " -V:3.14 *        C:\\Users\\ada\\AppData\\Local\\Programs\\Python\\Python314\\python.exe\n" \
          " -V:3.13          C:\\Program Files\\Python313\\python.exe\n"
    new = " -3.12-64        C:\\Python312\\python.exe\n -3.11-32        C:\\Python311-32\\python.exe\n"
    assert pythons.launcher_paths(old + new) == [
        "C:\\Users\\ada\\AppData\\Local\\Programs\\Python\\Python314\\python.exe",
        "C:\\Program Files\\Python313\\python.exe", "C:\\Python312\\python.exe", "C:\\Python311-32\\python.exe"]


def test_every_supported_machine_can_fetch_uv():
    assert set(pythons.UV_WHEELS) == set(SUPPORTED)


@pytest.mark.parametrize("system, fix", [
    ("Linux", "sudo apt install python3.13-venv"),
    ("Darwin", "brew install python@3.13"),
    ("Windows", "py install 3.13"),
])
def test_a_failed_download_names_the_fix_for_the_system(system, fix):
    line = pythons.failure("releases.astral.sh: [Errno -3] Temporary failure in name resolution", system)
    assert line.startswith("Could not download Python 3.13 (releases.astral.sh: ") and fix in line
    assert "python.org" in line and "\n" not in line


# ----------------------------------------------------------------------------- set-up itself

@pytest.fixture
def on_python_314(monkeypatch, tmp_path):
    """Set-up as on Python 3.14, with .venv to make; pythons.py's own folder in tmp_path."""
    monkeypatch.setattr(setup_env, "is_current", lambda requirements, stamp: False)
    monkeypatch.setattr(setup_env, "python_refusal", lambda version: python_refusal((3, 14, 0)))
    monkeypatch.setattr(pythons, "OWN_PYTHONS", tmp_path / ".python")


def recording_python(tmp_path, version):
    """A stand-in Python that answers the probe, and otherwise writes its arguments to ran.txt."""
    path = tmp_path / "stand-ins" / f"python{version[0]}.{version[1]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    answer = json.dumps([list(version), "Linux", "x86_64", 64])
    path.write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then echo \'{answer}\'; exit; fi\n'
                    f'echo "$@" > {tmp_path / "ran.txt"}\n')
    path.chmod(0o755)
    return path


@needs_sh
def test_a_found_python_runs_set_up_again_and_says_so_in_one_line(on_python_314, monkeypatch, tmp_path, capsys):
    chosen = recording_python(tmp_path, (3, 13, 0))
    monkeypatch.setattr(pythons, "find", lambda: (str(chosen), (3, 13, 0)))
    assert setup_env.main(["--dev"]) == 0
    said = capsys.readouterr().out
    assert said == (f"Python 3.14 is not supported yet ({NEWER_PYTHON}): set-up uses Python 3.13.0 ({chosen}), "
                    "the newest supported Python installed here.\n")
    ran = (tmp_path / "ran.txt").read_text().split()
    assert ran == ["-m", "scripts.learner.setup_env", "--dev", "--chosen", str(chosen)]


def test_a_chosen_unsupported_python_is_refused_in_one_line(on_python_314, monkeypatch, capsys):
    monkeypatch.setattr(pythons, "find", lambda: pytest.fail("a chosen Python is never replaced"))
    assert setup_env.main(["--chosen", "python3.14"]) == 1
    said = capsys.readouterr().err
    assert said.startswith("PYTHON=python3.14: Python 3.14 is not supported yet (") and said.count("\n") == 1
    assert "leave PYTHON out, and set-up finds or fetches one." in said


def test_an_unsupported_machine_is_refused_whatever_its_python(on_python_314, monkeypatch, capsys):
    monkeypatch.setattr(setup_env.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(setup_env.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(pythons, "find", lambda: pytest.fail("no Python can help on an Intel Mac"))
    assert setup_env.main([]) == 1
    assert capsys.readouterr().err.startswith("macOS x86-64 (Intel) is not supported: TensorFlow 2.21 has no wheel")


def stand_in_uv(tmp_path, download_url, installs=True):
    """A uv that lists one Python 3.13.18 download at download_url; its `python install` writes its arguments
    to uv.txt and, where installs, puts recording_python's 3.13.18 into the install folder it is given."""
    listing = json.dumps([{"key": "cpython-3.13.18-linux-x86_64-gnu", "version": "3.13.18", "url": download_url,
                           "version_parts": {"major": 3, "minor": 13, "patch": 18}, "implementation": "cpython",
                           "variant": "default"}])
    python = recording_python(tmp_path, (3, 13, 18))
    folder = '"$5/cpython-3.13.18-linux-x86_64-gnu/bin"'
    install = f"mkdir -p {folder} && cp {python} {folder}/python3"
    uv = tmp_path / "uv"
    uv.write_text(f'#!/bin/sh\nif [ "$2" = list ]; then echo \'{listing}\'; exit; fi\n'
                  f'echo "$@" > {tmp_path / "uv.txt"}\n' + (install if installs else "exit 1") + "\n")
    uv.chmod(0o755)
    return uv


@needs_sh
def test_where_none_is_installed_uv_fetches_3_13_into_the_project(on_python_314, monkeypatch, tmp_path, capsys):
    """The one line says what and how large; uv installs into .python/ only (no links in ~/.local/bin)."""
    build = tmp_path / "cpython-3.13.18.tar.gz"
    with build.open("wb") as file:
        file.truncate(33_400_000)
    monkeypatch.setattr(pythons, "find", lambda: None)
    monkeypatch.setattr(pythons, "fetch_uv", lambda folder, target: (stand_in_uv(tmp_path, build.as_uri()), 17_606_939))
    assert setup_env.main([]) == 0
    said = capsys.readouterr().out
    assert said == ("Python 3.14 is not supported yet (TensorFlow 2.21, Box2D 2.3.10 and pygame 2.6.1 have no wheels "
                    "for it yet), and no Python 3.11, 3.12, 3.13 is installed: fetching Python 3.13.18 (33 MB) with "
                    f"uv {pythons.uv_pin()} (18 MB, from the package index) into .python/, for this project only...\n")
    own = tmp_path / ".python"
    assert (tmp_path / "uv.txt").read_text().split() == ["python", "install", "3.13.18", "--install-dir", str(own),
                                                         "--no-bin", "--no-registry", "--no-config"]
    program = str(own / "cpython-3.13.18-linux-x86_64-gnu" / "bin" / "python3")
    assert (tmp_path / "ran.txt").read_text().split() == ["-m", "scripts.learner.setup_env", "--chosen", program]


@needs_sh
@pytest.mark.parametrize("where, installs, reason", [
    ("http://python-builds.invalid/cpython-3.13.18.tar.gz", True, "(python-builds.invalid: "),
    (None, False, "(uv python install 3.13.18 failed, above)"),
])
def test_a_failed_download_says_so_in_one_line(on_python_314, monkeypatch, tmp_path, capsys, where, installs, reason):
    """Offline (the download's host unknown) or uv failing: one line, the fix by hand, set-up stops."""
    build = tmp_path / "cpython-3.13.18.tar.gz"
    build.write_bytes(b"not reached")
    monkeypatch.setattr(pythons, "find", lambda: None)
    monkeypatch.setattr(pythons, "fetch_uv", lambda folder, target: (stand_in_uv(tmp_path, where or build.as_uri(),
                                                                                 installs), 17_606_939))
    monkeypatch.setattr(pythons.platform, "system", lambda: "Linux")
    assert setup_env.main([]) == 1
    said = capsys.readouterr().err
    assert said.startswith("Could not download Python 3.13 " + reason) and said.count("\n") == 1
    assert "sudo apt install python3.13-venv" in said and not (tmp_path / ".python").exists()


def unsupported_python():
    """A Python the pins do not support (3.14, 3.15, or 3.8 to 3.10) that runs here, from PATH or pyenv; or None."""
    for version in ("3.15", "3.14", "3.10", "3.9", "3.8"):
        pyenv = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python3"))
        for found in [shutil.which(f"python{version}"), *pyenv]:
            if found and subprocess.run([str(found), "-c", ""], capture_output=True).returncode == 0:
                return str(found)
    return None


@pytest.mark.skipif(unsupported_python() is None, reason="no Python 3.14, 3.15 or 3.8 to 3.10 here")
def test_a_real_unsupported_python_reaches_the_line(tmp_path):
    """Set-up and its chooser run on an old or new Python: a chosen one is refused in a line, not a SyntaxError."""
    for name in ("scripts", "requirements.txt", "requirements-dev.txt"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, tmp_path / name)
    program = unsupported_python()
    result = subprocess.run([program, "-m", "scripts.learner.setup_env", "--chosen", program], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"PYTHON={program}: Python 3.")
    assert "is too old for this project" in result.stderr or "is not supported yet" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None or os.name == "nt", reason="needs make and a POSIX shell")
@pytest.mark.parametrize("made_from_own_python", [True, False])
def test_make_clean_removes_set_ups_python_and_a_venv_made_from_it(tmp_path, made_from_own_python):
    """make clean, as the Makefile has it, in a copy: .python/ goes; .venv goes with it only when made from it."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    own = tmp_path / ".python" / "cpython-3.13.15-linux-x86_64-gnu" / "bin"
    own.mkdir(parents=True)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text(f"home = {own if made_from_own_python else '/usr/bin'}\n")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    assert not (tmp_path / ".python").exists()
    assert (tmp_path / ".venv").exists() != made_from_own_python
