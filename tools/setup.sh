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
        clang
        dbus dbus-daemon
        polkitd
        scdoc libxml2-utils systemd
        python3-dbus python3-pytest
        qemu-system-arm
        util-linux
)

missing=()
for p in "${packages[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
        sudo=sudo
else
        sudo=
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
