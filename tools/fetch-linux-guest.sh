#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Linux guest set from Debian packages, outside the source tree:
#
#   Image       the raw arm64 Image of Debian's unsigned arm64 kernel (the
#               package linux-image-arm64:arm64 depends on), decompressed if
#               the package ships it gzip'd
#   initrd.gz   a newc cpio (gzip) of busybox-static:arm64, the kernel's
#               evdev and gpio_keys modules, and a small /init script
#   VERSION     the packages it came from
#
# Nothing of ours is compiled into the guest; /init is a busybox sh script.
# /init mounts proc/sys/dev, prints "GUNYAH-LINUX-MARKER cpus=N" (N from
# /proc/cpuinfo), then acts on the kernel command line:
#   (default)            poweroff -f
#   gunyah.test=shell    an interactive shell on the console; poweroff -f when it exits
#   gunyah.test=reboot   reboot -f
#   gunyah.test=panic    echo c > /proc/sysrq-trigger (pair with panic=-1 or panic=0)
#   gunyah.test=idle     waits for the power button (gpio-keys KEY_POWER), then
#                        poweroff -f; without a button it sleeps forever
#   gunyah.test=hang     sleeps forever, deaf to the power button
#
# Usage: tools/fetch-linux-guest.sh [--print-dir] [--force]
# The directory is $GUNYAH_LINUX_DIR, else ${XDG_CACHE_HOME:-~/.cache}/gunyah/linux.
# Idempotent and silent when the directory is complete. Needs root (or sudo)
# once, to add the arm64 foreign architecture to apt and refresh its lists.
# Exit status 2: apt could not reach its registry (tests skip on it).
set -euo pipefail

print_dir=false
force=false
for arg in "$@"; do
        case $arg in
        --print-dir) print_dir=true ;;
        --force) force=true ;;
        -h|--help) sed -n '3,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "fetch-linux-guest: unknown argument '$arg' (expected --print-dir or --force)" >&2; exit 1 ;;
        esac
done

dir=${GUNYAH_LINUX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gunyah/linux}
# A guest set made by another revision of this script (another /init) is rebuilt.
recipe="recipe $(sha256sum <"$0" | cut -c1-16)"
done_() {
        $print_dir && printf '%s\n' "$dir"
        exit 0
}
complete() {
        [ -s "$dir/Image" ] && [ -s "$dir/initrd.gz" ] &&
                [ "$(tail -n 1 "$dir/VERSION" 2>/dev/null)" = "$recipe" ]
}
if ! $force && complete; then
        done_
fi
# One builder at a time (meson runs test files in parallel); the others wait and reuse its work.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if ! $force && complete; then
        done_
fi

say() { echo "fetch-linux-guest: $*" >&2; }
# No silent exit under set -e: whatever fails says which command it was.
trap 'say "line $LINENO: \"$BASH_COMMAND\" failed (exit $?)"' ERR
unreachable_re='Could not resolve|Temporary failure|Failed to fetch|Unable to connect|Network is unreachable|Connection (refused|timed out)|No route to host'

if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
for tool in cpio gzip dpkg-deb apt-get; do
        command -v "$tool" >/dev/null || { say "needs $tool (tools/setup.sh installs it)"; exit 1; }
done

# apt output in a file, so that an unreachable registry can be told apart.
apt_log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$work" "$apt_log"' EXIT
apt_run() {
        if "$@" >"$apt_log" 2>&1; then
                return 0
        fi
        if grep -Eq "$unreachable_re" "$apt_log"; then
                sed 's/^/  /' "$apt_log" >&2
                say "apt cannot reach its package registry: no Linux guest"
                exit 2
        fi
        sed 's/^/  /' "$apt_log" >&2
        say "'$*' failed"
        exit 1
}

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        say "adding the arm64 foreign architecture to apt"
        $sudo dpkg --add-architecture arm64
fi
# The meta package names the kernel ABI of the day (linux-image-6.1.0-NN-arm64);
# its -unsigned twin holds the same kernel without the EFI signature.
# Empty (not a failure) while apt has no arm64 lists yet: the caller refreshes them.
kernel_pkg() {
        local deps
        deps=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null) || return 0
        printf '%s\n' "$deps" |
                sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -n 1
}
pkg=$(kernel_pkg)
if [ -z "$pkg" ] || ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
        say "refreshing apt's package lists (arm64)"
        apt_run $sudo apt-get update -q
        pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || { say "apt knows no linux-image-arm64:arm64 dependency"; exit 1; }
