"""Find a Python the pins support on this machine, or fetch one with uv into the project's folder.

Set-up (scripts/learner/setup_env.py) asks here when the Python running it is not one of PYTHONS. The
search looks where Pythons are installed: PATH, Windows' py launcher, Homebrew, pyenv, uv's own
Pythons and this project's .python/; the newest supported one wins. Where there is none, fetch()
downloads the pinned uv (requirements-dev.txt) from the package index into a temporary folder and
has it install Python 3.13 into .python/ (nothing outside the project and uv's cache changes).
Like the package's __init__, this imports only the standard library and runs on old Pythons.
"""
import hashlib
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from scripts import ROOT
from scripts.learner.platforms import PYTHONS, refusal, target_of

OWN_PYTHONS = ROOT / ".python"  # the Pythons set-up fetches (make clean removes them)
FETCHED = PYTHONS[-1]  # the version set-up fetches where none is installed
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"  # holds the uv pin
HOMEBREW = ("/opt/homebrew/opt", "/usr/local/opt")  # Apple silicon's prefix, then Intel's
# Each supported target's uv wheel, by the platform tag in its file name.
UV_WHEELS = {
    "x86_64-unknown-linux-gnu": "manylinux_2_17_x86_64",
    "aarch64-unknown-linux-gnu": "manylinux_2_17_aarch64",
    "aarch64-apple-darwin": "macosx_11_0_arm64",
    "x86_64-pc-windows-msvc": "win_amd64",
}
PROBE = ("import json, platform, struct, sys; print(json.dumps([list(sys.version_info[:3]), "
         "platform.system(), platform.machine(), struct.calcsize('P') * 8]))")
TIMEOUT = 60  # seconds for a probe or a request


def shown(version):
    """3.13 for (3, 13), 3.13.5 for (3, 13, 5)."""
    return ".".join(map(str, version))


def versioned_names():
    """python3.13, python3.12, python3.11: the newest first."""
    return ["python" + shown(version) for version in reversed(PYTHONS)]


def launcher_paths(listing):
    """The interpreters in the output of Windows' `py -0p` (old and new launchers' formats)."""
    return [match.group(1).strip() for match in re.finditer(r"([A-Za-z]:\\.*?\.exe)\s*$", listing, re.MULTILINE)]


def launcher_pythons(path):
    """The Pythons Windows' py launcher knows, where it is on path."""
    launcher = shutil.which("py", path=path)
    if not launcher:
        return []
    try:
        listing = subprocess.run([launcher, "-0p"], capture_output=True, text=True, timeout=TIMEOUT).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return launcher_paths(listing)


def installed_in(folder):
    """The interpreters of the Python installations in folder (pyenv's, uv's: one sub-folder each)."""
    found = []
    for pattern in ("*/bin/python3", "*/python.exe"):
        found += sorted(str(path) for path in Path(folder).glob(pattern))
    return found


def uv_python_folder(environ, home, windows):
    """Where uv installs its own Pythons (its UV_PYTHON_INSTALL_DIR, or its data folder)."""
    if environ.get("UV_PYTHON_INSTALL_DIR"):
        return Path(environ["UV_PYTHON_INSTALL_DIR"])
    if windows:
        return Path(environ.get("APPDATA", home / "AppData" / "Roaming")) / "uv" / "data" / "python"
    return Path(environ.get("XDG_DATA_HOME", home / ".local" / "share")) / "uv" / "python"


def candidates(environ, home, windows, homebrew=HOMEBREW, own=OWN_PYTHONS):
    """Every interpreter that may be a supported Python, in the order they are looked for."""
    path = environ.get("PATH", "")
    found = [shutil.which(name, path=path) for name in [*versioned_names(), "python3", "python"]]
    if windows:
        found += launcher_pythons(path)
    found += [f"{prefix}/python@{shown(version)}/bin/python{shown(version)}"
              for prefix in homebrew for version in reversed(PYTHONS)]
    pyenv = Path(environ.get("PYENV_ROOT", home / ".pyenv"))
    for folder in (pyenv / "versions", pyenv / "pyenv-win" / "versions", uv_python_folder(environ, home, windows),
                   own):
        found += installed_in(folder)
    unique = {}
    for program in found:
        if program and os.path.isfile(program):
            unique.setdefault(os.path.realpath(program), program)
    return list(unique.values())


