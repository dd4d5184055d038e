#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Golden devicetrees. Each tests/golden/<case>.json is turned into a DTB by
# `gunyahctl dtb` (the daemon's own path: spec -> kernel probe -> layout ->
# DTB), decompiled with `dtc -I dtb -O dts`, and compared with <case>.dts.
# The kernel and initrd the specs name are small fixtures in fixtures/.
#
# After an intended change to the devicetree, regenerate and review the diff:
#   tests/golden/check-golden.sh build/src/ctl/gunyahctl tests/golden --regenerate
#   git diff tests/golden
#
# Usage: check-golden.sh GUNYAHCTL GOLDEN_DIR [--regenerate]
set -eu

ctl=$1
dir=$2
mode=${3:-check}

if ! command -v dtc >/dev/null 2>&1; then
        echo "dtc not found (install device-tree-compiler): skipping" >&2
        exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

failed=0
n=0
for spec in "$dir"/*.json; do
        case=$(basename "$spec" .json)
        n=$((n + 1))
        if ! "$ctl" dtb "$spec" -o "$tmp/$case.dtb"; then
                echo "FAIL $case: gunyahctl dtb failed" >&2
                failed=1
                continue
        fi
        # -q: dtc warns about the u32 doorbell label and the unit-less /memory,
        # both required by the Resource Manager.
        dtc -q -I dtb -O dts -o "$tmp/$case.dts" "$tmp/$case.dtb"
        if [ "$mode" = --regenerate ]; then
                cp "$tmp/$case.dts" "$dir/$case.dts"
                echo "regenerated $dir/$case.dts"
        elif ! diff -u "$dir/$case.dts" "$tmp/$case.dts"; then
                echo "FAIL $case: devicetree differs from $case.dts (see diff above)" >&2
                failed=1
        else
                echo "ok $case"
        fi
done

if [ "$n" -eq 0 ]; then
        echo "no golden specs in $dir" >&2
        exit 1
fi
exit $failed
