# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux guest set built from Debian packages (tools/fetch-linux-guest.sh)
and examples/linux.json, without booting anything."""
import gzip
import json
import os
import re
import struct
import subprocess
import tempfile

import linux_guest
from gunyah_harness import env_path


def test_image_is_a_raw_arm64_image(gdir):
    with open(os.path.join(gdir, "Image"), "rb") as f:
        head = f.read(64)
        size = os.fstat(f.fileno()).st_size
    assert head[:2] != b"\x1f\x8b", "Image is still gzip-compressed"
    assert head[56:60] == b"ARM\x64", f"no arm64 Image magic at offset 56: {head[56:60]!r}"
    text_offset, image_size, flags = struct.unpack_from("<QQQ", head, 8)
    assert 0 < image_size and size <= image_size, (size, image_size)
    assert flags & 0x6 != 0x6, f"Image flags 0x{flags:x}: unknown page size"


def test_version_names_the_debian_packages(gdir):
    with open(os.path.join(gdir, "VERSION")) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("linux-image-") and "-arm64-unsigned " in lines[0], lines
    assert lines[1].startswith("busybox-static "), lines
    assert lines[2].startswith("socat ") and " socat=" in lines[2] and " libc6=" in lines[2], lines


def cpio_members(gdir):
    with gzip.open(os.path.join(gdir, "initrd.gz")) as f:
        data = f.read()
    members, off = {}, 0
    while True:
        assert data[off:off + 6] == b"070701", f"not a newc cpio at {off}: {data[off:off + 6]!r}"
        fields = [int(data[off + 6 + 8 * i: off + 14 + 8 * i], 16) for i in range(13)]
        mode, filesize, namesize = fields[1], fields[6], fields[11]
        name_at = off + 110
        name = data[name_at:name_at + namesize - 1].decode()
        body_at = (name_at + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return members
        members[name] = (mode, data[body_at:body_at + filesize])
        off = (body_at + filesize + 3) & ~3


def test_initramfs_holds_init_busybox_and_the_button_modules(gdir):
    m = cpio_members(gdir)
    mode, init = m["init"]
    assert mode & 0o111, f"/init is not executable: mode {mode:o}"
    assert init.startswith(b"#!/bin/sh\n"), init[:40]
    for word in (b"GUNYAH-LINUX-MARKER cpus=", b"/proc/cpuinfo", b"gunyah.test=", b"poweroff -f",
                 b"reboot -f", b"/proc/sysrq-trigger", b"cttyhack sh"):
        assert word in init, f"/init lacks {word!r}"
    mode, busybox = m["bin/busybox"]
    # a static aarch64 ELF (e_machine 183), no interpreter needed
    assert busybox[:4] == b"\x7fELF" and struct.unpack_from("<H", busybox, 18)[0] == 183
    assert b"/lib/ld-linux" not in busybox, "busybox is dynamically linked"
    assert m["bin/sh"][0] & 0o170000 == 0o120000 and m["bin/sh"][1] == b"busybox"
    for ko in ("lib/modules/evdev.ko", "lib/modules/gpio_keys.ko"):
        assert m[ko][1][:4] == b"\x7fELF", ko


def test_fetch_is_quiet_and_idempotent_when_complete(gdir):
    before = os.stat(os.path.join(gdir, "initrd.gz")).st_mtime_ns
    p = subprocess.run(["bash", linux_guest.fetch_script(), "--print-dir"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert p.stdout == gdir + "\n"
    assert os.stat(os.path.join(gdir, "initrd.gz")).st_mtime_ns == before


def ctl(*args, image_path):
    return subprocess.run([env_path("GUNYAHCTL"), *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, GUNYAH_IMAGE_PATH=image_path))


def example():
    return os.path.join(os.environ.get("GUNYAH_EXAMPLES_DIR", os.path.join(linux_guest.SOURCE_ROOT, "examples")),
                        "linux.json")


def test_example_finds_the_guest_set_through_gunyah_image_path(gdir):
    # "linux/Image" is found in the cache's parent as written, and in the cache by file name
    for image_path in (os.path.dirname(gdir), gdir):
        p = ctl("validate", example(), image_path=image_path)
        assert p.returncode == 0, p.stderr
        d = json.loads(p.stdout)
        assert d["kernel"]["path"] == os.path.join(image_path, "linux/Image" if image_path != gdir else "Image")
        assert os.path.samefile(d["initrd"], os.path.join(gdir, "initrd.gz")), d
        assert (d["vcpus"], d["memory"]["size"]) == (2, "1G"), d
        assert d["kernel"]["cmdline"].startswith("console=ttyAMA0"), d


def test_example_devicetree_has_the_console_initrd_and_power_button(gdir):
    p = ctl("dtb", example(), image_path=gdir)
    assert p.returncode == 0, p.stderr
    dts = p.stdout
    for word in ('bootargs = "console=ttyAMA0', "linux,initrd-start", "linux,initrd-end", "stdout-path",
                 "arm,pl011", "arm,gic-v3", "arm,armv8-timer", "arm,pl061", "gpio-keys",
                 "linux,code = <0x74>", 'method = "hvc"', "cpu@1"):
        assert word in dts, f"{word!r} missing from the devicetree:\n{dts}"
    size = os.path.getsize(os.path.join(gdir, "initrd.gz"))
    start = int(dts.split("linux,initrd-start = <")[1].split(">")[0].split()[-1], 16)
    end = int(dts.split("linux,initrd-end = <")[1].split(">")[0].split()[-1], 16)
    assert end - start == size, (start, end, size)


def modinfo(ko, key):
    """A key of a module's .modinfo section ("key=value\\0" strings), '' when absent."""
    values = [m.group(1).decode() for m in re.finditer(rb"(?<=\0)" + key.encode() + rb"=([^\0]*)\0", ko)]
    return ",".join(values)


