#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages document everything the programs and sources define.

gunyahctl(1): every verb and option of `gunyahctl --help` (read at test
time); gunyahd(8): every option of `gunyahd --help`; gunyah-vm.json(5): every
key of the VM spec parser's key tables (src/vmconfig/vm-spec.c) and of the
table in examples/README.md; org.gunyah.Manager1(5): every method, argument
and property of the interface XML, the CreateVM flags, every error name (as
D-Bus and as varlink error), VM state and reason (src/daemon/vm-state.c), ExitInfo
key (src/daemon/bus-vm.c) and polkit action.

Usage: check-man.py SOURCE_ROOT GUNYAHCTL GUNYAHD
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

src, gunyahctl, gunyahd = sys.argv[1:4]
failures = []


def read(*path):
    with open(os.path.join(src, *path), encoding="utf-8") as f:
        return f.read()


def check(page, what, tokens):
    text = read("man", page + ".scd")
    tokens = sorted(set(tokens))
    if not tokens:
        failures.append("%s: found no %s to check (did the source change shape?)" % (page, what))
        return
    missing = [t for t in tokens
               if not re.search(r"(?<![\w-])" + re.escape(t) + r"(?![\w-])", text)]
    if missing:
        failures.append("%s does not mention these %s: %s" % (page, what, ", ".join(missing)))
    else:
        print("OK: %s mentions all %d %s" % (page, len(tokens), what))


def help_text(binary):
    return subprocess.run([binary, "--help"], check=True, capture_output=True, text=True).stdout


def options(text):
    return re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])", text)


# gunyahctl(1)
h = help_text(gunyahctl)
verbs_block = re.search(r"^Verbs:\n(.*?)(?:\n\n|\Z)", h, re.S | re.M)
verbs = [line.split()[0] for line in verbs_block.group(1).splitlines() if line.strip()] if verbs_block else []
check("gunyahctl.1", "verbs", verbs)
check("gunyahctl.1", "options", options(h))

# gunyahd(8)
check("gunyahd.8", "options", options(help_text(gunyahd)))

# gunyah-vm.json(5): keys from the parser's Field tables.
spec_c = read("src", "vmconfig", "vm-spec.c")
tables = {}
for name, body in re.findall(r"static const Field (\w+)\[\] = \{(.*?)\n\};", spec_c, re.S):
    tables[name] = body
keys = []


def walk(table, prefix):
    body = tables[table]
    for m in re.finditer(r'(?:\{\s*|OBJECT_FIELD\(|ACTION_FIELD\()"(\w+)"([^\n]*)', body):
        key = prefix + m.group(1)
        keys.append(key)
        sub = re.search(r"(?:\.sub = (\w+)|OBJECT_FIELD\(\"\w+\", &\w+, (\w+))", m.group(0))
        if sub:
            walk(sub.group(1) or sub.group(2), key + ".")


if "spec_fields" in tables:
    walk("spec_fields", "")
check("gunyah-vm.json.5", "VM spec keys (vm-spec.c)", keys)
readme = read("examples", "README.md")
check("gunyah-vm.json.5", "VM spec keys (examples/README.md)", re.findall(r"^\| `([\w.]+)` \|", readme, re.M))

# org.gunyah.Manager1(5)
page = "org.gunyah.Manager1.5"
names = []
for x in ("org.gunyah.Manager1.xml", "org.gunyah.VM1.xml"):
    for iface in ET.parse(os.path.join(src, "data", "dbus", x)).getroot().findall("interface"):
        names.append(iface.get("name"))
        for el in iface:
            if el.tag in ("method", "property"):
                names.append(el.get("name"))
            for arg in el.findall("arg"):
                names.append(arg.get("name"))
check(page, "interfaces, methods, arguments and properties", names)

errors_h = read("src", "basic", "bus-errors.h")
prefix = re.search(r'#define GUNYAH_ERROR_PREFIX "([^"]+)"', errors_h).group(1)
errors = re.findall(r'#define GUNYAH_ERROR_\w+ GUNYAH_ERROR_PREFIX "(\w+)"', errors_h)
check(page, "D-Bus error names", [prefix + e for e in errors])
check(page, "varlink error names", ["io.gunyah.Manager." + e for e in errors])
flags = re.findall(r"#define GUNYAH_CREATE_(\w+) \(UINT64_C\(1\) << (\d+)\)", errors_h)
check(page, "CreateVM flags", [f.lower() for f, _ in flags] + ["0x%x" % (1 << int(b)) for _, b in flags])

vm_c = read("src", "daemon", "vm-state.c")
for table, what in (("state_names", "VM states"), ("reason_names", "state reasons")):
    body = re.search(table + r"\[[^]]*\] = \{(.*?)\};", vm_c, re.S).group(1)
    check(page, what, [n for n in re.findall(r'"([^"]*)"', body) if n])

bus_vm_c = read("src", "daemon", "bus-vm.c")
body = re.search(r"int bus_vm_append_exit_info\(.*?\n\}", bus_vm_c, re.S).group(0)
check(page, "ExitInfo keys", re.findall(r'"(\w+)",\s*"[a-z]{1,2}"', body) + re.findall(r'append\(reply, "s", "(\w+)"\)', body))

polkit_h = read("src", "daemon", "bus-polkit.h")
check(page, "polkit actions", re.findall(r'#define POLKIT_ACTION_\w+ "([^"]+)"', polkit_h))

if failures:
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    sys.exit(1)
