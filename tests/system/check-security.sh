#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# gunyahd.service keeps its systemd-analyze exposure at or below 4.0, and
# gunyah-vm@.service (a plain D-Bus client) at or below 2.0.
# Usage: check-security.sh UNITDIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need systemd-analyze systemd
systemd-analyze security --help 2>/dev/null | grep -q -- '--offline' ||
        skip "systemd-analyze security has no --offline (systemd < 250)"

check() {
        local unit=$1 threshold=$2 out figure
        out=$(SYSTEMD_COLORS=0 systemd-analyze security --offline=yes --no-pager "$unit" 2>&1) || true
        figure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
        [ -n "$figure" ] || { echo "$out" >&2; fail "no exposure figure for ${unit##*/}"; }
        if ! awk -v f="$figure" -v g="$threshold" 'BEGIN { exit !(f <= g) }'; then
                grep '✗' <<<"$out" >&2 || true
                fail "${unit##*/}: exposure $figure, above $threshold (run tools/security-report.sh)"
        fi
        echo "OK: ${unit##*/} exposure $figure (limit $threshold)"
}
check "$1/gunyahd.service" 4.0
check "$1/gunyah-vm@.service" 2.0
