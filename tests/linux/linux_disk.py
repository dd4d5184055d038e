# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux guest's gunyah.test=disk run (tests/guests/linux/init), for any
VMM: the images it needs, the disks in gunyahd's spec form, and the checks of
its console and of the images afterwards. test_qemu_disk.py runs it on QEMU;
a gunyahd test passes `disks` into its spec, boots with cmdline("disk") and
calls the same checks."""
import os
import re

import disk_image

LINE = re.compile(rb"^(GUNYAH-[A-Z-]+)((?: [a-z0-9_]+=(?:\"[^\"\r\n]*\"|\S*))*)\r?$", re.M)
WORD = re.compile(r'([a-z0-9_]+)=("[^"]*"|\S*)')
# Linux refuses a write to a read-only block device with EPERM, a file write on
# a read-only mount with EROFS.
RAW_REFUSAL = "Operation not permitted"
FILE_REFUSAL = "Read-only file system"


def lines(console, kind):
    """The console's lines of that kind (e.g. "GUNYAH-DISK") as dicts of their
    key=value words, in order; quotes around a value are dropped."""
    found = []
    for m in LINE.finditer(console):
        if m.group(1).decode() == kind:
            found.append({k: v.strip('"') for k, v in WORD.findall(m.group(2).decode())})
    return found


def qemu_args(disks):
    """QEMU's -drive/-device pairs for disks in gunyahd's spec form: raw images
    on virtio-blk-device (virtio-mmio, as on gunyahd) with their serials."""
    args = []
    for i, d in enumerate(disks):
        ro = ",readonly=on" if d.get("readonly") else ""
        args += ["-drive", f"file={d['path']},if=none,id=disk{i},format=raw{ro}",
                 "-device", f"virtio-blk-device,drive=disk{i}" + (f",serial={d['serial']}" if d.get("serial") else "")]
    return args


class DiskTest:
    """Two ext4 images holding /known.bin: "data0" writable, "ro0" read-only."""

    RW_SERIAL, RO_SERIAL = "data0", "ro0"

    def __init__(self, directory, mib=64):
        self.rw = os.path.join(directory, "rw.img")
        self.ro = os.path.join(directory, "ro.img")
        self.known_sha256 = disk_image.make_ext4(self.rw, mib)
        disk_image.make_ext4(self.ro, mib, label="gunyah-ro")
        self.ro_sha256_before = disk_image.file_sha256(self.ro)
        self.disks = [{"path": self.rw, "readonly": False, "serial": self.RW_SERIAL},
                      {"path": self.ro, "readonly": True, "serial": self.RO_SERIAL}]

    def check_console(self, console):
        """What the guest printed (bytes): every check of the run inside the guest."""
        text = console.decode(errors="replace")
        modules = lines(console, "GUNYAH-MODULE")
        assert {"virtio_mmio", "virtio_blk", "jbd2", "mbcache", "crc16", "ext4"} <= {m["name"] for m in modules}, text
        assert all(m["status"] == "0" for m in modules), modules
        disks = {d["serial"]: d for d in lines(console, "GUNYAH-DISK")}
        assert set(disks) == {self.RW_SERIAL, self.RO_SERIAL}, text
        rw, ro = disks[self.RW_SERIAL], disks[self.RO_SERIAL]
        assert (rw["ro"], ro["ro"]) == ("0", "1"), disks
        for d, path in ((rw, self.rw), (ro, self.ro)):
            assert int(d["sectors"]) * 512 == os.path.getsize(path), (d, path)
        mounts = {m["dev"]: m for m in lines(console, "GUNYAH-DISK-MOUNT")}
        assert mounts[rw["dev"]]["options"] == "rw" and mounts[rw["dev"]]["status"] == "0", text
        assert mounts[ro["dev"]]["options"] == "ro" and mounts[ro["dev"]]["status"] == "0", text
        sums = {s["dev"]: s["sha256"] for s in lines(console, "GUNYAH-DISK-SUM")}
        assert sums == {rw["dev"]: self.known_sha256, ro["dev"]: self.known_sha256}, (sums, self.known_sha256)
        written = disk_image.written_content()
        [w] = lines(console, "GUNYAH-DISK-WRITE")
        assert w == {"dev": rw["dev"], "file": disk_image.WRITTEN, "bytes": str(len(written)),
                     "sha256": disk_image.sha256(written), "status": "0"}, w
        refusals = {r["how"]: r for r in lines(console, "GUNYAH-DISK-RO")}
        assert refusals["raw"] == {"dev": ro["dev"], "how": "raw", "refused": "1", "error": RAW_REFUSAL}, refusals
        assert refusals["file"] == {"dev": ro["dev"], "how": "file", "refused": "1", "error": FILE_REFUSAL}, refusals
        assert lines(console, "GUNYAH-DISK-SYNC") == [{"status": "0"}], text
        assert lines(console, "GUNYAH-DISK-DONE") == [{"rw": rw["dev"], "ro": ro["dev"]}], text

    def check_images(self):
        """After the VMM ended: the written file is on the writable image byte
        for byte (its journal replayed, the file system clean), known.bin is
        intact, and the read-only image is unchanged."""
        disk_image.recover(self.rw)
        assert disk_image.cat(self.rw, disk_image.WRITTEN) == disk_image.written_content()
        assert disk_image.sha256(disk_image.cat(self.rw, disk_image.KNOWN)) == self.known_sha256
        assert disk_image.file_sha256(self.ro) == self.ro_sha256_before, "the read-only image changed"


BENCH_OPS = ("seqwrite", "seqread", "randread")


def bench_figures(console):
    """gunyah.test=bench's GUNYAH-BENCH lines as {"seqwrite": MiB/s,
    "seqread": MiB/s, "randread": IOPS}, or a string saying what went wrong."""
    found = {b["op"]: b for b in lines(console, "GUNYAH-BENCH")}
    if set(found) != set(BENCH_OPS) or any(b.get("status") != "0" for b in found.values()):
        tail = console[-1500:].decode(errors="replace")
        return f"incomplete run: {sorted(found.values(), key=str)}; console ended with:\n{tail}"
    out = {op: int(found[op]["bytes"]) / 1048576 / (int(found[op]["ns"]) / 1e9) for op in ("seqwrite", "seqread")}
    out["randread"] = int(found["randread"]["ios"]) / (int(found["randread"]["ns"]) / 1e9)
    return out
