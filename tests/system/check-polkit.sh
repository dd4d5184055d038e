#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The polkit policy is valid (against polkit's DTD when installed, else as
# XML) and declares exactly the actions gunyahd asks about.
# Usage: check-polkit.sh POLICY bus-polkit.h
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need python3 python3
policy=$1
header=$2

dtd=/usr/share/polkit-1/policyconfig-1.dtd
if command -v xmllint >/dev/null && [ -r "$dtd" ]; then
        xmllint --noout --nonet --dtdvalid "$dtd" "$policy" || fail "${policy##*/} is not valid against $dtd"
        echo "OK: ${policy##*/} is valid against policyconfig-1.dtd"
fi

python3 - "$policy" "$header" <<'PY'
import re
import sys
import xml.etree.ElementTree as ET

policy, header = sys.argv[1:]
root = ET.parse(policy).getroot()
declared = {}
for a in root.findall("action"):
    declared[a.get("id")] = a
    for tag in ("description", "message"):
        if not (a.findtext(tag) or "").strip():
            sys.exit("FAIL: action %s has no <%s>" % (a.get("id"), tag))
    for tag in ("allow_any", "allow_inactive", "allow_active"):
        v = a.findtext("defaults/" + tag)
        if v != "auth_admin_keep":
            sys.exit("FAIL: action %s: defaults/%s is %r, expected auth_admin_keep" % (a.get("id"), tag, v))
used = set(re.findall(r'#define\s+POLKIT_ACTION_\w+\s+"([^"]+)"', open(header).read()))
if not used:
    sys.exit("FAIL: no POLKIT_ACTION_* defines found in " + header)
if used != set(declared):
    sys.exit("FAIL: actions used by gunyahd %s, declared in the policy %s" % (sorted(used), sorted(declared)))
print("OK: the policy declares exactly the actions gunyahd uses: " + ", ".join(sorted(used)))
PY
