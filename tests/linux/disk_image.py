#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Disk images for the Linux guest's gunyah.test=disk and gunyah.test=bench
modes (tests/guests/linux/init), made without root: mke2fs -d (e2fsprogs)
copies a directory into a new ext4 image; debugfs and e2fsck read it back.

As a program: disk_image.py ext4 IMAGE [MIB]   an ext4 image holding /known.bin,
                                               prints known.bin's sha256
              disk_image.py blank IMAGE MIB    a sparse blank image (bench)
              disk_image.py cat IMAGE PATH     a file of an ext4 image on stdout
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

KNOWN = "/known.bin"
WRITTEN = "/written.txt"
# Not a multiple of the 4 KiB block: the last block is partial.
KNOWN_SIZE = 1024 * 1024 + 123


def known_content():
    """KNOWN_SIZE pseudo-random bytes, the same on every run (a sha256 chain)."""
    out, block = bytearray(), b"gunyah-known"
    while len(out) < KNOWN_SIZE:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:KNOWN_SIZE])


def written_content():
    """What the guest writes to /written.txt: busybox `seq 1 50000`."""
    return "".join(f"{i}\n" for i in range(1, 50001)).encode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tool(name):
    """e2fsprogs lives in /sbin, which a user's PATH may lack."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        raise FileNotFoundError(f"{name} not found (e2fsprogs; tools/setup.sh installs it)")
    return found


def make_ext4(path, mib=64, label="gunyah-data"):
    """An ext4 image of MIB MiB at path holding /known.bin; returns its sha256."""
    data = known_content()
    with tempfile.TemporaryDirectory(prefix="gunyah-disk-") as top:
        with open(os.path.join(top, KNOWN.lstrip("/")), "wb") as f:
            f.write(data)
        if os.path.exists(path):
            os.unlink(path)
        subprocess.run([tool("mke2fs"), "-q", "-F", "-t", "ext4", "-L", label, "-E", "root_owner=0:0",
                        "-d", top, path, f"{mib}M"], check=True, capture_output=True, timeout=120)
    return sha256(data)


def make_blank(path, mib):
    """A sparse raw image of MIB MiB."""
    with open(path, "wb") as f:
        f.truncate(mib * 1024 * 1024)


# What e2fsck -fy may say about an ext4 image the guest synced and powered off
# without unmounting: the journal is replayed, and the superblock's free
# counts, which ext4 keeps only approximately while mounted, are set right.
E2FSCK_BENIGN = re.compile(r"e2fsck [\d.]+ \(.*\)|.*: recovering journal|Pass \d[a-z]?: .*|Free (blocks|inodes) count wrong "
                           r"\(\d+, counted=\d+\)\.|Fix\? yes||.*: \*+ FILE SYSTEM WAS MODIFIED \*+|"
                           r".*: \d+/\d+ files .*, \d+/\d+ blocks")


def recover(path):
    """Replays the journal as the next mount would (e2fsck -fy) and checks the
    file system; raises when e2fsck says anything beyond E2FSCK_BENIGN or the
    image is not clean afterwards (e2fsck -fn). Returns e2fsck's output."""
    p = subprocess.run([tool("e2fsck"), "-fy", path], capture_output=True, text=True, timeout=120)
    said = p.stdout + p.stderr
    odd = [line for line in said.splitlines() if not E2FSCK_BENIGN.fullmatch(line)]
    if p.returncode not in (0, 1) or odd:
        raise RuntimeError(f"e2fsck -fy {path} exited {p.returncode}, saying {odd}:\n{said}")
    q = subprocess.run([tool("e2fsck"), "-fn", path], capture_output=True, text=True, timeout=120)
    if q.returncode != 0:
        raise RuntimeError(f"{path} is not clean after its journal was replayed (e2fsck -fn: {q.returncode}):\n"
                           f"{q.stdout}{q.stderr}")
    return said + q.stdout


def cat(path, name):
    """The bytes of file `name` in the ext4 image at path (debugfs, no mount)."""
    p = subprocess.run([tool("debugfs"), "-R", f"cat {name}", path], capture_output=True, timeout=120)
    # debugfs exits 0 when the file is missing, saying so on stderr
    if p.returncode != 0 or f"{name}: ".encode() in p.stderr:
        raise RuntimeError(f"debugfs -R 'cat {name}' {path}: {p.stderr.decode(errors='replace')}")
    return p.stdout


def main(argv):
    if len(argv) >= 2 and argv[0] == "ext4":
        print(make_ext4(argv[1], *(int(a) for a in argv[2:3])))
    elif len(argv) == 3 and argv[0] == "blank":
        make_blank(argv[1], int(argv[2]))
    elif len(argv) == 3 and argv[0] == "cat":
        sys.stdout.buffer.write(cat(argv[1], argv[2]))
    else:
        sys.exit(__doc__.split("As a program: ")[1])


if __name__ == "__main__":
    main(sys.argv[1:])