def test_initramfs_holds_the_virtio_and_ext4_modules_in_dependency_order(gdir):
    m = cpio_members(gdir)
    aliases = {}
    for name, (_, body) in m.items():
        if name.startswith("lib/modules/") and name.endswith(".ko"):
            for alias in modinfo(body, "alias").split(","):
                aliases[alias] = modinfo(body, "name")
    for group, tops in (("disk", ["virtio_mmio", "virtio_blk", "ext4", "jbd2", "mbcache", "crc16", "crc32c_generic"]),
                        ("rng", ["virtio_mmio", "virtio_rng"]),
                        ("vsock", ["virtio_mmio", "vsock", "vmw_vsock_virtio_transport"])):
        order = m[f"lib/modules/{group}.order"][1].decode().split()
        assert set(tops) <= set(order), (group, order)
        for i, name in enumerate(order):
            ko = m[f"lib/modules/{name}.ko"][1]
            assert ko[:4] == b"\x7fELF" and modinfo(ko, "name") == name, name
            # what it depends on (and its softdep pre:, by name or alias) is loaded before it
            needs = [d for d in modinfo(ko, "depends").split(",") if d]
            soft = modinfo(ko, "softdep")
            needs += [aliases.get(s, s) for s in soft.split("pre:")[1].split("post:")[0].split()] if "pre:" in soft else []
            assert all(n in order[:i] for n in needs), (group, name, needs, order)
    mode, diskbench = m["bin/diskbench"]
    assert mode & 0o111 and diskbench[:4] == b"\x7fELF" and struct.unpack_from("<H", diskbench, 18)[0] == 183


def elf_facts(body):
    """(program interpreter, DT_NEEDED names) of an ELF file's bytes, by readelf."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(body)
        f.flush()
        out = subprocess.run(["aarch64-linux-gnu-readelf", "-l", "-d", f.name], capture_output=True, text=True,
                             check=True).stdout
    interp = re.findall(r"interpreter: (\S+)\]", out)
    return (interp[0] if interp else None), re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", out)


def test_initramfs_holds_socat_and_every_library_it_needs(gdir):
    """Debian's arm64 socat, dynamically linked: its interpreter and each
    DT_NEEDED name, recursively, are files of the initramfs in a directory
    the dynamic loader searches (test_qemu_disk.py runs it)."""
    m = cpio_members(gdir)
    mode, socat = m["usr/bin/socat"]
    assert mode & 0o111 and socat[:4] == b"\x7fELF" and struct.unpack_from("<H", socat, 18)[0] == 183
    interp, needed = elf_facts(socat)
    assert interp == "/lib/ld-linux-aarch64.so.1" and m[interp[1:]][1][:4] == b"\x7fELF", interp
    assert {"libc.so.6", "libssl.so.3", "libwrap.so.0"} <= set(needed), needed
    dirs = ("lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu")
    todo, seen = list(needed), set()
    while todo:
        lib = todo.pop()
        if lib in seen:
            continue
        seen.add(lib)
        found = [d for d in dirs if f"{d}/{lib}" in m]
        assert found, f"{lib} is not in the initramfs"
        body = m[f"{found[0]}/{lib}"][1]
        assert body[:4] == b"\x7fELF", lib
        todo += elf_facts(body)[1]
    assert "libcrypto.so.3" in seen, seen
