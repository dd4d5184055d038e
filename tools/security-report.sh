#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prints systemd-analyze's security report of gunyahd.service and
# gunyah-vm@.service as built (the unit files in BUILD_DIR/units, default
# build/), offline: no systemd as PID 1 and nothing installed needed.
# Ends with the exposure figures; exits 1 when gunyahd.service is above the
# goal (4.0, "OK" or better on systemd's scale).
set -euo pipefail

build=${1:-build}
goal=4.0
units=("$build/units/gunyahd.service" "$build/units/gunyah-vm@.service")

command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (Debian package systemd)" >&2; exit 1; }
for u in "${units[@]}"; do
        [ -r "$u" ] || { echo "$u not found: configure first (meson setup $build)" >&2; exit 1; }
done
if ! systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
        echo "systemd-analyze security has no --offline here (needs systemd 250 or newer)" >&2
        exit 1
fi

summary=()
status=0
for u in "${units[@]}"; do
        echo "=== ${u##*/}"
        out=$(SYSTEMD_COLORS=0 systemd-analyze security --offline=yes --no-pager "$u" 2>&1) || true
        echo "$out"
        echo
        figure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
        summary+=("${u##*/}: ${figure:-?}")
        if [[ ${u##*/} == gunyahd.service ]] &&
                ! awk -v f="${figure:-99}" -v g="$goal" 'BEGIN { exit !(f <= g) }'; then
                status=1
        fi
done
echo "=== exposure (goal for gunyahd.service: <= $goal)"
printf '%s\n' "${summary[@]}"
exit $status
