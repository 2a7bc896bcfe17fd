#!/usr/bin/env bash
# Gradescope's autograder, end to end, as Gradescope runs it: a fresh Debian system with no Python
# (as Gradescope's Ubuntu 22.04 has none that our pins accept), /autograder/source unpacked from the
# zip, setup.sh run there once as root, then, for each submission, /autograder/submission filled,
# /autograder/run_autograder run, and results.json collected.
#
# Usage: scripts/maintainer/platforms/gradescope.sh ZIP SUBMISSIONS RESULTS
#   SUBMISSIONS holds one folder per submission (its files are what the learner uploaded);
#   RESULTS receives NAME.json (results.json) and NAME.stdout (what the teacher sees) for each.
# Needs root and Debian's registry. The bare system (debootstrap, bookworm) is kept in
# $GRADESCOPE_DIR/base, and pip's cache beside it, for the next run. setup.sh runs in a fresh copy
# of the bare system, as in a new Gradescope image; the image it makes is kept too, and a later run
# whose zip has the same setup.sh and requirements.txt grades in it (with the zip's other files),
# since setup.sh would make the same again. GRADESCOPE_FRESH=1 runs setup.sh whatever the zip.
set -euo pipefail
GRADESCOPE_DIR=${GRADESCOPE_DIR:-/var/tmp/dqn-lunar-lander-gradescope}

if [ "$#" -ne 3 ]; then
  echo "usage: scripts/maintainer/platforms/gradescope.sh ZIP SUBMISSIONS RESULTS" >&2
  exit 2
fi
zip=$(realpath "$1") submissions=$(realpath "$2") results=$(realpath "$3")
# shellcheck source=scripts/maintainer/platforms/chroot_common.sh
source "$(dirname "$0")/chroot_common.sh"
need_root "debootstrap and chroot"
command -v unzip >/dev/null || install_packages unzip

started=$SECONDS
mkdir -p "$GRADESCOPE_DIR"
bootstrap "$GRADESCOPE_DIR/base" bookworm --include=ca-certificates
image=$GRADESCOPE_DIR/image  # where submissions are graded: the image setup.sh made, under an overlay
key=$(unzip -p "$zip" setup.sh requirements.txt | sha256sum | cut -c1-16)
made=$GRADESCOPE_DIR/made-by-setup-$key  # the image setup.sh made from this setup.sh and these pins

# unmount_under DIR: DIR and what is mounted in it (a run that was killed leaves /proc, /sys, /dev).
unmount_under() {
  awk -v dir="$1" '$2 == dir || index($2, dir "/") == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r target; do umount -l "$target"; done
}

# unpack DIR: the zip in DIR/autograder/source (beside a .venv setup.sh made), run_autograder copied up.
unpack() {
  mkdir -p "$1/autograder/source"
  find "$1/autograder/source" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
  unzip -q "$zip" -d "$1/autograder/source"
  cp "$1/autograder/source/run_autograder" "$1/autograder/run_autograder"
}

unmount_under "$image"
# never into another file system, whatever may still be mounted
rm -rf --one-file-system "$image" "$GRADESCOPE_DIR/upper" "$GRADESCOPE_DIR/work"
if [ -e "$made/setup.line" ] && [ -z "${GRADESCOPE_FRESH:-}" ]; then
  echo "setup.sh and requirements.txt are those that made the image kept in $made: grading in it."
else
  unmount_under "$made.partial"
  rm -rf --one-file-system "$GRADESCOPE_DIR"/made-by-setup-*
  cp -a "$GRADESCOPE_DIR/base" "$made.partial"
  unpack "$made.partial"
  connect_chroot "$made.partial"  # with this machine's pip cache
  echo "Running setup.sh in a fresh Debian bookworm (no Python), as Gradescope builds its image..."
  setup_started=$SECONDS
  run_in_chroot "$made.partial" "bash ./setup.sh" /autograder/source >"$GRADESCOPE_DIR/setup.log"
  echo "setup.sh took $((SECONDS - setup_started)) s"
  unmount_under "$made.partial"
  grep '^setup.sh: ' "$GRADESCOPE_DIR/setup.log" >"$made.partial/setup.line"
  mv "$made.partial" "$made"
fi
# Each run grades in an overlay of the kept image: its changes are thrown away with the next run.
mkdir -p "$image" "$GRADESCOPE_DIR/upper" "$GRADESCOPE_DIR/work"
mount -t overlay overlay -o "lowerdir=$made,upperdir=$GRADESCOPE_DIR/upper,workdir=$GRADESCOPE_DIR/work" "$image" \
  && mounted+=("$image")
unpack "$image"
connect_chroot "$image"
cat "$made/setup.line"

mkdir -p "$results"
for submission in "$submissions"/*/; do
  name=$(basename "$submission") submission_started=$SECONDS
  rm -rf "$image/autograder/submission" "$image/autograder/results"
  mkdir -p "$image/autograder/submission"
  cp -a "$submission." "$image/autograder/submission/"
  run_in_chroot "$image" "/autograder/run_autograder" /autograder >"$results/$name.stdout" 2>&1
  cp "$image/autograder/results/results.json" "$results/$name.json"
  echo "$name: $(grep -m1 -o '"score": [0-9.]*' "$results/$name.json"), $((SECONDS - submission_started)) s"
done
echo "Gradescope's layout in Debian bookworm: $(find "$submissions" -mindepth 1 -maxdepth 1 -type d | wc -l) submissions graded; $((SECONDS - started)) s in all."
