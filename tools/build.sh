#!/usr/bin/env bash
# Configures (once) and builds a build directory: tools/build.sh [BUILDDIR [meson options...]]
# Quiet when all goes well; on failure prints what meson or ninja said.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${1:-build}
shift || true
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f "$builddir/build.ninja" ]; then
        meson setup "$builddir" "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
elif [ $# -gt 0 ]; then
        meson configure "$builddir" "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
meson compile -C "$builddir" >"$log" 2>&1 || { grep -E -B2 -A8 'error|FAILED' "$log" | head -n 200 >&2; exit 1; }
