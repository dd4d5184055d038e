#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# gunyahd --backend=auto without a Gunyah device: with the simulator built in
# it falls back to it and says why; without (-Dsim=disabled) it refuses and
# says that no simulator is built. No bus is reachable, so with the
# simulator the daemon fails later, at connecting; only its log is checked.
# Usage: check-backend-auto.sh GUNYAHD GUNYAH_VCPU true|false
set -euo pipefail
gunyahd=$1 vcpu=$2 sim=$3

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
timeout 30 "$gunyahd" --backend=auto --device="$tmp/no-gunyah" \
        --bus-address="unix:path=$tmp/no-bus" \
        --state-dir="$tmp/state" --log-dir="$tmp/log" --runtime-dir="$tmp/run" --config-dir="$tmp/vms" \
        --worker-binary="$vcpu" >"$tmp/out" 2>&1 || status=$?
cat "$tmp/out"

if [ "$status" -eq 0 ]; then
        echo "gunyahd exited 0 without a bus" >&2
        exit 1
fi
if [ "$sim" = true ]; then
        expected="Using the simulator backend: $tmp/no-gunyah unusable"
else
        expected="No simulator is built into this gunyahd (-Dsim=disabled), and $tmp/no-gunyah unusable"
fi
if ! grep -qF -- "$expected" "$tmp/out"; then
        echo "expected in gunyahd's log: $expected" >&2
        exit 1
fi
