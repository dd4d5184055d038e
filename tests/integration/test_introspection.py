# SPDX-License-Identifier: LGPL-2.1-or-later
"""The live D-Bus API of gunyahd matches data/dbus/*.xml, the source of truth.

Compared as parsed structures, not text: per interface the methods with
their arguments (name, type, direction; direction defaults to "in"), the
signals with theirs, and the properties with type, access and effective
org.freedesktop.DBus.Property.EmitsChangedSignal (property annotation, else
the interface's, else "true"), since clients rely on which properties they
may cache. Other annotations (sd-bus adds e.g. org.freedesktop.systemd1.
Privileged) are implementation detail and ignored. A failure names which
side differs: fix the daemon, or change the XML on purpose."""
import json
import os
import xml.etree.ElementTree as ET

import dbus

from gunyah_harness import BUS_NAME, MANAGER_IFACE, MANAGER_PATH, VM_IFACE, spec

XML_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "dbus")
ECS = "org.freedesktop.DBus.Property.EmitsChangedSignal"


def annotation(elem, name):
    for a in elem.findall("annotation"):
        if a.get("name") == name:
            return a.get("value")
    return None


def args(elem, default_direction):
    return [(a.get("name"), a.get("type"), a.get("direction", default_direction)) for a in elem.findall("arg")]


def parse_interface(xml_text, name):
    root = ET.fromstring(xml_text)
    iface = next((i for i in root.findall("interface") if i.get("name") == name), None)
    assert iface is not None, f"interface {name} missing"
    iface_ecs = annotation(iface, ECS) or "true"
    return {
        "methods": {m.get("name"): args(m, "in") for m in iface.findall("method")},
        "signals": {s.get("name"): args(s, "out") for s in iface.findall("signal")},
        "properties": {p.get("name"): (p.get("type"), p.get("access"), annotation(p, ECS) or iface_ecs)
                       for p in iface.findall("property")},
    }


def reference(name):
    with open(os.path.join(XML_DIR, name + ".xml")) as f:
        return parse_interface(f.read(), name)


def live(gd, path, name):
    obj = gd.bus.conn.get_object(BUS_NAME, path)
    return parse_interface(str(obj.Introspect(dbus_interface="org.freedesktop.DBus.Introspectable")), name)


def compare(name, want, got):
    problems = []
    for kind in ("methods", "signals", "properties"):
        w, g = want[kind], got[kind]
        for member in sorted(set(w) | set(g)):
            if member not in g:
                problems.append(f"{name}: {kind[:-1]} {member} is in the XML but gunyahd lacks it")
            elif member not in w:
                problems.append(f"{name}: {kind[:-1]} {member} is offered by gunyahd but not in the XML")
            elif w[member] != g[member]:
                problems.append(f"{name}: {kind[:-1]} {member}: XML says {w[member]}, gunyahd says {g[member]}")
    return problems


def test_manager_interface_matches_xml(gd):
    problems = compare(MANAGER_IFACE, reference(MANAGER_IFACE), live(gd, MANAGER_PATH, MANAGER_IFACE))
    assert not problems, "\n".join(problems)


def test_vm_interface_matches_xml(gd):
    path = gd.manager().CreateVM(json.dumps(spec("intro")), dbus.UInt64(0))
    problems = compare(VM_IFACE, reference(VM_IFACE), live(gd, str(path), VM_IFACE))
    assert not problems, "\n".join(problems)


def test_manager_object_lists_the_object_manager_and_vms(gd):
    gd.manager().CreateVM(json.dumps(spec("intro")), dbus.UInt64(0))
    obj = gd.bus.conn.get_object(BUS_NAME, MANAGER_PATH)
    root = ET.fromstring(str(obj.Introspect(dbus_interface="org.freedesktop.DBus.Introspectable")))
    names = {i.get("name") for i in root.findall("interface")}
    assert "org.freedesktop.DBus.ObjectManager" in names, names
    vm_root = ET.fromstring(str(gd.bus.conn.get_object(BUS_NAME, MANAGER_PATH + "/vm").Introspect(
        dbus_interface="org.freedesktop.DBus.Introspectable")))
    assert "intro" in {n.get("name") for n in vm_root.findall("node")}


def test_the_comparison_catches_a_difference():
    """The checker itself: a changed argument type is reported."""
    want = reference(VM_IFACE)
    got = json.loads(json.dumps(want))
    got["methods"]["Stop"] = [["timeout_usec", "u", "in"]]
    got["properties"] = {k: tuple(v) for k, v in got["properties"].items()}
    got["methods"] = {k: [tuple(a) for a in v] for k, v in got["methods"].items()}
    problems = compare(VM_IFACE, want, got)
    assert len(problems) == 1 and "Stop" in problems[0], problems
