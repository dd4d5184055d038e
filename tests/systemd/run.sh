#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd test machine (meson suite "systemd"): Debian 12 with systemd
# as PID 1, gunyahd installed as the README's Installing section says
# (--prefix=/usr, meson install), booted with qemu-system-x86_64 (TCG, the
# guest kernel's default clocksource). gunyah-checks.service runs
# tests/systemd/root/usr/local/libexec/gunyah-checks and reports each check on
# the serial console; this script parses the report.
#   run.sh SOURCE_DIR WORK_DIR GUEST_DIR
# The base root is cached in ~/.cache/gunyah/systemd-base-KEY.tar, KEY a
# hash of what builds it (rebuilt when that changes or when a week old). Exit 77 (skip) only when it cannot run at all: no base yet
# and no Debian mirror to build it from; GUNYAH_REQUIRE_SYSTEMD=1 (CI)
# turns that into a failure.
set -euo pipefail
src=$1 work=$2 guests=$3
here=$src/tests/systemd
cache=${GUNYAH_CACHE_DIR:-$HOME/.cache/gunyah}
key=$(cat "$here/build-base.sh" $(find "$here/base" -type f | sort) | sha256sum | cut -c1-12)
base=$cache/systemd-base-$key.tar
checks=(sysusers-tmpfiles gunyahd-notify enable-at-boot journal-field vm-scope machined restart-keeps-vm stop-honoured scope-gone
        scope-restarts stop-forced crash-fails worker-failure-fails reload dbus-activation polkit security no-failed-units)

skip() {
        if [ -n "${GUNYAH_REQUIRE_SYSTEMD:-}" ]; then
                echo "systemd: cannot run, and GUNYAH_REQUIRE_SYSTEMD is set: $*" >&2
                exit 1
        fi
        echo "systemd: SKIP: $*" >&2
        exit 77
}
step() { echo "systemd: $(( $(date +%s) - t0 )) s: $*"; }
t0=$(date +%s)

if [ -n "${GUNYAH_SKIP_SYSTEMD:-}" ]; then
        echo "systemd: SKIP: GUNYAH_SKIP_SYSTEMD is set" >&2
        exit 77
fi
[ "$(id -u)" -eq 0 ] || skip "needs root (mmdebstrap, the image's file ownership)"
for tool in mmdebstrap qemu-system-x86_64 mkfs.ext4; do
        command -v "$tool" >/dev/null || skip "$tool not installed (tools/setup.sh installs it)"
done

mkdir -p "$cache" "$work"
exec 9>"$cache/systemd-base.lock"
flock 9
if [ ! -s "$base" ] || [ -n "$(find "$base" -mtime +7)" ]; then
        step "building the Debian 12 base root ($base)"
        if ! bash "$here/build-base.sh" "$base"; then
                rm -f "$base.tmp"
                timeout 10 bash -c '</dev/tcp/deb.debian.org/80' 2>/dev/null ||
                        skip "no base root yet and no Debian mirror to build it (deb.debian.org unreachable)"
                echo "systemd: building the base root failed" >&2
                exit 1
        fi
fi

# The project, built and installed as the README says, into the image.
usr=$work/build-usr
if [ ! -f "$usr/build.ninja" ]; then
        meson setup "$usr" "$src" --prefix=/usr -Dguests=disabled >/dev/null
fi
step "building with --prefix=/usr"
meson compile -C "$usr" >/dev/null

root=$work/root
rm -rf --one-file-system "$root" "$work/root.img"
mkdir -p "$root"
tar -C "$root" -xf "$base"
step "meson install --destdir"
meson install -C "$usr" --destdir "$root" --quiet >/dev/null
cp -a "$here/root/." "$root/"
# Not in /var/lib/gunyah/images: systemd-tmpfiles must create that at boot.
mkdir -p "$root/usr/local/share/gunyah-test"
cp "$guests"/*.elf "$root/usr/local/share/gunyah-test/"
# The README's `systemctl enable`, and one VM enabled for boot.
systemctl --root="$root" --quiet enable gunyahd.service gunyah-vm@boot1.service
# Nothing else to do at boot (timers, login prompts): keeps it short.
systemctl --root="$root" --quiet mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
        fstrim.timer getty@tty1.service serial-getty@ttyS0.service 2>/dev/null || true

step "making the disk image"
mkfs.ext4 -q -F -L root -d "$root" "$work/root.img" 2G
kernel=$(ls "$root"/boot/vmlinuz-* | head -n 1)
initrd=$(ls "$root"/boot/initrd.img-* | head -n 1)
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
rm -rf --one-file-system "$root"

step "booting (qemu-system-x86_64, TCG)"
serial=$work/serial.log
status=0
timeout "${GUNYAH_SYSTEMD_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg -m 1536 -smp 2 \
        -display none -serial "file:$serial" -monitor none -no-reboot -nic none \
        -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
        -drive "file=$work/root.img,format=raw,if=virtio" \
        -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=error systemd.wants=gunyah-checks.service" \
        </dev/null || status=$?
step "machine off (qemu exit $status)"
rm -f "$work/root.img"

grep -a '^GUNYAH-CHECK' "$serial" | tr -d '\r' || true
failed=0
for c in "${checks[@]}"; do
        if ! grep -aq "^GUNYAH-CHECK ok $c:" "$serial"; then
                grep -aq "^GUNYAH-CHECK FAIL $c:" "$serial" || echo "systemd: check $c did not report"
                failed=1
        fi
done
if [ "$failed" -ne 0 ] || [ "$status" -ne 0 ]; then
        echo "systemd: FAILED; the serial console's last lines:"
        tail -n 60 "$serial" | tr -d '\r'
        exit 1
fi
step "all ${#checks[@]} checks passed"
