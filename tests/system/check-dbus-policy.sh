#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dbus-daemon accepts the bus policy; a broken copy is refused (so the check
# can fail); the policy lets every method of the interface XML through
# (read-only ones to everyone, the others for gunyahd to ask polkit).
# Usage: check-dbus-policy.sh POLICY.conf INTERFACE.xml...
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need dbus-daemon dbus-daemon
need python3 python3
make_tmp

policy=$(realpath "$1")
shift

# write_config CONF: a private bus configuration that includes CONF.
write_config() {
        cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
  <include>$1</include>
</busconfig>
CONF
}

write_config "$policy"
out=$(timeout 10 dbus-daemon --config-file="$tmp/bus.conf" --fork --print-address=1 --print-pid=1 2>"$tmp/err") ||
        { cat "$tmp/err" >&2; fail "dbus-daemon refused a configuration including ${policy##*/}"; }
pid=$(sed -n 2p <<<"$out")
address=$(sed -n 1p <<<"$out")
[ -n "$pid" ] && kill "$pid"
case "$address" in
        unix:*) echo "OK: dbus-daemon started with ${policy##*/} ($address)" ;;
        *) fail "dbus-daemon printed no address: $out" ;;
esac

# A broken copy (an unknown attribute) must make dbus-daemon fail.
sed 's/<allow own=/<allow no_such_attribute="1" own=/' "$policy" >"$tmp/broken.conf"
cmp -s "$policy" "$tmp/broken.conf" && fail "could not break a copy of the policy"
write_config "$tmp/broken.conf"
rc=0
timeout 10 dbus-daemon --config-file="$tmp/bus.conf" --nofork >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" = 124 ] && fail "dbus-daemon ran with a broken policy: this check cannot fail"
[ "$rc" != 0 ] || fail "dbus-daemon accepted a broken policy"
echo "OK: a broken policy is refused ($(head -n1 "$tmp/err"))"

# Every method of the interfaces has an allow rule in the default context.
python3 - "$policy" "$@" <<'PY'
import sys
import xml.etree.ElementTree as ET

policy, xmls = sys.argv[1], sys.argv[2:]
root = ET.parse(policy).getroot()
default = [p for p in root.findall("policy") if p.get("context") == "default"]
allowed = {(a.get("send_interface"), a.get("send_member"))
           for p in default for a in p.findall("allow")
           if a.get("send_destination") == "org.gunyah.Manager1"}
missing = []
for x in xmls:
    for iface in ET.parse(x).getroot().findall("interface"):
        for m in iface.findall("method"):
            key = (iface.get("name"), m.get("name"))
            if key not in allowed:
                missing.append("%s.%s" % key)
for key in [("org.freedesktop.DBus.Properties", "Get"), ("org.freedesktop.DBus.Properties", "GetAll"),
            ("org.freedesktop.DBus.Properties", "Set"),
            ("org.freedesktop.DBus.ObjectManager", "GetManagedObjects")]:
    if key not in allowed:
        missing.append("%s.%s" % key)
if missing:
    sys.exit("FAIL: the bus policy has no allow rule for: " + ", ".join(missing))
owners = [p.get("user") for p in root.findall("policy")
          for a in p.findall("allow") if a.get("own") == "org.gunyah.Manager1"]
if owners != ["root"]:
    sys.exit("FAIL: org.gunyah.Manager1 must be ownable by root only, got %r" % owners)
print("OK: every method of %s has an allow rule; only root owns the name" % ", ".join(x.rsplit("/", 1)[-1] for x in xmls))
PY