pkg="$pkg-unsigned"

say "downloading $pkg:arm64 and busybox-static:arm64 into $dir"
# apt's _apt user cannot write into a private temporary directory.
(cd "$work" && apt_run apt-get download -q -o APT::Sandbox::User=root "$pkg:arm64" busybox-static:arm64)
kdeb=$(ls "$work"/linux-image-*.deb)
bdeb=$(ls "$work"/busybox-static_*.deb)

mkdir -p "$work/kernel" "$work/busybox"
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/kernel" --wildcards \
        './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/input/evdev.ko' \
        './lib/modules/*/kernel/drivers/input/keyboard/gpio_keys.ko'
dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$work/busybox" ./bin/busybox

vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-*)
if [ "$(head -c 2 "$vmlinuz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
        gzip -dc <"$vmlinuz" >"$work/Image"
else
        cp "$vmlinuz" "$work/Image"
fi
# arm64 Image header: magic "ARM\x64" at offset 56
if [ "$(dd if="$work/Image" bs=1 skip=56 count=4 2>/dev/null | od -An -tx1 | tr -d ' ')" != 41524d64 ]; then
        say "$(basename "$vmlinuz") of $pkg is not an arm64 Image (no ARM\\x64 magic at offset 56)"
        exit 1
fi

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$work"/kernel/lib/modules/*/kernel/drivers/input/evdev.ko \
   "$work"/kernel/lib/modules/*/kernel/drivers/input/keyboard/gpio_keys.ko "$root/lib/modules/"
cat >"$root/init" <<'EOF'
#!/bin/sh
# /init of the gunyahd Linux test guest (tools/fetch-linux-guest.sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "GUNYAH-LINUX-MARKER cpus=$(grep -c ^processor /proc/cpuinfo)"
mode=
for word in $(cat /proc/cmdline); do
        case $word in gunyah.test=*) mode=${word#gunyah.test=} ;; esac
done
case $mode in
shell)
        echo "GUNYAH-LINUX-SHELL"
        setsid cttyhack sh
        poweroff -f ;;
reboot)
        reboot -f ;;
panic)
        echo c >/proc/sysrq-trigger ;;
idle)
        # The devicetree's PL061 + gpio-keys power button: KEY_POWER ends the guest.
        insmod /lib/modules/evdev.ko 2>/dev/null
        insmod /lib/modules/gpio_keys.ko 2>/dev/null
        for ev in /sys/class/input/event*; do
                [ -e "$ev" ] || continue
                grep -q gpio-keys "$ev/device/name" 2>/dev/null || continue
                dev=/dev/input/${ev##*/}
                # Open before saying so: evdev queues events only for readers
                # that have it open, and the host presses as soon as it reads
                # the line below (a press while dd was still starting was lost).
                exec 3<"$dev"
                echo "GUNYAH-LINUX-IDLE button=$dev"
                # struct input_event is 24 bytes on arm64; its last 8 are
                # type EV_KEY (1), code KEY_POWER (116), value 1 (press).
                while e=$(dd bs=24 count=1 <&3 2>/dev/null | od -An -tx1 -v | tr -d ' \n'); do
                        [ -n "$e" ] || break
                        case $e in *0100740001000000) echo "GUNYAH-LINUX-POWER-BUTTON"; poweroff -f ;; esac
                done
        done
        echo "GUNYAH-LINUX-IDLE button=none"
        while :; do sleep 3600; done ;;
hang)
        echo "GUNYAH-LINUX-HANG"
        while :; do sleep 3600; done ;;
esac
poweroff -f
EOF
chmod 755 "$root/init"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9n >"$work/initrd.gz"

kver=$(dpkg-deb -f "$kdeb" Version)
bver=$(dpkg-deb -f "$bdeb" Version)
mkdir -p "$dir"
printf '%s %s\nbusybox-static %s\n%s\n' "$pkg" "$kver" "$bver" "$recipe" >"$work/VERSION"
# VERSION last: its presence marks a complete directory.
rm -f "$dir/VERSION"
mv "$work/Image" "$dir/Image"
mv "$work/initrd.gz" "$dir/initrd.gz"
mv "$work/VERSION" "$dir/VERSION"
say "$(head -n 1 "$dir/VERSION" | cut -d' ' -f1): $dir/Image, $dir/initrd.gz"
done_
