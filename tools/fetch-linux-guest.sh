#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Linux guest set from Debian packages, outside the source tree:
#
#   Image       the raw arm64 Image of Debian's unsigned arm64 kernel (the
#               package linux-image-arm64:arm64 depends on), decompressed if
#               the package ships it gzip'd
#   initrd.gz   a newc cpio (gzip) of busybox-static:arm64, the kernel
#               modules /init loads (below), Debian's socat:arm64 with the
#               shared libraries it needs, /bin/diskbench and /init
#   VERSION     the packages it came from
#
# /init is tests/guests/linux/init, a busybox sh script; /bin/diskbench is
# tests/guests/linux/diskbench.c, cross-built freestanding (no libc). The
# modules, with their dependencies in load order (derived from each .ko's
# modinfo depends= and softdep pre:, so a new kernel ABI needs no edit here),
# sit in lib/modules/NAME.ko, one lib/modules/GROUP.order per group:
#   disk    virtio_mmio, virtio_blk, ext4 (crc16, jbd2, mbcache, crc32c_generic)
#   rng     virtio_mmio, virtio_rng
#   vsock   virtio_mmio, vmw_vsock_virtio_transport (vsock, ..._common)
# plus evdev and gpio_keys (the power button).
# socat is /usr/bin/socat of socat:arm64; its libraries are found by reading
# DT_NEEDED (readelf -d) recursively in the arm64 packages of its Depends
# closure, and copied with the program interpreter to their Debian paths.
# /init mounts proc/sys/dev, prints "GUNYAH-LINUX-MARKER cpus=N" (N from
# /proc/cpuinfo), then acts on the kernel command line:
#   (default)            poweroff -f
#   gunyah.test=shell    an interactive shell on the console; poweroff -f when it exits
#   gunyah.test=reboot   reboot -f
#   gunyah.test=panic    echo c > /proc/sysrq-trigger (pair with panic=-1 or panic=0)
#   gunyah.test=idle     waits for the power button (gpio-keys KEY_POWER), then
#                        poweroff -f; without a button it sleeps forever
#   gunyah.test=hang     sleeps forever, deaf to the power button
#   gunyah.test=disk     loads the disk group, lists the virtio disks and their
#                        serials, mounts the writable ext4 disk, prints known.bin's
#                        sha256, writes /written.txt, shows the read-only disk
#                        refusing writes, syncs, poweroff -f (lines GUNYAH-DISK*;
#                        images: tests/linux/disk_image.py)
#   gunyah.test=bench    direct-I/O dd and diskbench randread on the writable disk
#                        (lines GUNYAH-BENCH*; bench/linux-disk.py)
#   gunyah.test=hwrng    reads gunyah.rng.bytes= (65536) of /dev/hwrng: GUNYAH-HWRNG
#                        status, bytes and sha256
#   gunyah.test=vsock-serve  socat listeners in the background: an echo on
#                        gunyah.vsock.echo=P, zeros on gunyah.vsock.zero=P, a sink
#                        on gunyah.vsock.sink=P (GUNYAH-VSOCK-SERVE)
#   gunyah.test=vsock-client  to the host (CID 2): a hello on gunyah.vsock.connect=P
#                        (retried while the host resets it), then gunyah.vsock.conns=
#                        (64) connections of gunyah.vsock.kib= (1024) KiB each on
#                        gunyah.vsock.bulk=P, what came back checksummed (GUNYAH-VSOCK-*)
#   gunyah.test=console-echo  the console raw, every byte sent back (cat)
# Several modes run in order: gunyah.test=hwrng,vsock-serve,idle.
# Before any of them, gunyah.load=GROUP[,GROUP...] loads those module groups
# (GUNYAH-MODULE lines; for rng also GUNYAH-RNG current=<the bound hwrng>).
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
guest_src=$(cd "$(dirname "$0")/../tests/guests/linux" && pwd)
# A guest set made by another revision of this script, /init or diskbench is rebuilt.
recipe="recipe $(cat "$0" "$guest_src/init" "$guest_src/diskbench.c" | sha256sum | cut -c1-16)"
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
for tool in cpio gzip dpkg-deb apt-get modinfo aarch64-linux-gnu-gcc aarch64-linux-gnu-readelf; do
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
if [ -z "$pkg" ] || ! apt-cache show busybox-static:arm64 socat:arm64 >/dev/null 2>&1; then
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

