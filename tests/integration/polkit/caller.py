# SPDX-License-Identifier: LGPL-2.1-or-later
"""One D-Bus call on gunyahd, made by whoever runs this (the polkit tests run
it as an unprivileged uid). Prints {"ok": result} or {"error": name,
"message": text} as JSON.

    caller.py BUS-ADDRESS VERB [ARG...]
"""
import json
import sys

import dbus

BUS_NAME = "org.gunyah.Manager1"
MANAGER_PATH = "/org/gunyah/Manager1"
MANAGER_IFACE = "org.gunyah.Manager1"
VM_IFACE = "org.gunyah.VM1"
PROPS_IFACE = "org.freedesktop.DBus.Properties"


def main(address, verb, *args):
    bus = dbus.bus.BusConnection(address)
    manager = dbus.Interface(bus.get_object(BUS_NAME, MANAGER_PATH), MANAGER_IFACE)

    def vm_object(name):
        return bus.get_object(BUS_NAME, manager.GetVM(name))

    calls = {
        "CreateVM": lambda spec: str(manager.CreateVM(spec, dbus.UInt64(0))),
        "GetVM": lambda name: str(manager.GetVM(name)),
        "ListVMs": lambda: [str(v[0]) for v in manager.ListVMs()],
        "StartVM": lambda name: manager.StartVM(name),
        "StopVM": lambda name: manager.StopVM(name, dbus.UInt64(0)),
        "KillVM": lambda name: manager.KillVM(name),
        "DestroyVM": lambda name: manager.DestroyVM(name),
        "VM.Start": lambda name: vm_object(name).Start(dbus_interface=VM_IFACE),
        "VM.Kill": lambda name: vm_object(name).Kill(dbus_interface=VM_IFACE),
        "VM.OpenConsole": lambda name: vm_object(name).OpenConsole(dbus_interface=VM_IFACE).take() >= 0,
        "VM.ConnectVsock": lambda name, port: vm_object(name).ConnectVsock(dbus.UInt32(int(port)),
                                                                          dbus_interface=VM_IFACE).take() >= 0,
        "GetState": lambda name: str(vm_object(name).Get(VM_IFACE, "State", dbus_interface=PROPS_IFACE)),
        "GetAutostart": lambda name: bool(vm_object(name).Get(VM_IFACE, "Autostart", dbus_interface=PROPS_IFACE)),
        "SetAutostart": lambda name, value: vm_object(name).Set(VM_IFACE, "Autostart", dbus.Boolean(value == "true"),
                                                                 dbus_interface=PROPS_IFACE),
    }
    try:
        result = calls[verb](*args)
    except dbus.DBusException as e:
        return {"error": e.get_dbus_name(), "message": e.get_dbus_message()}
    return {"ok": result}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
