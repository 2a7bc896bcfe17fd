"""The proofs of the supported-platforms table (scripts/learner/platforms.py): check.py (wheels
resolve for every target) and the chroot runs (trixie.sh, colab.sh, python314.sh, arm64.sh,
gradescope.sh, with chroot_common.sh)."""
