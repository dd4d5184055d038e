#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The units, sysusers.d and tmpfiles.d snippets as installed are accepted by
# systemd's own tools. Works without systemd as PID 1: everything runs
# against a temporary root (--root), where the installed binaries and man
# pages exist at their final paths.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need systemd-analyze systemd
need systemd-sysusers systemd
need systemd-tmpfiles systemd
make_tmp

dest=$tmp/root
install_tree "$dest"
# The units depend on the distribution's (dbus.socket, multi-user.target):
# give the temporary root a copy of them, below ours in priority.
for d in /usr/lib/systemd/system /lib/systemd/system; do
        if [ -d "$d" ]; then
                mkdir -p "$dest/usr/lib/systemd/system"
                cp -rn "$d/." "$dest/usr/lib/systemd/system/"
                break
        fi
done
mkdir -p "$dest/etc"
# Commands the units run from the base system (ExecReload=/bin/kill).
mkdir -p "$dest/bin"
cp /bin/kill "$dest/bin/kill"

# systemd-analyze verify: exit status and any message count (parse warnings
# do not change the exit status). man: the Documentation= pages must resolve.
verify() {
        MANPATH="$dest$MANDIR" SYSTEMD_LOG_COLOR=0 \
                systemd-analyze verify --root="$dest" "$@" >"$tmp/verify.out" 2>&1 && [ ! -s "$tmp/verify.out" ]
}

units=("$dest$UNITDIR/gunyahd.service" "$dest$UNITDIR/gunyah-vm@.service")
if ! verify "${units[@]}"; then
        cat "$tmp/verify.out" >&2
        fail "systemd-analyze verify ${units[*]#"$dest"}"
fi
echo "OK: systemd-analyze verify gunyahd.service gunyah-vm@.service"

# The check can fail: a unit with an unknown key and a missing binary.
sed -e 's/^Type=notify/Type=notify\nNoSuchKey=1/' -e "s|^ExecStart=.*|ExecStart=$SBINDIR/no-such-gunyahd|" \
        "$dest$UNITDIR/gunyahd.service" >"$dest$UNITDIR/gunyah-broken.service"
if verify "$dest$UNITDIR/gunyah-broken.service"; then
        fail "systemd-analyze verify accepted a broken unit: this check cannot fail"
fi
grep -q NoSuchKey "$tmp/verify.out" || { cat "$tmp/verify.out" >&2; fail "no complaint about NoSuchKey"; }
grep -q no-such-gunyahd "$tmp/verify.out" || { cat "$tmp/verify.out" >&2; fail "no complaint about the missing binary"; }
rm "$dest$UNITDIR/gunyah-broken.service"
echo "OK: a broken unit is refused"

# sysusers: creates the unprivileged worker user, no shell, no home.
systemd-sysusers --root="$dest" "$dest$SYSUSERSDIR/gunyah.conf" >"$tmp/sysusers.out" 2>&1 ||
        { cat "$tmp/sysusers.out" >&2; fail "systemd-sysusers $SYSUSERSDIR/gunyah.conf"; }
entry=$(grep '^gunyah-vcpu:' "$dest/etc/passwd") || fail "sysusers created no gunyah-vcpu user"
IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "gunyah-vcpu uid $uid is not a system uid"
[ "$home" = / ] || fail "gunyah-vcpu has home $home, expected /"
case "$shell" in
        */nologin|*/false) ;;
        *) fail "gunyah-vcpu has login shell $shell" ;;
esac
echo "OK: systemd-sysusers creates $entry"

# tmpfiles: creates the admin directories with their modes.
systemd-tmpfiles --root="$dest" --create "$dest$TMPFILESDIR/gunyah.conf" >"$tmp/tmpfiles.out" 2>&1 ||
        { cat "$tmp/tmpfiles.out" >&2; fail "systemd-tmpfiles --create $TMPFILESDIR/gunyah.conf"; }
for d in /etc/gunyah/vms /var/lib/gunyah/images; do
        [ -d "$dest$d" ] || fail "systemd-tmpfiles did not create $d"
        mode=$(stat -c %a "$dest$d")
        [ "$mode" = 755 ] || fail "$d has mode $mode, expected 755"
done
echo "OK: systemd-tmpfiles creates /etc/gunyah/vms and /var/lib/gunyah/images"
