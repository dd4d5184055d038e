#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Our virtio-mmio transports are where QEMU's virt machine has them: for a
# spec with all 8 disks, vsock and rng (10 transports), each virtio_mmio@ADDR node of `gunyahctl dtb` must
# exist in the DTB QEMU dumps (-M virt,dumpdtb=) with the same reg,
# interrupts (SPI number and edge trigger), compatible and dma-coherent.
# Also: dtc finds nothing to warn about in the virtio nodes or the
# restricted-dma-pool, beyond the two warnings the Resource Manager's own
# rules cause (a u32 doorbell label, a unit-less /memory).
#
# Usage: check-qemu-virtio.sh GUNYAHCTL GOLDEN_DIR
set -eu

ctl=$1
golden=$(cd "$2" && pwd)

for tool in qemu-system-aarch64 dtc fdtget; do
        if ! command -v "$tool" >/dev/null 2>&1; then
                echo "$tool not found: skipping" >&2
                exit 77
        fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
fail() {
        echo "FAIL: $*" >&2
        failed=1
}

qemu-system-aarch64 -M virt,dumpdtb="$tmp/qemu.dtb" -display none -nodefaults >/dev/null 2>&1 ||
        { echo "qemu-system-aarch64 could not dump its devicetree" >&2; exit 1; }

disks=""
for i in 0 1 2 3 4 5 6 7; do
        disks="$disks${disks:+, }{ \"path\": \"/var/lib/gunyah/images/d$i.img\" }"
done
cat >"$tmp/eight.json" <<JSON
{ "name": "eight", "memory": { "size": "256M", "swiotlb": "64M" },
  "kernel": { "path": "$golden/fixtures/Image" }, "disks": [ $disks ],
  "vsock": { "cid": 3 }, "rng": true }
JSON
"$ctl" dtb "$tmp/eight.json" -o "$tmp/ours.dtb"

n=0
for node in $(fdtget -l "$tmp/ours.dtb" /); do
        case $node in virtio_mmio@*) ;; *) continue ;; esac
        n=$((n + 1))
        for prop in reg interrupts compatible; do
                ours=$(fdtget -t x "$tmp/ours.dtb" "/$node" "$prop" 2>&1) || fail "$node: no $prop"
                theirs=$(fdtget -t x "$tmp/qemu.dtb" "/$node" "$prop" 2>&1) ||
                        { fail "QEMU virt has no $node (or no $prop in it)"; continue; }
                [ "$ours" = "$theirs" ] || fail "$node: $prop is <$ours>, QEMU virt's is <$theirs>"
        done
        fdtget "$tmp/ours.dtb" "/$node" dma-coherent >/dev/null 2>&1 || fail "$node: not dma-coherent"
        fdtget "$tmp/qemu.dtb" "/$node" dma-coherent >/dev/null 2>&1 || fail "QEMU's $node is not dma-coherent"
done
[ "$n" -eq 10 ] || fail "expected 10 virtio_mmio nodes for 8 disks, vsock and rng, found $n"

dtc -I dtb -O dts -o /dev/null "$tmp/ours.dtb" 2>"$tmp/warnings" || fail "dtc cannot read our DTB"
unexpected=$(grep -v -e "(label_is_string): /gunyah-vm-config/vdevices/bell-[0-9a-f]*:label" \
                     -e "(unit_address_vs_reg): /memory: " "$tmp/warnings" || true)
[ -z "$unexpected" ] || fail "dtc warns: $unexpected"

[ "$failed" -eq 0 ] && echo "ok: $n virtio-mmio transports as on QEMU virt"
exit $failed
