#!/usr/bin/env bash
# Runs a README command in a fresh Debian 12 root, as a new user on a fresh
# machine would: a minbase root (mmdebstrap), a clone of this checkout's
# HEAD in it, the command run there under chroot as root.
#   tools/fresh-check.sh 'tools/demo.sh'
#   tools/fresh-check.sh --refresh 'tools/test.sh'   # rebuild the cached base first
# The base root is cached in ~/.cache/gunyah/fresh-base.tar (rebuilt when a
# week old); downloaded .debs are kept in ~/.cache/gunyah/fresh-apt so a
# rerun installs the same packages without fetching them again. Needs root
# (chroot, mounts) and a reachable Debian mirror.
set -euo pipefail

die() { echo "fresh-check: $*" >&2; exit 1; }

refresh=
if [ "${1:-}" = --refresh ]; then
        refresh=1
        shift
fi
[ $# -eq 1 ] || die "usage: tools/fresh-check.sh [--refresh] 'COMMAND'"
command=$1
[ "$(id -u)" -eq 0 ] || die "needs root (chroot and mounts)"

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${GUNYAH_CACHE_DIR:-$HOME/.cache/gunyah}
base=$cache/fresh-base.tar
debs=$cache/fresh-apt
mkdir -p "$cache" "$debs/partial"

if ! command -v mmdebstrap >/dev/null; then
        echo "fresh-check: installing mmdebstrap" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null ||
                die "apt-get install mmdebstrap failed"
fi

# A minbase root plus what a user has before reading the README: git (to
# clone) and ca-certificates. Everything else comes from tools/setup.sh.
if [ -n "$refresh" ] || [ ! -s "$base" ] || [ -n "$(find "$base" -mtime +7)" ]; then
        echo "fresh-check: building the Debian 12 base root ($base)" >&2
        mmdebstrap --quiet --format=tar --variant=minbase --include=git,ca-certificates \
                bookworm "$base.tmp" || die "mmdebstrap failed"
        mv "$base.tmp" "$base"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/fresh-check.XXXXXX")
cleanup() {
        # Lazily, and each mount on its own: the command may have left
        # processes (dbus-daemon) behind that keep a mount busy.
        for m in dev/pts dev sys proc run var/cache/apt/archives ""; do
                if mountpoint -q "$root/$m"; then umount -l "$root/$m"; fi
        done
        rm -rf --one-file-system "$root"
}
trap cleanup EXIT

# One check at a time: they share the .deb cache (and apt's lock on it).
exec 9>"$cache/fresh-check.lock"
flock 9

tar -C "$root" -xf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# What the Debian installer (and every cloud image) writes and mmdebstrap
# does not: without it "localhost" names nothing, which no fresh machine
# has (chromedriver talks to Chromium through it).
[ -e "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# The root a mount point of its own, as on a real machine: the vCPU
# workers' pivot_root() refuses a root that is only a chroot directory.
mount --bind "$root" "$root"
mount --make-private "$root"
mount --bind "$debs" "$root/var/cache/apt/archives"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
mount -t tmpfs tmpfs "$root/run"

git clone -q "$top" "$root/root/gunyah"
git -C "$root/root/gunyah" checkout -q "$(git -C "$top" rev-parse HEAD)"

echo "fresh-check: running '$command' in a fresh Debian 12 root" >&2
t0=$(date +%s)
status=0
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd /root/gunyah && $command" || status=$?
echo "fresh-check: '$command' exited $status after $(( $(date +%s) - t0 )) s" >&2
exit "$status"
