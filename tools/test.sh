#!/usr/bin/env bash
# Installs what is missing, builds and runs the whole test suite.
#   tools/test.sh                       # build/ with the default options
#   BUILDDIR=b tools/test.sh -Db_sanitize=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
builddir=${BUILDDIR:-build}
bash tools/build.sh "$builddir" "$@"
# GUNYAH_MESON_TEST_ARGS: more arguments for the first run (e.g. --no-suite X).
# shellcheck disable=SC2086
meson test -C "$builddir" --print-errorlogs --num-processes 2 ${GUNYAH_MESON_TEST_ARGS:-}

# The sandbox's denial tests (a forbidden syscall kills only its worker) and
# gunyahd --test-die-at (fault injection) need the test-only hooks, which a
# default build must not contain (the suite above checks that): a second
# build directory with them, and the tests they serve.
if [ -z "${GUNYAH_SKIP_HOOKS:-}" ]; then
        bash tools/build.sh "${builddir}-hooks" "$@" -Dsandbox-test-hooks=true
        meson test -C "${builddir}-hooks" --print-errorlogs --num-processes 2 \
                integration-sandbox-hooks integration-sandbox integration-malicious test-sandbox-seccomp \
                integration-device-sandbox-hooks integration-device-sandbox test-device-seccomp \
                integration-fault_injection-hooks
fi

# libFuzzer targets need clang: a separate build runs each for a bounded
# number of iterations (meson option fuzz-runs).
if [ -z "${GUNYAH_SKIP_FUZZ:-}" ] && command -v clang >/dev/null; then
        CC=clang bash tools/build.sh "${builddir}-fuzz" -Dfuzz=true
        meson test -C "${builddir}-fuzz" --suite fuzz --print-errorlogs --num-processes 2
fi
