#!/usr/bin/env bash
# Configures (once) and builds a build directory: tools/build.sh [BUILDDIR [meson options...]]
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${1:-build}
shift || true
if [ ! -f "$builddir/build.ninja" ]; then
        meson setup "$builddir" "$@" >/dev/null
elif [ $# -gt 0 ]; then
        meson configure "$builddir" "$@" >/dev/null
fi
meson compile -C "$builddir" >/dev/null