# socat's Depends closure, its arm64 packages only (an arch:all one holds no library).
socat_pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances socat:arm64 | sed -n 's/^\([a-z0-9][^ <>]*\):arm64$/\1/p' | LC_ALL=C sort -u)
say "downloading socat:arm64 and its dependencies ($(echo $socat_pkgs))"
mkdir -p "$work/socat-debs" "$work/socat-tree"
# shellcheck disable=SC2046 # one word per package
(cd "$work/socat-debs" && apt_run apt-get download -q -o APT::Sandbox::User=root $(printf '%s:arm64 ' $socat_pkgs))
for deb in "$work"/socat-debs/*.deb; do
        dpkg-deb -x "$deb" "$work/socat-tree"
done

mkdir -p "$work/kernel" "$work/busybox"
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/kernel" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel'
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
kernel_modules=$(echo "$work"/kernel/lib/modules/*/kernel)
# NAME.ko (dashes as underscores, as the kernel names modules) -> path
declare -A ko_path
while IFS= read -r ko; do
        name=${ko##*/}
        name=${name%.ko}
        ko_path[${name//-/_}]=$ko
done < <(find "$kernel_modules" -name '*.ko')
# The module a softdep names: a module name, else an alias in some .modinfo.
module_for() {
        local name=${1//-/_} ko
        if [ -n "${ko_path[$name]:-}" ]; then
                printf '%s\n' "${ko_path[$name]}"
                return
        fi
        ko=$(grep -rlzxF "alias=$1" "$kernel_modules" | LC_ALL=C sort | head -n 1) || true
        [ -n "$ko" ] || { say "no kernel module is named or aliased '$1'"; return 1; }
        printf '%s\n' "$ko"
}
# Appends the module and what it needs, dependencies first, to $order.
declare -A seen
order=()
add_module() {
        local ko dep name
        ko=$(module_for "$1")
        name=$(modinfo -F name "$ko")
        [ -z "${seen[$name]:-}" ] || return 0
        seen[$name]=1
        for dep in $(modinfo -F depends "$ko" | tr , ' ') \
                   $(modinfo -F softdep "$ko" | sed -n 's/^pre: *//p' | sed 's/ post:.*//'); do
                add_module "$dep"
        done
        cp "$ko" "$root/lib/modules/$name.ko"
        order+=("$name")
}
for group in "disk virtio_mmio virtio_blk ext4" "rng virtio_mmio virtio_rng" \
             "vsock virtio_mmio vmw_vsock_virtio_transport" "button evdev gpio_keys"; do
        read -r -a words <<<"$group"
        seen=()
        order=()
        for top in "${words[@]:1}"; do
                add_module "$top"
        done
        printf '%s\n' "${order[@]}" >"$root/lib/modules/${words[0]}.order"
done
# socat and what it needs: DT_NEEDED names looked up in the multiarch library
# directories of the extracted packages, recursively; each file copied to
# the path it was found at (a symbolic link followed inside the tree, never
# into this machine's own /lib).
tree=$work/socat-tree
libdirs=(lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib)
in_tree() {
        local rel=$1 target hops=0
        while [ -L "$tree/$rel" ]; do
                target=$(readlink "$tree/$rel")
                case $target in
                /*) rel=${target#/} ;;
                *) rel=$(dirname "$rel")/$target ;;
                esac
                hops=$((hops + 1))
                [ "$hops" -lt 16 ] || return 1
        done
        [ -f "$tree/$rel" ] && printf '%s\n' "$rel"
}
declare -A copied
copy_with_libraries() {
        local rel=$1 file lib dir found
        [ -z "${copied[$rel]:-}" ] || return 0
        copied[$rel]=1
        file=$(in_tree "$rel") || { say "/$rel is not a file in socat's packages"; return 1; }
        mkdir -p "$root/$(dirname "$rel")"
        cp "$tree/$file" "$root/$rel"
        for lib in $(aarch64-linux-gnu-readelf -d "$tree/$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
                found=
                for dir in "${libdirs[@]}"; do
                        if in_tree "$dir/$lib" >/dev/null; then
                                found=$dir/$lib
                                break
                        fi
                done
                [ -n "$found" ] || { say "no package of socat's Depends holds $lib (needed by /$rel)"; return 1; }
                copy_with_libraries "$found"
        done
}
copy_with_libraries usr/bin/socat
interp=$(aarch64-linux-gnu-readelf -l "$tree/usr/bin/socat" | sed -n 's/.*interpreter: \/\(.*\)\]$/\1/p')
[ -n "$interp" ] || { say "socat names no program interpreter"; exit 1; }
copy_with_libraries "$interp"

aarch64-linux-gnu-gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin -O2 -s \
        -Wall -Wextra -Werror -o "$root/bin/diskbench" "$guest_src/diskbench.c"
install -m 755 "$guest_src/init" "$root/init"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9n >"$work/initrd.gz"

kver=$(dpkg-deb -f "$kdeb" Version)
bver=$(dpkg-deb -f "$bdeb" Version)
socat_versions=$(for deb in "$work"/socat-debs/*.deb; do
        printf '%s=%s ' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)"; done)
mkdir -p "$dir"
printf '%s %s\nbusybox-static %s\nsocat %s\n%s\n' "$pkg" "$kver" "$bver" "${socat_versions% }" "$recipe" \
        >"$work/VERSION"
# VERSION last: its presence marks a complete directory.
rm -f "$dir/VERSION"
mv "$work/Image" "$dir/Image"
mv "$work/initrd.gz" "$dir/initrd.gz"
mv "$work/VERSION" "$dir/VERSION"
say "$(head -n 1 "$dir/VERSION" | cut -d' ' -f1): $dir/Image, $dir/initrd.gz"
done_
