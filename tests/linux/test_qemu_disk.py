# SPDX-License-Identifier: LGPL-2.1-or-later
"""The disk reference (issue 12): qemu-system-aarch64 -M virt,gic-version=3
(TCG) boots the guest set with gunyah.test=disk and two virtio-blk-device
disks, a writable and a read-only ext4 image made by mke2fs -d, the way
gunyahd will (linux_disk.py holds the checks both share). When this fails,
the guest set or the images are wrong; when only gunyahd's run fails,
gunyahd is."""
import hashlib
import re
import shutil

import pytest

from linux_disk import DiskTest, bench_figures, lines, qemu_args
from linux_guest import Qemu, cmdline, marker

pytestmark = [
    pytest.mark.skipif(not shutil.which("qemu-system-aarch64"),
                       reason="qemu-system-aarch64 is not installed (tools/setup.sh installs it)"),
    pytest.mark.skipif(not all(shutil.which(t) or shutil.which(t, path="/usr/sbin:/sbin")
                               for t in ("mke2fs", "e2fsck", "debugfs")),
                       reason="e2fsprogs is not installed (tools/setup.sh installs it)"),
]


@pytest.mark.parametrize("vcpus", [1, 2])
def test_ext4_round_trip_on_a_writable_and_a_read_only_disk(gdir, qemu_runs, tmp_path, vcpus):
    t = DiskTest(str(tmp_path))
    q = Qemu(gdir, vcpus, cmdline("disk"), extra=qemu_args(t.disks))
    qemu_runs.append(q)
    assert q.read_until(b"GUNYAH-DISK-DONE") is not None, q.text()
    assert q.wait() == 0, q.text()
    assert marker(vcpus) in q.out and b"reboot: Power down" in q.out, q.text()
    t.check_console(q.out)
    t.check_images()


def test_without_disks_the_guest_says_so_and_powers_off(gdir, qemu_runs):
    q = Qemu(gdir, 1, cmdline("disk"))
    qemu_runs.append(q)
    assert q.wait() == 0, q.text()
    assert lines(q.out, "GUNYAH-DISK-NONE") == [{}] and lines(q.out, "GUNYAH-DISK") == [], q.text()
    assert lines(q.out, "GUNYAH-DISK-DONE") == [{"rw": "", "ro": ""}], q.text()


def test_a_lost_write_is_caught(gdir, qemu_runs, tmp_path):
    # The checks must fail when the guest's write never reaches the image:
    # the same run with QEMU discarding the writable disk's writes (snapshot=on).
    t = DiskTest(str(tmp_path))
    args = qemu_args(t.disks)
    args[1] += ",snapshot=on"
    q = Qemu(gdir, 1, cmdline("disk"), extra=args)
    qemu_runs.append(q)
    assert q.wait() == 0, q.text()
    t.check_console(q.out)  # the guest saw its write
    with pytest.raises(RuntimeError, match="/written.txt"):
        t.check_images()


def test_bench_mode_measures_all_three_figures(gdir, qemu_runs, tmp_path):
    # bench/linux-disk.py's guest side, small and short; no figure is judged
    image = str(tmp_path / "bench.img")
    with open(image, "wb") as f:
        f.write(b"\xa5" * (8 << 20))
    q = Qemu(gdir, 1, cmdline("bench", "gunyah.bench.mib=8 gunyah.bench.seconds=1"),
             extra=qemu_args([{"path": image, "readonly": False, "serial": "bench0"}]))
    qemu_runs.append(q)
    assert q.wait() == 0, q.text()
    got = bench_figures(q.out)
    assert isinstance(got, dict) and all(v > 0 for v in got.values()), got
    assert [b["bytes"] for b in lines(q.out, "GUNYAH-BENCH")[:2]] == [str(8 << 20)] * 2, q.text()
    with open(image, "rb") as f:  # the sequential write of zeros reached the image, all of it
        assert f.read() == bytes(8 << 20)


def test_rng_and_vsock_groups_load_and_the_virtio_rng_binds(gdir, qemu_runs):
    # (QEMU here has no vhost-vsock: the vsock modes' reference is only that socat runs)
    q = Qemu(gdir, 1, cmdline("hwrng,vsock-serve", "gunyah.rng.bytes=4096 gunyah.vsock.echo=1234"),
             extra=["-device", "virtio-rng-device"])
    qemu_runs.append(q)
    assert q.wait() == 0, q.text()
    [rng] = lines(q.out, "GUNYAH-HWRNG")
    assert rng["status"] == "0" and rng["bytes"] == "4096", rng
    assert rng["sha256"] != hashlib.sha256(bytes(4096)).hexdigest(), "/dev/hwrng gave zeros"
    [socat] = lines(q.out, "GUNYAH-SOCAT")  # socat -V ran: its libraries are all there
    assert re.fullmatch(r"1\.[0-9.]+", socat["version"]), q.text()
    assert lines(q.out, "GUNYAH-VSOCK-SERVE") == [{"echo": "1234", "zero": "", "sink": ""}], q.text()
    modules = lines(q.out, "GUNYAH-MODULE")
    # (their order is test_guest_set.py's business)
    assert {m["name"] for m in modules} >= {"virtio_mmio", "virtio_rng", "vsock", "vmw_vsock_virtio_transport_common",
                                            "vmw_vsock_virtio_transport"}, q.text()
    assert len(modules) == len({m["name"] for m in modules}), "a module was loaded twice"
    assert all(m["status"] == "0" for m in modules), modules
    assert lines(q.out, "GUNYAH-RNG") == [{"current": "virtio_rng.0"}], q.text()
