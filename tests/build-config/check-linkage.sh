#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Which shared libraries a program needs (its DT_NEEDED entries): the CPU
# emulator (unicorn) belongs only in the process that runs guest code on the
# simulator, never in the privileged daemon or the CLI.
# Usage: check-linkage.sh READELF PROGRAM [+LIB|-LIB]...
#   +LIB  PROGRAM must need a library whose soname starts with LIB
#   -LIB  PROGRAM must not
set -euo pipefail
readelf=$1 program=$2
shift 2

needed=$("$readelf" -d "$program" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "$(basename "$program") needs: $(tr '\n' ' ' <<<"$needed")"
status=0
for want in "$@"; do
        lib=${want:1}
        if grep -q "^$lib" <<<"$needed"; then has=+; else has=-; fi
        if [ "$has" != "${want:0:1}" ]; then
                echo "$(basename "$program"): expected $want, found ${has}$lib" >&2
                status=1
        fi
done
exit $status
