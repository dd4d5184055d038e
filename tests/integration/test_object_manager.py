# SPDX-License-Identifier: LGPL-2.1-or-later
"""ObjectManager signals name org.gunyah.VM1: clients that follow the VMs
through InterfacesAdded/InterfacesRemoved (Cockpit's D-Bus client, GDBus's
GDBusObjectManagerClient) see a VM come and go."""
import subprocess
import time

from gunyah_harness import spec_json


class SignalMonitor:
    """dbus-monitor on the test bus, for one member; the text it printed."""

    def __init__(self, bus, member):
        self.proc = subprocess.Popen(["dbus-monitor", "--address", bus.address, f"type='signal',member='{member}'"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.3)  # the monitor has registered its match

    def stop(self):
        time.sleep(0.3)  # signals already sent reach the monitor
        self.proc.terminate()
        return self.proc.communicate(timeout=10)[0]


def signal_bodies(output, member):
    """The argument text of each signal named member."""
    blocks = output.split("\nsignal ")
    return [b for b in blocks if f"member={member}" in b]


def test_destroy_emits_interfaces_removed_naming_the_vm_interface(env, gd):
    gd.manager().CreateVM(spec_json("om-vm", "hello"), 0)
    monitor = SignalMonitor(env.bus, "InterfacesRemoved")
    try:
        gd.vm("om-vm").Destroy()
    finally:
        out = monitor.stop()
    removed = [b for b in signal_bodies(out, "InterfacesRemoved") if '"/org/gunyah/Manager1/vm/om_2dvm"' in b]
    assert len(removed) == 1, f"expected one InterfacesRemoved for the VM, got:\n{out}"
    assert 'string "org.gunyah.VM1"' in removed[0], f"InterfacesRemoved does not name org.gunyah.VM1:\n{removed[0]}"


def test_create_emits_interfaces_added_naming_the_vm_interface(env, gd):
    monitor = SignalMonitor(env.bus, "InterfacesAdded")
    try:
        gd.manager().CreateVM(spec_json("om-new", "hello"), 0)
    finally:
        out = monitor.stop()
    added = [b for b in signal_bodies(out, "InterfacesAdded") if '"/org/gunyah/Manager1/vm/om_2dnew"' in b]
    assert len(added) == 1, f"expected one InterfacesAdded for the VM, got:\n{out}"
    assert 'string "org.gunyah.VM1"' in added[0], f"InterfacesAdded does not name org.gunyah.VM1:\n{added[0]}"
