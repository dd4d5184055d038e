# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the system integration checks (sourced, not run).

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

skip() {
        echo "SKIP: $*" >&2
        exit 77
}

need() {
        command -v "$1" >/dev/null 2>&1 || skip "$1 not found (Debian package $2)"
}

# A temporary directory removed on exit, in $tmp.
make_tmp() {
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/gunyah-system.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
}

# install_tree DESTDIR: meson install of the build tree into DESTDIR.
install_tree() {
        meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$1" >"$1.log" 2>&1 ||
                { cat "$1.log" >&2; fail "meson install --destdir failed"; }
}
