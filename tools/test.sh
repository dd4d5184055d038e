#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite.
#   tools/test.sh                       # build/ with the default options
#   BUILDDIR=b tools/test.sh -Db_sanitize=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
builddir=${BUILDDIR:-build}
bash tools/build.sh "$builddir" "$@"
meson test -C "$builddir" --print-errorlogs --num-processes 2

# libFuzzer targets need clang: a separate build runs each for a bounded
# number of iterations (meson option fuzz-runs).
if [ -z "${GUNYAH_SKIP_FUZZ:-}" ] && command -v clang >/dev/null; then
        CC=clang bash tools/build.sh "${builddir}-fuzz" -Dfuzz=true
        meson test -C "${builddir}-fuzz" --suite fuzz --print-errorlogs --num-processes 2
fi
