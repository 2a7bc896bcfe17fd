#!/usr/bin/env bash
# The tests on Linux aarch64 (64-bit Arm), emulated on an x86-64 machine as a new user of a Raspberry
# Pi or a Graviton server would run them: a Debian bookworm arm64 system made with debootstrap, run
# through qemu-user-static and binfmt_misc, a clean clone of this repository's committed HEAD, then
# `make test TESTS="$ARM64_TESTS"` in a chroot. Emulation is about 10 times slower, so by default
# it runs the tests that touch the platform (README says which); ARM64_TESTS=tests runs them all.
# Needs root and Debian's registry. The system is kept in $ARM64_DIR for the next run; the emulator
# is registered only when missing, and the host is left as it was found.
set -euo pipefail
ARM64_DIR=${ARM64_DIR:-/var/tmp/dqn-lunar-lander-arm64}
ARM64_TESTS=${ARM64_TESTS:-tests/test_environment.py tests/test_utils.py tests/test_grader.py tests/test_notebook_execution.py}
BINFMT=/proc/sys/fs/binfmt_misc

# shellcheck source=scripts/maintainer/platforms/chroot_common.sh
source "$(dirname "$0")/chroot_common.sh"
need_root "binfmt_misc, debootstrap and chroot"
[ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] || install_packages qemu-user-static

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
bootstrap "$ARM64_DIR" bookworm --arch=arm64 \
  --include=python3,python3-venv,python3-pip,make,git,ca-certificates

prepare_chroot "$ARM64_DIR"
run_in_chroot "$ARM64_DIR" "$WHERE && ${ARM64_COMMAND:-make test TESTS=\"$ARM64_TESTS\"}"
echo "Linux aarch64 (emulated): passed; $((SECONDS - started)) s in all."
