# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page against a real gunyahd, in headless Chromium."""
import json
import time

from gunyah_harness import spec_json


def create(gd, name, guest, flags=0):
    return gd.manager().CreateVM(spec_json(name, guest), flags)


def test_vm_created_over_the_api_appears_within_a_second(stack, page):
    start = time.monotonic()
    create(stack.daemon, "appears", "hello")
    page.wait(lambda: page.find_all(page.row("appears")), 1.0, "the VM created over D-Bus is not listed")
    elapsed = time.monotonic() - start
    row = page.row("appears")
    assert page.text(row + " .gy-state") == "defined"
    assert page.text(row + " .vm-vcpus") == "1"
    assert page.text(row + " .vm-memory") == "64 MiB"
    page.screenshot("list-created")
    print(f"listed {elapsed:.3f}s after CreateVM")
