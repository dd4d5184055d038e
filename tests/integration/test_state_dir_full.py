# SPDX-License-Identifier: LGPL-2.1-or-later
"""The state directory full (issue 15, fault injection): gunyahd's state
directory on a small tmpfs that a filler file has filled. CreateVM with
persist fails with an error naming the cause, leaves no temporary or
truncated file, and the definitions already there stay as they were; so
does a changed Autostart that cannot be saved. Needs root (mount)."""
import errno
import json
import os
import subprocess

import dbus
import pytest

from gunyah_harness import Env, spec_json

PERSIST = 1
TMPFS_SIZE = "256k"


def fill(path):
    """Writes into path until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)


@pytest.fixture
def full_env():
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    e = Env()
    state = e.daemon.dirs["state"]
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", state], check=True)
    try:
        e.daemon.start()
        yield e
    finally:
        e.daemon.kill()
        subprocess.run(["umount", state], check=False)
        e.close()


def definitions(gd):
    vms = os.path.join(gd.dirs["state"], "vms")
    return {name: open(os.path.join(vms, name), "rb").read() for name in sorted(os.listdir(vms))}


def test_create_vm_on_a_full_state_directory_fails_and_leaves_definitions_intact(full_env):
    gd = full_env.daemon
    m = gd.manager()
    m.CreateVM(spec_json("kept"), dbus.UInt64(PERSIST))
    before = definitions(gd)
    assert list(before) == ["kept.json"]
    fill(os.path.join(gd.dirs["state"], "filler"))

    with pytest.raises(dbus.DBusException) as e:
        m.CreateVM(spec_json("new1"), dbus.UInt64(PERSIST))
    message = e.value.get_dbus_message()
    assert "No space left on device" in message and "new1" in message, message
    assert "new1" not in [str(v[0]) for v in m.ListVMs()]
    # no new1.json, no new1.json.tmpXXXXXX, kept.json byte for byte
    assert definitions(gd) == before

    # Rewriting an existing definition (Autostart) fails the same way and
    # leaves the old one whole.
    obj = gd.bus.conn.get_object("org.gunyah.Manager1", gd.vm_path("kept"))
    with pytest.raises(dbus.DBusException) as e:
        obj.Set("org.gunyah.VM1", "Autostart", dbus.Boolean(True), dbus_interface="org.freedesktop.DBus.Properties")
    assert "No space left on device" in e.value.get_dbus_message(), e.value
    assert definitions(gd) == before
    assert json.loads(before["kept.json"])["autostart"] is False

    # Space again: the same call succeeds.
    os.unlink(os.path.join(gd.dirs["state"], "filler"))
    m.CreateVM(spec_json("new1"), dbus.UInt64(PERSIST))
    assert sorted(definitions(gd)) == ["kept.json", "new1.json"]
    assert gd.proc.poll() is None
