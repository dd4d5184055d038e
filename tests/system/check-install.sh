#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# meson install --destdir puts every file in place, and nothing else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_tmp

dest=$tmp/root
install_tree "$dest"

expected=(
        "$SBINDIR/gunyahd"
        "$BINDIR/gunyahctl"
        "$LIBEXECDIR/gunyah/gunyah-vcpu"
        "$LIBEXECDIR/gunyah/gunyah-device"
        "$LIBEXECDIR/gunyah/gunyah-keeper"
        "$UNITDIR/gunyahd.service"
        "$UNITDIR/gunyah-vm@.service"
        "$SYSUSERSDIR/gunyah.conf"
        "$TMPFILESDIR/gunyah.conf"
        "$DATADIR/dbus-1/system.d/org.gunyah.Manager1.conf"
        "$DATADIR/dbus-1/system-services/org.gunyah.Manager1.service"
        "$DATADIR/dbus-1/interfaces/org.gunyah.Manager1.xml"
        "$DATADIR/dbus-1/interfaces/org.gunyah.VM1.xml"
        "$DATADIR/polkit-1/actions/org.gunyah.policy"
        "$DATADIR/bash-completion/completions/gunyahctl"
        "$MANDIR/man1/gunyahctl.1"
        "$MANDIR/man5/gunyah-vm.json.5"
        "$MANDIR/man5/org.gunyah.Manager1.5"
        "$MANDIR/man8/gunyahd.8"
)
# The Cockpit page (data/cockpit/meson.build), with xterm.js when the build
# could bundle it (esbuild and node-xterm, as that file decides).
for f in manifest.json index.html gunyah.css gunyah.js model.js vm-list.js create.js details.js \
         console.js dialog.js fdt.js util.js; do
        expected+=("$DATADIR/cockpit/gunyah/$f")
done
if command -v esbuild >/dev/null && [ -e /usr/share/nodejs/xterm/lib/xterm.js ]; then
        expected+=("$DATADIR/cockpit/gunyah/xterm.js" "$DATADIR/cockpit/gunyah/xterm.css")
fi

printf '%s\n' "${expected[@]}" | sort >"$tmp/expected"
(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort) >"$tmp/installed"

if ! diff -u "$tmp/expected" "$tmp/installed" >"$tmp/diff"; then
        echo "Installed files differ from the expected list (- missing, + unexpected):" >&2
        grep '^[-+]/' "$tmp/diff" >&2 || true
        fail "install list (update tests/system/check-install.sh when adding an installed file)"
fi

for f in "$SBINDIR/gunyahd" "$BINDIR/gunyahctl" "$LIBEXECDIR/gunyah/gunyah-vcpu" "$LIBEXECDIR/gunyah/gunyah-device" \
         "$LIBEXECDIR/gunyah/gunyah-keeper"; do
        [ -x "$dest$f" ] || fail "$f is not executable"
done
for f in "$dest$MANDIR"/man?/*; do
        grep -q '^\.TH ' "$f" || fail "${f#"$dest"} is not a man page (no .TH)"
done
for f in "$UNITDIR/gunyahd.service" "$UNITDIR/gunyah-vm@.service"; do
        if grep -n '@[a-z]*@' "$dest$f" >&2; then
                fail "$f has unsubstituted @variables@"
        fi
done
grep -qx "ExecStart=$SBINDIR/gunyahd" "$dest$UNITDIR/gunyahd.service" ||
        fail "gunyahd.service does not start $SBINDIR/gunyahd"
grep -q "^ExecStart=$BINDIR/gunyahctl start --wait %i\$" "$dest$UNITDIR/gunyah-vm@.service" ||
        fail "gunyah-vm@.service does not run $BINDIR/gunyahctl start --wait %i"
echo "OK: ${#expected[@]} files installed where expected"
