#!/usr/bin/env bash
# Gradescope's autograder, end to end, as Gradescope runs it: a fresh Debian system with no Python
# (as Gradescope's Ubuntu 22.04 has none that our pins accept), /autograder/source unpacked from the
# zip, setup.sh run there once as root, then, for each submission, /autograder/submission filled,
# /autograder/run_autograder run, and results.json collected.
#
# Usage: scripts/platforms/gradescope.sh ZIP SUBMISSIONS RESULTS
#   SUBMISSIONS holds one folder per submission (its files are what the learner uploaded);
#   RESULTS receives NAME.json (results.json) and NAME.stdout (what the teacher sees) for each.
# Needs root and Debian's registry. The bare system (debootstrap, bookworm) is kept in
# $GRADESCOPE_DIR/base, and pip's cache beside it, for the next run; each run grades in a fresh
# copy of the bare system, so setup.sh always starts from nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
GRADESCOPE_DIR=${GRADESCOPE_DIR:-/var/tmp/dqn-lunar-lander-gradescope}

if [ "$#" -ne 3 ]; then
  echo "usage: scripts/platforms/gradescope.sh ZIP SUBMISSIONS RESULTS" >&2
  exit 2
fi
zip=$(realpath "$1") submissions=$(realpath "$2") results=$(realpath "$3")
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/platforms/gradescope.sh needs root (debootstrap and chroot): run it with sudo." >&2
  exit 1
fi
# shellcheck source=scripts/platforms/chroot_common.sh
source "$ROOT/scripts/platforms/chroot_common.sh"
command -v debootstrap >/dev/null || install_packages debootstrap
command -v unzip >/dev/null || install_packages unzip

started=$SECONDS
mkdir -p "$GRADESCOPE_DIR"
bootstrap "$GRADESCOPE_DIR/base" bookworm --include=ca-certificates
image=$GRADESCOPE_DIR/image
# A run that was killed may have left /proc, /sys, /dev mounted in the last image: unmount them
# before the image is removed, and never cross into another file system while removing it.
awk -v image="$image/" 'index($2, image) == 1 { print $2 }' /proc/mounts | sort -r | while read -r target; do
  umount -l "$target"
done
rm -rf --one-file-system "$image"
cp -a "$GRADESCOPE_DIR/base" "$image"
connect_chroot "$image"
mkdir -p "$GRADESCOPE_DIR/pip-cache" "$image/root/.cache/pip"
mount --bind "$GRADESCOPE_DIR/pip-cache" "$image/root/.cache/pip" && mounted+=("$image/root/.cache/pip")

mkdir -p "$image/autograder/source"
unzip -q "$zip" -d "$image/autograder/source"
cp "$image/autograder/source/run_autograder" "$image/autograder/run_autograder"
echo "Running setup.sh in a fresh Debian bookworm (no Python), as Gradescope builds its image..."
setup_started=$SECONDS
run_in_chroot "$image" "bash ./setup.sh" /autograder/source
echo "setup.sh took $((SECONDS - setup_started)) s"

mkdir -p "$results"
for submission in "$submissions"/*/; do
  name=$(basename "$submission")
  rm -rf "$image/autograder/submission" "$image/autograder/results"
  mkdir -p "$image/autograder/submission"
  cp -a "$submission." "$image/autograder/submission/"
  run_in_chroot "$image" "/autograder/run_autograder" /autograder >"$results/$name.stdout" 2>&1
  cp "$image/autograder/results/results.json" "$results/$name.json"
  echo "$name: $(grep -m1 '"score"' "$results/$name.json")"
done
echo "Gradescope's layout in Debian bookworm: $(find "$submissions" -mindepth 1 -maxdepth 1 -type d | wc -l) submissions graded; $((SECONDS - started)) s in all."
