#!/usr/bin/env bash
# Installs the Debian packages gunyahd needs to build, test and run its demo.
# Idempotent: prints nothing and touches nothing when everything is present.
set -euo pipefail

packages=(
        build-essential meson ninja-build pkg-config
        libsystemd-dev libfdt-dev libjson-c-dev libseccomp-dev libcmocka-dev
        libunicorn-dev
        gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
        device-tree-compiler
        clang libclang-rt-14-dev
        dbus dbus-daemon
        polkitd
        scdoc libxml2-utils systemd
        # man: systemd-analyze verify follows the units' Documentation=man:
        man-db
        python3-dbus python3-gi python3-pytest
        qemu-system-arm
        # procps: pgrep (integration tests), /bin/kill (the unit's ExecReload);
        # a minbase Debian has neither
        util-linux procps
        cpio
        # kmod: modinfo, for the Linux guest's module load order (fetch-linux-guest.sh)
        kmod
        mmdebstrap qemu-system-x86 e2fsprogs
        # the Cockpit page and its browser tests (tests/browser): cockpit-ws
        # serves it, Chromium drives it; node-xterm + esbuild give the page
        # its xterm.js; iproute2 brings up the tests' own loopback
        cockpit-ws cockpit-bridge chromium chromium-driver python3-selenium
        node-xterm esbuild iproute2
        # the example GDBus client (examples/client): GIO and gdbus-codegen
        libglib2.0-dev
)

missing=()
for p in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$status" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
                sudo=sudo
        else
                sudo=
        fi
        echo "setup: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        # Another apt (unattended-upgrades on a fresh machine) may hold
        # the locks for a while: wait for it rather than fail.
        lock=(-o DPkg::Lock::Timeout=600 -o Acquire::Lock::Timeout=600)
        $sudo apt-get "${lock[@]}" update -qq
        $sudo apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Linux guest set (Debian's arm64 kernel, a busybox initramfs) in
# ~/.cache/gunyah/linux, for tests/linux and tools/demo.sh --linux; silent
# when present. Without a reachable registry those tests skip.
if [ -z "${GUNYAH_SKIP_LINUX:-}" ]; then
        bash "$(dirname "$0")/fetch-linux-guest.sh" ||
                echo "setup: no Linux guest set (tools/fetch-linux-guest.sh failed); tests/linux will fetch or skip" >&2
fi
