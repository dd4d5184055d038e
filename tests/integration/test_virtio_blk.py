# SPDX-License-Identifier: LGPL-2.1-or-later
"""virtio-blk on gunyahd with the simulator (issue 12), driven by the
bare-metal guest tests/guests/blk.c: every feature bit and request status
against images made here, malformed descriptor chains (DEVICE_NEEDS_RESET,
logged once, the VM goes on), the lend + swiotlb path with rings and
buffers in the pool, image locking between VMs, a killed device process,
and the spec a lent VM without a pool needs."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import dbus
import pytest

from gunyah_harness import guest_path, spec

START = 2
SECTOR = 512
IMAGE_SECTORS = 2048            # 1 MiB
IO_SECTORS = 8
WRITE_SECTOR, ZERO_SECTOR, DISCARD_SECTOR, LENT_SECTOR = 8, 16, 24, 40
SECRET = 0xc5

VERSION_1, SEG_MAX, RO, BLK_SIZE, FLUSH, DISCARD, WRITE_ZEROES = 32, 2, 5, 6, 9, 13, 14
OK, IOERR, UNSUPP = "0", "1", "2"
NEEDS_RESET = 0x40

LINE = re.compile(r"^blk: disk=(\d+) op=(\S+)((?: [a-z_0-9]+=\S*)*)\r?$", re.M)


def bits(*numbers):
    return sum(1 << n for n in numbers)


OFFER_RW = bits(VERSION_1, SEG_MAX, BLK_SIZE, FLUSH, DISCARD, WRITE_ZEROES)
OFFER_RO = bits(VERSION_1, SEG_MAX, BLK_SIZE, FLUSH, RO)


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def pattern(disk, sector):
    """What blk.c writes into sector of disk (its pattern())."""
    return bytes((sector * 13 + j * 7 + disk * 101 + 1) & 0xff for j in range(SECTOR))


def make_image(path, seed):
    data = random.Random(seed).randbytes(IMAGE_SECTORS * SECTOR)
    with open(path, "wb") as f:
        f.write(data)
    return data


def read_image(path):
    with open(path, "rb") as f:
        return f.read()


def sectors(data, first, count=IO_SECTORS):
    return data[first * SECTOR:(first + count) * SECTOR]


def steps(console):
    """The guest's "blk: disk=K op=OP k=v..." lines as (disk, op, {k: v}), in order."""
    text = console.decode(errors="replace")
    return [(int(m.group(1)), m.group(2), dict(w.split("=", 1) for w in m.group(3).split()))
            for m in LINE.finditer(text)]


