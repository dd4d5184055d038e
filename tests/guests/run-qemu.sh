#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boots one test guest on QEMU's virt machine (the reference platform) and
# compares its console bytes with the checked-in expectation.
#   run-qemu.sh QEMU GUEST.elf EXPECTED_PREFIX [SMP]
# EXPECTED_PREFIX.txt holds the exact expected output; EXPECTED_PREFIX.in,
# when present, is fed to the guest's UART.
set -euo pipefail

qemu=$1 elf=$2 prefix=$3 smp=${4:-1}
expected=$prefix.txt
input=/dev/null
[ -f "$prefix.in" ] && input=$prefix.in

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# -no-reboot turns the guest's SYSTEM_RESET into a QEMU exit.
rc=0
timeout 60 "$qemu" -M virt,gic-version=3 -cpu cortex-a57 -m 2G -smp "$smp" \
        -display none -monitor none -nic none -serial stdio -no-reboot \
        -kernel "$elf" <"$input" >"$out" || rc=$?
if [ "$rc" -eq 124 ]; then
        echo "FAIL: $elf did not exit within 60s; output so far:" >&2
        od -c "$out" | tail -20 >&2
        exit 1
fi
if [ "$rc" -ne 0 ]; then
        echo "FAIL: qemu exited with status $rc" >&2
        exit 1
fi
if ! cmp -s "$expected" "$out"; then
        echo "FAIL: console output of $elf differs from $expected:" >&2
        diff <(od -c "$expected") <(od -c "$out") >&2 || true
        exit 1
fi
echo "ok: $(basename "$elf") printed exactly $(basename "$expected")"
