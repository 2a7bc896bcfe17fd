#!/usr/bin/env bash
# The tests on Linux aarch64 (64-bit Arm), emulated on an x86-64 machine as a new user of a Raspberry
# Pi or a Graviton server would run them: a Debian bookworm arm64 system made with debootstrap, run
# through qemu-user-static and binfmt_misc, a clean clone of this repository's committed HEAD, then
# `make test TESTS="$ARM64_TESTS"` in a chroot. Emulation is about 10 times slower, so by default
# it runs the tests that touch the platform (README says which); ARM64_TESTS=tests runs them all.
# Needs root and Debian's registry. The system is kept in $ARM64_DIR for the next run; the emulator
# is registered only when missing, and the host is left as it was found.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARM64_DIR=${ARM64_DIR:-/var/tmp/dqn-lunar-lander-arm64}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ARM64_TESTS=${ARM64_TESTS:-tests/test_environment.py tests/test_utils.py tests/test_grader.py tests/test_notebook_execution.py}
BINFMT=/proc/sys/fs/binfmt_misc

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test_arm64.sh needs root (binfmt_misc, debootstrap and chroot): run it with sudo." >&2
  exit 1
fi
install() { apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }; }
command -v debootstrap >/dev/null || install debootstrap
[ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] || install qemu-user-static

mounted=()
undo=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  for ((i = ${#undo[@]} - 1; i >= 0; i--)); do eval "${undo[i]}" || true; done
}
trap cleanup EXIT

if [ "$(uname -m)" != aarch64 ]; then
  if [ ! -e "$BINFMT/register" ]; then
    mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null \
      || { echo "Cannot mount binfmt_misc here (a container without the privilege?): no arm64 emulation." >&2; exit 1; }
    undo+=("umount $BINFMT")
  fi
  if [ ! -e "$BINFMT/qemu-aarch64" ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$BINFMT/register"
    undo+=("echo -1 >$BINFMT/qemu-aarch64")
  fi
fi

started=$SECONDS
if [ ! -x "$ARM64_DIR/usr/bin/python3" ] || [ ! -x "$ARM64_DIR/usr/bin/make" ]; then
  echo "Making a Debian bookworm arm64 system in $ARM64_DIR (debootstrap, emulated: about 5 minutes)..."
  rm -rf "$ARM64_DIR"
  debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pip,make,git,ca-certificates \
    bookworm "$ARM64_DIR" "$MIRROR" >"$ARM64_DIR.log" 2>&1 \
    || { tail -20 "$ARM64_DIR.log" >&2; exit 1; }
  echo "debootstrap took $((SECONDS - started)) s"
fi

# Reach the registry as this machine does: its pip settings and the certificates it trusts.
for config in /etc/pip.conf /root/.config/pip/pip.conf /root/.pip/pip.conf; do
  if [ -f "$config" ]; then mkdir -p "$ARM64_DIR$(dirname "$config")"; cp "$config" "$ARM64_DIR$config"; fi
done
cp /etc/ssl/certs/ca-certificates.crt "$ARM64_DIR/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$ARM64_DIR/etc/resolv.conf"

for fs in proc sys dev dev/pts; do
  mount --bind "/$fs" "$ARM64_DIR/$fs" && mounted+=("$ARM64_DIR/$fs")
done

rm -rf "$ARM64_DIR/root/project"
git clone --quiet "$ROOT" "$ARM64_DIR/root/project"

keep=(HOME=/root LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI=true)
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
  if [ -n "${!name:-}" ]; then keep+=("$name=${!name}"); fi
done
chroot "$ARM64_DIR" /usr/bin/env -i "${keep[@]}" ARM64_TESTS="$ARM64_TESTS" ARM64_COMMAND="${ARM64_COMMAND:-}" bash -c '
  cd /root/project
  echo "In the chroot: $(uname -m), $(python3 --version), $(. /etc/os-release; echo "$PRETTY_NAME")"
  if [ -n "$ARM64_COMMAND" ]; then eval "$ARM64_COMMAND"; else make test TESTS="$ARM64_TESTS"; fi'
echo "Linux aarch64 (emulated): passed; $((SECONDS - started)) s in all."
