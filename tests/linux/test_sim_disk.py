# SPDX-License-Identifier: LGPL-2.1-or-later
"""Disks on gunyahd (issue 12): Debian's arm64 kernel on the simulator with
two virtio-blk disks served by gunyah-device processes, the same initramfs,
images and checks as the QEMU reference (test_qemu_disk.py, linux_disk.py):
known.bin's checksum in the guest matches, a file written and synced in the
guest is on the image byte for byte after poweroff, the read-only disk
refuses writes and its image is unchanged, both serials show."""
import shutil

import pytest

from linux_disk import DiskTest
from test_linux import create, status, wait_console, wait_stopped, why

pytestmark = [
    pytest.mark.skipif(not all(shutil.which(t) or shutil.which(t, path="/usr/sbin:/sbin")
                               for t in ("mke2fs", "e2fsck", "debugfs")),
                       reason="e2fsprogs is not installed (tools/setup.sh installs it)"),
]


@pytest.mark.parametrize("vcpus", [1, 2])
def test_ext4_round_trip_on_a_writable_and_a_read_only_disk(env, gd, gdir, tmp_path, vcpus):
    t = DiskTest(str(tmp_path))
    create(env, "disk", gdir, "--start", vcpus=vcpus, test="disk", disks=t.disks,
           memory={"size": "512M", "mode": "share"})
    wait_console(gd, "disk", b"GUNYAH-DISK-DONE")
    st = wait_stopped(gd, "disk")
    assert (st["State"], st["StateReason"]) == ("stopped", "poweroff"), why(gd, "disk")
    t.check_console(gd.console_log("disk"))
    t.check_images()


def test_status_shows_the_disks(env, gd, gdir, tmp_path):
    t = DiskTest(str(tmp_path), mib=8)
    create(env, "shown", gdir, vcpus=1, test="disk", disks=t.disks, memory={"size": "512M", "mode": "share"})
    st = status(gd, "shown")
    assert [(d["path"], d["readonly"], d["serial"]) for d in st["Disks"]] == \
        [(t.rw, False, "data0"), (t.ro, True, "ro0")], st
    text = gd.ctl("status", "shown").stdout
    assert f"Disks: {t.rw}, serial data0\n" in text and f" {t.ro} (read-only), serial ro0\n" in text, text
