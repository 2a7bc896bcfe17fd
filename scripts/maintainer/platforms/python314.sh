#!/usr/bin/env bash
# The first command where the only Python is 3.14, which the pins do not support: a Debian forky
# system made with debootstrap (its python3 is 3.14; no python3.13 installed), a clean clone of this
# repository's committed HEAD, then in a chroot `make run` (a short training) and part of `make test`.
# Set-up finds no Python 3.11 to 3.13 there, so it fetches the pinned uv from PyPI and has uv install
# Python 3.13 into the clone's .python/. This machine cannot reach uv's download site, so uv is given
# a list of one download (UV_PYTHON_DOWNLOADS_JSON_URL), a local archive laid out as uv's own
# (python-build-standalone's install_only): forky's own python3.13 packages, downloaded, not
# installed, and repacked outside the chroot. uv's real `uv python install` unpacks it.
# Needs root and the registries (Debian's, PyPI). The system and the archive are kept in
# $FORKY_DIR for the next run.
set -euo pipefail
FORKY_DIR=${FORKY_DIR:-/var/tmp/dqn-lunar-lander-forky}
EPISODES=${PYTHON314_EPISODES:-5}
PYTHON314_TESTS=${PYTHON314_TESTS:-tests/test_setup_env.py tests/test_environment.py}
MIRROR=/srv/python-downloads  # the archive and uv's list of downloads, inside the chroot
PACKAGES="python3.13-minimal libpython3.13-minimal libpython3.13-stdlib python3.13-venv python3-pip-whl"

# shellcheck source=scripts/maintainer/platforms/chroot_common.sh
source "$(dirname "$0")/chroot_common.sh"
need_root "debootstrap and chroot"

# Older debootstraps (bookworm's) have no script for forky: it is made like sid's, from a copy.
debootstrap_knows_forky() {
  local scripts=${DEBOOTSTRAP_DIR:-/usr/share/debootstrap}
  if [ -e "$scripts/scripts/forky" ]; then return; fi
  DEBOOTSTRAP_DIR=$(mktemp -d)
  undo+=("rm -rf $DEBOOTSTRAP_DIR")
  cp -r "$scripts/." "$DEBOOTSTRAP_DIR/"
  ln -s sid "$DEBOOTSTRAP_DIR/scripts/forky"
  export DEBOOTSTRAP_DIR
}

# forky's python3.13 as uv expects a Python download: python/bin/python3.13 and python/lib/python3.13,
# pip's wheel where ensurepip looks for it (Debian ships it apart), in a .tar.gz named as uv's are;
# beside it downloads.json, uv's list, with its sha256.
repack_python313() {
  local mirror=$FORKY_DIR$MIRROR work version pip_wheel pip_version name
  if [ -s "$mirror/downloads.json" ]; then return; fi
  echo "Repacking Debian forky's python3.13 packages (downloaded, not installed) as a Python download for uv..."
  work=$(mktemp -d)
  undo+=("rm -rf $work")
  rm -rf "$FORKY_DIR/tmp/python3.13-packages" && mkdir -p "$FORKY_DIR/tmp/python3.13-packages"
  run_in_chroot "$FORKY_DIR" "apt-get -qq -o Acquire::Check-Valid-Until=false update && \
    apt-get -qq -o APT::Sandbox::User=root download $PACKAGES" /tmp/python3.13-packages
  for package in "$FORKY_DIR"/tmp/python3.13-packages/*.deb; do dpkg-deb -x "$package" "$work/debian"; done
  version=$(dpkg-deb -f "$FORKY_DIR"/tmp/python3.13-packages/python3.13-minimal_*.deb Version)
  version=${version%%-*}
  mkdir -p "$work/python/bin" "$work/python/lib"
  cp -a "$work/debian/usr/bin/python3.13" "$work/python/bin/"
  ln -s python3.13 "$work/python/bin/python3"
  ln -s python3.13 "$work/python/bin/python"
  cp -a "$work/debian/usr/lib/python3.13" "$work/python/lib/"
  rm -f "$work/python/lib/python3.13/EXTERNALLY-MANAGED" "$work/python/lib/python3.13/sitecustomize.py"
  pip_wheel=$(ls "$work"/debian/usr/share/python-wheels/pip-*.whl)
  pip_version=$(basename "$pip_wheel" | cut -d- -f2)
  mkdir -p "$work/python/lib/python3.13/ensurepip/_bundled"
  cp "$pip_wheel" "$work/python/lib/python3.13/ensurepip/_bundled/"
  sed -i "s/^_PIP_VERSION = .*/_PIP_VERSION = \"$pip_version\"/" "$work/python/lib/python3.13/ensurepip/__init__.py"
  name="cpython-$version+debian-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
  mkdir -p "$mirror"
  tar -C "$work" -czf "$mirror/$name" python
  cat >"$mirror/downloads.json" <<EOF
{"cpython-$version-linux-x86_64-gnu": {"name": "cpython", "arch": {"family": "x86_64", "variant": null},
  "os": "linux", "libc": "gnu", "major": 3, "minor": 13, "patch": ${version##*.}, "prerelease": "",
  "url": "file://$MIRROR/$name", "sha256": "$(sha256sum "$mirror/$name" | cut -d' ' -f1)",
  "variant": null, "build": "debian"}}
EOF
  rm -rf "$FORKY_DIR/tmp/python3.13-packages"
}

started=$SECONDS
debootstrap_knows_forky
bootstrap "$FORKY_DIR" forky --include=python3,make,git,ca-certificates
prepare_chroot "$FORKY_DIR"  # with this machine's pip cache lent
repack_python313
# A PYTHON named that is 3.14, or no program: one line each. Offline (uv's download site unknown):
# one line, nothing fetched. Then, from the list above, make run and the tests; uv left nothing
# outside the clone but its cache.
run_in_chroot "$FORKY_DIR" "$WHERE && ls /usr/bin/python3* | tr '\n' ' ' && echo '(no Python 3.13 installed)' \
  && ! command -v python3.13 \
  && ! make run PYTHON=python3.14 && ! make run PYTHON=python3.99 \
  && ! UV_PYTHON_INSTALL_MIRROR=http://python-downloads.invalid python3 -m scripts.learner.setup_env && test ! -e .python \
  && export UV_PYTHON_DOWNLOADS_JSON_URL=$MIRROR/downloads.json \
  && make run RUN='--episodes $EPISODES' && echo \".venv: \$(.venv/bin/python --version)\" \
  && test ! -e /root/.local/bin && test ! -e /root/.local/share/uv && make test TESTS='$PYTHON314_TESTS'"
echo "Python 3.14 only (Debian forky): set-up fetched 3.13 with uv, make run and the tests passed; $((SECONDS - started)) s in all."