def probe(program):
    """(version, refusal line or None) of the interpreter program; None where it does not run."""
    try:
        result = subprocess.run([program, "-c", PROBE], capture_output=True, text=True, timeout=TIMEOUT)
        version, system, machine, bits = json.loads(result.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return tuple(version), refusal(version, system, machine, bits)


def newest_supported(programs):
    """(program, version) of the newest supported Python among programs, the first of equals; or None."""
    best = None
    for program in programs:
        answer = probe(program)
        if answer and answer[1] is None and (best is None or answer[0][:2] > best[1][:2]):
            best = (program, answer[0])
    return best


def find():
    """(program, version) of the newest supported Python installed here, or None."""
    return newest_supported(candidates(os.environ, Path.home(), os.name == "nt"))


# ----------------------------------------------------------------------------- fetching one with uv

def uv_pin():
    """uv's version, from requirements-dev.txt (the one pin the project's checks use too)."""
    (line,) = [line for line in DEV_REQUIREMENTS.read_text().splitlines() if line.startswith("uv==")]
    return line.split("==")[1].strip()


def manual_fix(system):
    """How a person installs Python 3.13 by hand on this system."""
    version = shown(FETCHED)
    return {
        "Darwin": f"brew install python@{version}, or python.org's installer",
        "Windows": f"py install {version} (Python's install manager), or python.org's installer",
    }.get(system, f"sudo apt install python{version}-venv where your release has it (Debian trixie and later), "
                  f"sudo dnf install python{version} on Fedora, or python.org's source")


def failure(reason, system):
    """The one line that says the download failed, and the fix by hand."""
    version = shown(FETCHED)
    return (f"Could not download Python {version} ({reason}): install it yourself with {manual_fix(system)}, "
            "then run this command again.")


def megabytes(size):
    return f"{size / 1e6:.0f} MB"


def index_files(index, project):
    """The files the package index lists for project: [{filename, url, hashes, size?}] (PEP 691 or HTML)."""
    request = urllib.request.Request(f"{index.rstrip('/')}/{project}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"})
    with urlopen(request) as response:
        body, address = response.read().decode("utf-8"), response.geturl()
    if body.lstrip().startswith("{"):
        files = json.loads(body)["files"]
    else:
        files = [{"filename": name.strip(), "url": url} for url, name in
                 re.findall(r'<a[^>]*href="([^"]+)"[^>]*>([^<]+)</a>', body)]
    for entry in files:
        url, _, fragment = urllib.parse.urljoin(address, entry["url"]).partition("#")
        entry["url"] = url
        entry.setdefault("hashes", dict([fragment.split("=", 1)]) if "=" in fragment else {})
    return files


def uv_wheel(files, pin, target):
    """The index entry of uv's wheel for target."""
    tag = UV_WHEELS[target]
    wheels = [entry for entry in files if entry["filename"].startswith(f"uv-{pin}-py3-none-")
              and tag in entry["filename"] and entry["filename"].endswith(".whl")]
    if not wheels:
        raise OSError(f"the package index has no uv {pin} wheel for {target}")
    return wheels[0]


def fetch_uv(folder, target):
    """uv's program, from its pinned wheel on the package index, unpacked into folder; (path, wheel size)."""
    pin = uv_pin()
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
    wheel = uv_wheel(index_files(index, "uv"), pin, target)
    with urlopen(wheel["url"]) as response:
        data = response.read()
    expected = wheel["hashes"].get("sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise OSError(f"uv's wheel from {index} does not match the index's sha256")
    name = "uv.exe" if target.endswith("windows-msvc") else "uv"
    archive = folder / wheel["filename"]
    archive.write_bytes(data)
    program = folder / name
    with zipfile.ZipFile(archive) as opened:
        program.write_bytes(opened.read(f"uv-{pin}.data/scripts/{name}"))
    program.chmod(0o755)
    return program, len(data)


def uv_command(uv, *arguments):
    """A uv command that reads no uv.toml and leaves every file outside the project as it is."""
    return [str(uv), *arguments, "--no-config"]


def python_download(uv):
    """(version, url) of the Python 3.13 build uv would install here."""
    wanted = shown(FETCHED)
    listed = subprocess.run(uv_command(uv, "python", "list", wanted, "--only-downloads", "--show-urls",
                                       "--output-format", "json"),
                            capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
    builds = [entry for entry in json.loads(listed) if entry["implementation"] == "cpython"
              and entry["variant"] == "default" and entry["url"]]
    if not builds:
        raise OSError(f"uv lists no Python {wanted} build for this machine")
    newest = max(builds, key=lambda entry: [entry["version_parts"][part] for part in ("major", "minor", "patch")])
    return newest["version"], newest["url"]


def download_size(url):
    """The size in bytes of the file at url (asked of its server; a file:// mirror works too)."""
    request = urllib.request.Request(url, method="HEAD") if url.startswith("http") else url
    with urlopen(request) as response:
        return int(response.headers["Content-Length"])


def urlopen(request):
    """urllib's urlopen; a failure names the host it could not reach."""
    url = request.full_url if isinstance(request, urllib.request.Request) else request
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)
    except OSError as error:
        raise OSError(f"{urllib.parse.urlsplit(url).netloc or url}: {error_reason(error)}") from error


def fetch(why):
    """Install Python 3.13 with uv into .python/, saying so in one line (why: what is wrong with this Python).

    Returns (program, version) of the installed Python, or None after one line that says why not.
    """
    system = platform.system()
    target = target_of(system, platform.machine(), struct.calcsize("P") * 8)
    with tempfile.TemporaryDirectory(prefix="uv-for-set-up-") as folder:
        try:
            uv, uv_size = fetch_uv(Path(folder), target)
            version, url = python_download(uv)
            size = download_size(url)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, subprocess.SubprocessError) as error:
            print(failure(error_reason(error), system), file=sys.stderr)
            return None
        print(f"{why}, and no Python {', '.join(map(shown, PYTHONS))} is installed: "
              f"fetching Python {version} ({megabytes(size)}) with uv {uv_pin()} ({megabytes(uv_size)}, from the "
              f"package index) into {OWN_PYTHONS.name}/, for this project only...", flush=True)
        install = uv_command(uv, "python", "install", version, "--install-dir", str(OWN_PYTHONS), "--no-bin",
                             "--no-registry")
        if subprocess.run(install).returncode != 0:
            print(failure(f"uv python install {version} failed, above", system), file=sys.stderr)
            return None
    installed = newest_supported(installed_in(OWN_PYTHONS))
    if not installed:
        print(failure(f"the Python that uv put into {OWN_PYTHONS.name}/ does not run", system), file=sys.stderr)
    return installed


def error_reason(error):
    """A short reason for a failed request or command, in one line."""
    reason = getattr(error, "reason", None) or error
    return " ".join(str(reason).split()) or type(error).__name__
