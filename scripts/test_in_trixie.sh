#!/usr/bin/env bash
# `make test` under Python 3.13, as a new user of Debian trixie would run it: a trixie system made
# with debootstrap, a clean clone of this repository's committed HEAD, then `make test` in a chroot.
# Needs root and Debian's registry. The system is kept in $TRIXIE_DIR for the next run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRIXIE_DIR=${TRIXIE_DIR:-/var/tmp/dqn-lunar-lander-trixie}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test_in_trixie.sh needs root (debootstrap and chroot): run it with sudo." >&2
  exit 1
fi
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null \
  || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }

started=$SECONDS
if [ ! -x "$TRIXIE_DIR/usr/bin/python3" ] || [ ! -x "$TRIXIE_DIR/usr/bin/make" ]; then
  echo "Making a Debian trixie system in $TRIXIE_DIR (debootstrap)..."
  rm -rf "$TRIXIE_DIR"
  debootstrap --variant=minbase --include=python3,python3-venv,make,git,ca-certificates \
    trixie "$TRIXIE_DIR" "$MIRROR" >"$TRIXIE_DIR.log" 2>&1 \
    || { tail -20 "$TRIXIE_DIR.log" >&2; exit 1; }
  echo "debootstrap took $((SECONDS - started)) s"
fi

# Reach the registry as this machine does: its pip settings and the certificates it trusts.
for config in /etc/pip.conf /root/.config/pip/pip.conf /root/.pip/pip.conf; do
  if [ -f "$config" ]; then mkdir -p "$TRIXIE_DIR$(dirname "$config")"; cp "$config" "$TRIXIE_DIR$config"; fi
done
cp /etc/ssl/certs/ca-certificates.crt "$TRIXIE_DIR/etc/ssl/certs/ca-certificates.crt"

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
for fs in proc sys dev dev/pts; do
  mount --bind "/$fs" "$TRIXIE_DIR/$fs" && mounted+=("$TRIXIE_DIR/$fs")
done

rm -rf "$TRIXIE_DIR/root/project"
git clone --quiet "$ROOT" "$TRIXIE_DIR/root/project"

keep=(HOME=/root LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI=true)
for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
  if [ -n "${!name:-}" ]; then keep+=("$name=${!name}"); fi
done
chroot "$TRIXIE_DIR" /usr/bin/env -i "${keep[@]}" \
  bash -c 'cd /root/project && echo "In the chroot: $(python3 --version), $(. /etc/os-release; echo "$PRETTY_NAME")" && make test'
echo "Python 3.13 in Debian trixie: make test passed; $((SECONDS - started)) s in all."
