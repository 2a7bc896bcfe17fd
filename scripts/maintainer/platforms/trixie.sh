#!/usr/bin/env bash
# `make test` under Python 3.13, as a new user of Debian trixie would run it: a trixie system made
# with debootstrap, a clean clone of this repository's committed HEAD, then `make test` in a chroot.
# Needs root and Debian's registry. The system is kept in $TRIXIE_DIR for the next run, and for
# make test-colab, which builds Colab's runtime in the same system.
set -euo pipefail
# shellcheck source=scripts/maintainer/platforms/chroot_common.sh
source "$(dirname "$0")/chroot_common.sh"

started=$SECONDS
in_trixie /root/project "$WHERE && make test"
echo "Python 3.13 in Debian trixie: make test passed; $((SECONDS - started)) s in all."
