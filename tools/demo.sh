#!/usr/bin/env bash
# Installs what is missing, builds, and shows gunyahd at work: a private
# D-Bus, gunyahd on the simulator, examples/hello.json created and started,
# its console output and its final state.
#   tools/demo.sh --linux   then also boots Debian's arm64 Linux (examples/linux.json,
#                           the kernel fetched by tools/setup.sh) on the simulator
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh build
b=$PWD/build
spec=examples/hello.json
ctl="$b/src/ctl/gunyahctl"
export GUNYAH_IMAGE_PATH="$b/tests/guests"

echo "== gunyahctl validate $spec (the normalized spec)"
"$ctl" validate "$spec"
echo
echo "== gunyahctl dtb $spec (the devicetree the Resource Manager receives), first lines"
"$ctl" dtb "$spec" | head -n 20
echo "   ..."

work=$(mktemp -d)
cleanup() {
        [ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
        [ -n "${bus_pid:-}" ] && kill "$bus_pid" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT

dbus-daemon --session --nofork --nopidfile --print-address=3 --address="unix:dir=$work" 3>"$work/address" 2>/dev/null &
bus_pid=$!
for _ in $(seq 100); do [ -s "$work/address" ] && break; sleep 0.05; done
address=$(head -n 1 "$work/address")

echo
echo "== gunyahd --backend=sim on a private bus"
"$b/src/daemon/gunyahd" --backend=sim --bus-address="$address" \
        --state-dir="$work/state" --log-dir="$work/log" --runtime-dir="$work/run" --config-dir="$work/etc" \
        --worker-binary="$b/src/vcpu/gunyah-vcpu" --device-binary="$b/src/device/gunyah-device" \
        --keeper-binary="$b/src/keeper/gunyah-keeper" --worker-user=nobody \
        --stop-vms-on-exit 2>"$work/gunyahd.log" &
daemon_pid=$!
for _ in $(seq 100); do
        "$ctl" --bus-address="$address" list >/dev/null 2>&1 && break
        sleep 0.05
done
sed 's/^/   /' "$work/gunyahd.log"

echo
echo "== gunyahctl create $spec --start, then its console"
"$ctl" --bus-address="$address" create "$spec"
"$ctl" --bus-address="$address" start --wait --console hello || true
echo
echo "== gunyahctl status hello"
"$ctl" --bus-address="$address" status hello

[ "${1:-}" = --linux ] || exit 0

# Debian's arm64 kernel and a busybox initramfs, fetched by tools/setup.sh;
# examples/linux.json names them "linux/Image" and "linux/initrd.gz".
linux_dir=$(bash tools/fetch-linux-guest.sh --print-dir)
GUNYAH_IMAGE_PATH="$GUNYAH_IMAGE_PATH:$(dirname "$linux_dir")"
echo
echo "== Linux: $(head -n 1 "$linux_dir/VERSION") on 2 vCPUs (examples/linux.json)"
"$ctl" --bus-address="$address" create examples/linux.json
echo "== gunyahctl start --wait --console linux (a software CPU: the boot takes a while)"
t0=$(date +%s)
timeout 1800 "$ctl" --bus-address="$address" start --wait --console linux || true
echo
echo "== after $(( $(date +%s) - t0 )) s: gunyahctl status linux"
"$ctl" --bus-address="$address" status linux
