#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the systemd test machine's base root (Debian 12, systemd as PID 1,
# dbus, polkitd, systemd-machined and machinectl, Debian's amd64 kernel,
# gunyahd's runtime libraries) as a tarball: tests/systemd/build-base.sh
# OUT.tar. Needs root and a Debian mirror.
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
packages=(
        systemd systemd-sysv systemd-container udev dbus polkitd kmod
        linux-image-amd64 initramfs-tools
        libsystemd0 libfdt1 libjson-c5 libseccomp2 libunicorn2
        procps util-linux passwd
)
# Debian's kernel and an initramfs are all the boot needs (no bootloader);
# base/ makes that initramfs small (MODULES=most took minutes to build).
# Kernel modules the machine never loads are left out afterwards: the image
# is made again at every run.
unused=(sound drivers/gpu drivers/media drivers/infiniband drivers/staging drivers/net/wireless
        drivers/net/ethernet drivers/bluetooth drivers/iio drivers/isdn drivers/usb
        net/bluetooth net/mac80211 net/wireless)
modules=${unused[*]/#/kernel/}
include=$(IFS=,; echo "${packages[*]}")
mmdebstrap --quiet --format=tar --variant=minbase --include="$include" \
        --essential-hook="sync-in $here/base /" \
        --customize-hook='echo gunyah-test >"$1/etc/hostname"' \
        --customize-hook="cd \"\$1\"/usr/lib/modules/* && rm -rf $modules" \
        --customize-hook='rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale' \
        bookworm "$out.tmp"
mv "$out.tmp" "$out"