def step(console, disk, op, **match):
    """The one step of that disk and op (whose keys equal match)."""
    found = [kv for d, o, kv in steps(console) if d == disk and o == op
             and all(kv.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (disk, op, match, console.decode(errors="replace"))
    return found[0]


def blk_spec(name, disks, cmdline="", memory=None, guest="blk"):
    d = spec(name, guest)
    d["memory"] = memory or {"size": "64M", "mode": "share"}
    d["disks"] = disks
    # The disks are the only devices (rng is on by default where devices
    # can run): blk.c drives every virtio,mmio node as a disk, and the
    # tests count and kill device processes.
    d["rng"] = False
    if cmdline:
        d["kernel"]["cmdline"] = cmdline
    return json.dumps(d)


def run_to_poweroff(gd, name, *args, timeout=60):
    gd.manager().CreateVM(blk_spec(name, *args), dbus.UInt64(START))
    state = gd.wait_state(name, "stopped", timeout=timeout)
    console = gd.console_log(name)
    assert state == ("stopped", "poweroff"), (state, console.decode(errors="replace"), gd.read_log()[-4000:])
    assert console.endswith(b"blk: done\n"), console.decode(errors="replace")
    return console


def count(log, vm, disk, what):
    """How often the daemon logged that the guest drove disk of vm wrong with what."""
    return log.count(f"VM {vm}: device {disk}: the guest drove it wrong: {what}")


MALFORMED = "a malformed descriptor chain or ring: device needs reset"
QUEUE_SETUP = "queue 0 rings outside reachable memory or bad size: device needs reset"
REQUEST_IOERR = "a request out of range or malformed (IOERR)"
REQUEST_UNSUPP = "a request of an unsupported type (UNSUPP)"


def check_requests(console, disk, image_before, image_after, readonly, serial, ours=True):
    """The request suite of blk.c on one disk: what the guest saw and what
    the image holds afterwards. ours=False: only what any virtio-blk device
    does (QEMU's offers more, and is laxer, than gunyah-device)."""
    probe = step(console, disk, "probe")
    assert (probe["capacity"], probe["blk_size"]) == (str(IMAGE_SECTORS), "512"), probe
    init = step(console, disk, "init")
    assert init["result"] == "0", init
    assert int(init["features"], 16) == int(probe["features"], 16) & (OFFER_RW | OFFER_RO), (probe, init)
    if ours:
        assert int(probe["features"], 16) == (OFFER_RO if readonly else OFFER_RW), probe
        assert probe["vendor"] == "0x4e594753", probe          # "SGYN", not QEMU's
        assert probe["seg_max"] == "126", probe
        # FEATURES_OK refused without VERSION_1 and with a bit not offered
        assert step(console, disk, "no-version-1")["features_ok"] == "0"
        assert step(console, disk, "unoffered-bit")["features_ok"] == "0"
        assert step(console, disk, "init-version-1")["result"] == "0"
        assert step(console, disk, "write-zeroes-unnegotiated")["status"] == UNSUPP

    assert step(console, disk, "get-id") == {"sector": "0", "len": "20", "status": OK, "serial": serial}
    assert int(step(console, disk, "read")["fnv"], 16) == fnv1a(sectors(image_before, 0))
    assert step(console, disk, "flush")["status"] == OK
    for op in ("read-past-end", "read-across-end"):
        assert step(console, disk, op)["status"] == IOERR, op
    assert step(console, disk, "unknown-type")["status"] == UNSUPP
    # one request with as many data segments as SEG_MAX allows
    split = step(console, disk, "read-seg-max")
    assert split["status"] == OK and int(split["fnv"], 16) == fnv1a(sectors(image_before, 0)), split
    if ours:
        assert split["segments"] == "126", split

    if readonly:
        assert step(console, disk, "write")["status"] == IOERR
        assert image_after == image_before, "the read-only image changed"
        if ours:
            assert step(console, disk, "write-zeroes")["status"] == UNSUPP    # not offered
            assert step(console, disk, "discard")["status"] == UNSUPP
            assert step(console, disk, "read-zeroed")["zero"] == "0"
        return
    assert step(console, disk, "write")["status"] == OK
    assert step(console, disk, "read-back")["match"] == "1"
    assert step(console, disk, "write-zeroes")["status"] == OK
    assert step(console, disk, "read-zeroed")["zero"] == "1"
    assert step(console, disk, "discard")["status"] == OK
    written = b"".join(pattern(disk, s) for s in range(WRITE_SECTOR, WRITE_SECTOR + IO_SECTORS))
    assert sectors(image_after, WRITE_SECTOR) == written
    assert sectors(image_after, ZERO_SECTOR) == bytes(IO_SECTORS * SECTOR)
    # a discard may leave the data or zeros (a hole), nothing else
    assert sectors(image_after, DISCARD_SECTOR) in (sectors(image_before, DISCARD_SECTOR), bytes(IO_SECTORS * SECTOR))
    # and nothing outside what the guest wrote changed
    assert image_after[:WRITE_SECTOR * SECTOR] == image_before[:WRITE_SECTOR * SECTOR]
    end = (DISCARD_SECTOR + IO_SECTORS) * SECTOR
    assert image_after[end:] == image_before[end:]


def check_malformed(console, image, cases):
    """blk.c's malformed chains on disk 0: each leaves DEVICE_NEEDS_RESET,
    and a reset and re-init afterwards reads sector 0 right."""
    for name in cases:
        case = step(console, 0, "case", name=name)
        assert case["needs_reset"] == "1" and int(case["device_status"], 16) & NEEDS_RESET, case
        # a request never completes: the guest's wait ends on the status bit
        assert case.get("status", "needs_reset") == "needs_reset", case
        again = step(console, 0, "recover", after=name)
        assert (again["init"], again["status"]) == ("0", OK), again
        assert int(again["fnv"], 16) == fnv1a(image[:SECTOR]), again
    # a queue size of 6: QueueReady reads back 0 (vblk_init's -4)
    assert step(console, 0, "case", name="queue-size-6")["init"] == "4"
    assert step(console, 0, "case", name="rings-outside")["init"] == "0"


def test_requests_and_features_on_a_writable_and_a_read_only_disk(gd, tmp_path):
    rw, ro = str(tmp_path / "rw.img"), str(tmp_path / "ro.img")
    rw_before, ro_before = make_image(rw, 1), make_image(ro, 2)
    console = run_to_poweroff(gd, "io", [{"path": rw, "serial": "data0"},
                                         {"path": ro, "readonly": True, "serial": "ro-serial-20-bytes!!"}],
                              "test=io")
    assert console.startswith(b"blk: transports=2 dma=0x80030000 pool=0 irq=0\n"), console
    check_requests(console, 0, rw_before, read_image(rw), False, "data0")
    check_requests(console, 1, ro_before, read_image(ro), True, "ro-serial-20-bytes!!")
    # each disk's device says each kind of guest error once, however often it happened
    log = gd.read_log()
    for disk in ("disk0", "disk1"):
        assert count(log, "io", disk, REQUEST_IOERR) == 1, log
        assert count(log, "io", disk, REQUEST_UNSUPP) == 1, log


@pytest.mark.skipif(not shutil.which("qemu-system-aarch64"), reason="qemu-system-aarch64 is not installed")
def test_the_driver_on_qemu_as_the_reference(tmp_path):
    """The same guest and images on QEMU's virtio-blk-device (virtio-mmio
    version 2), with interrupts: proves the guest's expectations are virtio
    semantics, not our device's habits."""
    rw, ro = str(tmp_path / "rw.img"), str(tmp_path / "ro.img")
    rw_before, ro_before = make_image(rw, 1), make_image(ro, 2)
    p = subprocess.run(["qemu-system-aarch64", "-M", "virt,gic-version=3", "-cpu", "cortex-a57", "-m", "2G",
                        "-nic", "none", "-display", "none", "-monitor", "none", "-serial", "stdio",
                        "-kernel", guest_path("blk"), "-append", "test=io irq=1",
                        "-global", "virtio-mmio.force-legacy=false",
                        "-drive", f"file={rw},if=none,id=d0,format=raw",
                        "-device", "virtio-blk-device,drive=d0,serial=data0",
                        "-drive", f"file={ro},if=none,id=d1,format=raw,readonly=on",
                        "-device", "virtio-blk-device,drive=d1,serial=ro0"],
                       capture_output=True, timeout=120)
    console = p.stdout
    assert p.returncode == 0 and console.endswith(b"blk: done\n"), (p.returncode, console, p.stderr)
    # QEMU lists its transports in its own order: the serials say which is which
    disk = {kv["serial"]: d for d, op, kv in steps(console) if op == "get-id"}
    check_requests(console, disk["data0"], rw_before, read_image(rw), False, "data0", ours=False)
    check_requests(console, disk["ro0"], ro_before, read_image(ro), True, "ro0", ours=False)
    irqs = re.search(rb"^blk: irqs vring=(\d+) config=0$", console, re.M)
    assert irqs and int(irqs.group(1)) > 0, console


def test_malformed_chains_need_reset_once_logged_and_the_vm_goes_on(gd, tmp_path):
    rw = str(tmp_path / "rw.img")
    before = make_image(rw, 3)
    console = run_to_poweroff(gd, "bad", [{"path": rw}], "test=malformed")
    check_malformed(console, before, ("outside", "dtb-window", "loop", "seg-max-exceeded", "queue-size-6",
                                      "rings-outside"))
    # the writes whose data lay past the end of RAM and in the DTB wrote nothing
    assert read_image(rw) == before
    # four malformed chains, two bad queue setups: one line each for the VM
    log = gd.read_log()
    assert count(log, "bad", "disk0", MALFORMED) == 1, log
    assert count(log, "bad", "disk0", QUEUE_SETUP) == 1, log
    # and the device process lived on: no failure, only the VM's poweroff
    assert not re.search(r"device disk0 \(pid \d+\) (killed|exited with status [1-9])", log), log


def test_lend_with_swiotlb_keeps_rings_and_buffers_in_the_pool(gd, tmp_path):
    """RAM lent, 4 MiB at its top shared: the driver works from the pool
    with interrupt-driven completions; descriptors into lent RAM are
    refused without being read or written."""
    rw = str(tmp_path / "rw.img")
    before = make_image(rw, 4)
    console = run_to_poweroff(gd, "lend", [{"path": rw, "serial": "pool"}], "test=all irq=1",
                              {"size": "64M", "mode": "lend", "swiotlb": "4M"})
    # the pool is the top 4 MiB of the 64 MiB at 0x80000000, from /reserved-memory
    assert console.startswith(b"blk: transports=1 dma=0x83c00000 pool=1 irq=1\n"), console
    after = read_image(rw)
    check_requests(console, 0, before, after, False, "pool")
    check_malformed(console, before, ("lent-write-source", "lent-read-target", "loop", "seg-max-exceeded",
                                      "queue-size-6", "rings-outside"))
    # the device neither wrote the lent buffer nor took its bytes to the disk
    assert step(console, 0, "lent-intact")["intact"] == "1"
    assert step(console, 0, "lent-sector")["secret"] == "0"
    assert sectors(after, LENT_SECTOR, 1) == sectors(before, LENT_SECTOR, 1) != bytes([SECRET]) * SECTOR
    # four malformed chains, said once
    assert count(gd.read_log(), "lend", "disk0", MALFORMED) == 1, gd.read_log()
    # every completion the guest saw came with the used-ring interrupt,
    # every wait for a NEEDS_RESET ended with the config interrupt
    # (a config interrupt that comes after the guest saw the bit and reset
    # finds InterruptStatus clear: only the three waited for are certain)
    answered = sum(1 for _, _, kv in steps(console) if kv.get("status", "x").isdigit()) \
        + len([1 for _, op, _ in steps(console) if op == "lent-sector"])
    irqs = re.search(rb"^blk: irqs vring=(\d+) config=(\d+)$", console, re.M)
    assert irqs and int(irqs.group(1)) == answered, (answered, console.decode())
    assert int(irqs.group(2)) >= 3, console.decode()


def start_idle(gd, name, disks):
    """Starts the idle guest with disks; the PID of its one device process."""
    gd.manager().CreateVM(blk_spec(name, disks, guest="idle"), dbus.UInt64(START))
    gd.wait_state(name, "running")
    # spawned, maybe not yet exec'd: until then it has the daemon's command line
    deadline = time.monotonic() + 10
    while not (pids := gd.device_pids(name)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pids) == 1, pids
    return pids[0]


def test_a_writable_image_serves_one_running_vm(gd, tmp_path):
    img, shared = str(tmp_path / "rw.img"), str(tmp_path / "shared.img")
    make_image(img, 5)
    make_image(shared, 6)
    first = start_idle(gd, "first", [{"path": img}])

    for name, readonly in (("second", False), ("reader", True)):
        # the disk list names another image first: its lock must not stay behind
        gd.manager().CreateVM(blk_spec(name, [{"path": shared}, {"path": img, "readonly": readonly}],
                                       guest="idle"), dbus.UInt64(0))
        with pytest.raises(dbus.DBusException) as e:
            gd.vm(name).Start()
        message = e.value.get_dbus_message()
        assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.StartFailed", e.value
        assert f"disks[1] {img}: in use by another running VM" in message, message
        # nothing half-started: no device, no worker, the VM failed saying why
        assert gd.device_pids(name) == []
        assert f"VM {name}: device disk" not in gd.read_log(), gd.read_log()
        state, reason = gd.state(name)
        assert state == "failed" and img in reason, (state, reason)
        assert list(gd.vm_props(name)["WorkerPIDs"]) == []
    # the first VM is untouched
    assert gd.state("first") == ("running", "start") and gd.device_pids("first") == [first]
    # shared.img was let go: another VM can have it for writing
    start_idle(gd, "takes-shared", [{"path": shared}])


def test_a_read_only_image_serves_several_vms(gd, tmp_path):
    img = str(tmp_path / "ro.img")
    before = make_image(img, 7)
    pids = [start_idle(gd, name, [{"path": img, "readonly": True}]) for name in ("ro1", "ro2")]
    assert len(set(pids)) == 2
    # while readers hold it, no VM may write it
    gd.manager().CreateVM(blk_spec("writer", [{"path": img}], guest="idle"), dbus.UInt64(0))
    with pytest.raises(dbus.DBusException) as e:
        gd.vm("writer").Start()
    assert f"{img}: in use by another running VM" in e.value.get_dbus_message()
    assert gd.device_pids("writer") == []
    assert read_image(img) == before


def test_kill9_of_a_device_process_ends_its_vm_worker_failed(gd, tmp_path):
    victim_img, other_img = str(tmp_path / "victim.img"), str(tmp_path / "other.img")
    make_image(victim_img, 8)
    make_image(other_img, 9)
    victim = start_idle(gd, "victim", [{"path": victim_img}])
    other = start_idle(gd, "other", [{"path": other_img}])

    os.kill(victim, signal.SIGKILL)
    state = gd.wait_state("victim", ("stopped", "failed"))
    assert state == ("stopped", "worker-failed: device disk0 (virtio-blk at 0xa000000) killed by SIGKILL"), state
    assert list(gd.vm_props("victim")["WorkerPIDs"]) == []
    # the daemon and the other VM go on
    assert gd.proc.poll() is None
    assert gd.state("other") == ("running", "start") and gd.device_pids("other") == [other]
    # the victim's image lock went with it: the VM starts again
    gd.vm("victim").Start()
    gd.wait_state("victim", "running")
    assert len(gd.device_pids("victim")) == 1


def test_disks_in_a_lent_vm_need_a_pool_or_shared_memory(gd, tmp_path):
    img = str(tmp_path / "rw.img")
    make_image(img, 10)
    with pytest.raises(dbus.DBusException) as e:
        gd.manager().CreateVM(blk_spec("nopool", [{"path": img}], memory={"size": "64M", "mode": "lend"}),
                              dbus.UInt64(0))
    message = e.value.get_dbus_message()
    assert e.value.get_dbus_name() == "org.gunyah.Manager1.Error.InvalidSpec", e.value
    assert 'set memory.mode to "share"' in message and "set memory.swiotlb" in message, message
    with pytest.raises(dbus.DBusException):
        gd.vm("nopool")
