#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: it installs what
# grading needs. It finds Python 3.11 to 3.13 (python3.13, python3.12, python3.11 or python3 on
# PATH), or installs python3.11 with apt (Ubuntu 22.04 has it in universe; its own python3 is
# 3.10, too old for the pins); makes /autograder/source/.venv from it with the pinned packages in
# requirements.txt; and installs bubblewrap, the grader's sandbox, where apt has it. Its last line
# says what it used.
set -euo pipefail
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=$SOURCE/.venv
export DEBIAN_FRONTEND=noninteractive

apt_install() {
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A Python of a supported version on PATH, the newest first; none: exit 1.
find_python() {
  local program
  for program in python3.13 python3.12 python3.11 python3; do
    if command -v "$program" >/dev/null \
        && "$program" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; then
      command -v "$program"
      return 0
    fi
  done
  return 1
}

apt-get update -qq >/dev/null || echo "setup.sh: apt-get update failed; trying with the package lists there are." >&2
found="found on PATH"
if ! python=$(find_python); then
  apt_install python3.11 python3.11-venv || {
    echo "setup.sh: no Python 3.11 to 3.13 on PATH, and apt cannot install python3.11: choose Gradescope's Ubuntu 22.04 base image." >&2
    exit 1
  }
  python=$(command -v python3.11)
  found="installed with apt"
fi
version=$("$python" -c 'import platform; print(platform.python_version())')

# Debian and Ubuntu ship Python's venv module apart, as pythonX.Y-venv.
rm -rf "$VENV"
if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
  rm -rf "$VENV"
  apt_install "python${version%.*}-venv"
  "$python" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --no-input --disable-pip-version-check -r "$SOURCE/requirements.txt"
packages=$(grep -c '^[A-Za-z]' "$SOURCE/requirements.txt")

if command -v bwrap >/dev/null || apt_install bubblewrap 2>/dev/null; then
  sandbox="$(bwrap --version) installed (whether it can run here is told with each grade)"
else
  sandbox="no bubblewrap (apt has none): the grader's fallback isolation"
fi
echo "setup.sh: Python $version ($python, $found); $packages pinned packages in $VENV; $sandbox."
