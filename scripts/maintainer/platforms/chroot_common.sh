# Shared by the chroot proofs here (sourced): a clean clone of this repository's committed HEAD, or
# Gradescope's layout, tested in a Debian chroot that reaches the registry as this machine does.
# Whatever is mounted or changed is put back on exit, in reverse order (mounted, then undo).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)  # the repository
# The Debian trixie system (Python 3.13) that make test-trixie and make test-colab share.
TRIXIE_DIR=${TRIXIE_DIR:-/var/tmp/dqn-lunar-lander-trixie}

# A line the chroot prints first: the machine, the Python and the system the tests run on.
WHERE='echo "In the chroot: $(uname -m), $(python3 --version), $(. /etc/os-release; echo "$PRETTY_NAME")"'

# pip's cache of this machine: every chroot (trixie's pins and Colab's, forky's, arm64's, Gradescope's)
# downloads a wheel once, and a new system installs the pins as fast as a kept one.
PIP_CACHE=${PIP_CACHE_DIR:-$HOME/.cache/pip}

mounted=()
undo=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  for ((i = ${#undo[@]} - 1; i >= 0; i--)); do eval "${undo[i]}" || true; done
}
trap cleanup EXIT

# need_root WHY: stop with one line unless this runs as root (WHY: what needs it); then debootstrap.
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/maintainer/platforms/$(basename "$0") needs root ($1): run it with sudo." >&2
    exit 1
  fi
  command -v debootstrap >/dev/null || install_packages debootstrap
}

install_packages() {
  apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}

# bootstrap DIR RELEASE [DEBOOTSTRAP OPTIONS...]: a minimal Debian RELEASE in DIR, made once and kept.
# It is made in DIR.partial and renamed when debootstrap has finished, so a run that was stopped
# halfway leaves no half-made system for the next run to take as ready (DIR/.made marks a finished one).
bootstrap() {
  local dir=$1 release=$2 started=$SECONDS
  shift 2
  if [ -e "$dir/.made" ] || { [ -x "$dir/usr/bin/python3" ] && [ -x "$dir/usr/bin/make" ]; }; then return; fi
  echo "Making a Debian $release system in $dir (debootstrap)..."
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir.partial"
  debootstrap --variant=minbase "$@" "$release" "$dir.partial" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; exit 1; }
  touch "$dir.partial/.made"
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  echo "debootstrap took $((SECONDS - started)) s"
}

# in_trixie FOLDER COMMAND: COMMAND (bash) in a fresh clone in FOLDER of the trixie system in
# $TRIXIE_DIR, made once and kept.
in_trixie() {
  need_root "debootstrap and chroot"
  bootstrap "$TRIXIE_DIR" trixie --include=python3,python3-venv,make,git,ca-certificates
  prepare_chroot "$TRIXIE_DIR" "$1"
  run_in_chroot "$TRIXIE_DIR" "$2" "$1"
}

# prepare_chroot DIR [FOLDER]: the registry's settings and certificates, /proc /sys /dev, a fresh
# clone in FOLDER (/root/project by default).
prepare_chroot() {
  local folder=${2:-/root/project}
  connect_chroot "$1"
  rm -rf "${1:?}$folder"
  git clone --quiet "$ROOT" "$1$folder"
}

# connect_chroot DIR: the registry's settings and certificates, DNS, /proc /sys /dev mounted, and
# this machine's pip cache lent to the chroot's root while it runs (see PIP_CACHE below).
connect_chroot() {
  local dir=$1 config fs
  for config in /etc/pip.conf /root/.config/pip/pip.conf /root/.pip/pip.conf; do
    if [ -f "$config" ]; then mkdir -p "$dir$(dirname "$config")"; cp "$config" "$dir$config"; fi
  done
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  for fs in proc sys dev dev/pts; do
    mount --bind "/$fs" "$dir/$fs" && mounted+=("$dir/$fs")
  done
  mkdir -p "$PIP_CACHE" "$dir/root/.cache/pip"
  mount --bind "$PIP_CACHE" "$dir/root/.cache/pip" && mounted+=("$dir/root/.cache/pip")
}

# run_in_chroot DIR COMMAND [FOLDER]: COMMAND (bash) in FOLDER (the clone, /root/project, by default),
# with a clean environment and the proxy settings.
run_in_chroot() {
  local dir=$1 command=$2 folder=${3:-/root/project} name
  local keep=(HOME=/root LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI=true)
  for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
    if [ -n "${!name:-}" ]; then keep+=("$name=${!name}"); fi
  done
  chroot "$dir" /usr/bin/env -i "${keep[@]}" bash -c "cd $folder && $command"
}
